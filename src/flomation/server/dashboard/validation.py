"""Problems with a flow shown on its page before anyone runs it.

This is the dashboard's one hook for flow validation: today it asks the executor's own parser
(``flomation.executor.flow.parse_flow``, the check every run goes through first), so the page
shows exactly the error a run would fail with. A fuller validator (unknown actions, dangling
edges, missing inputs) plugs in here and nowhere else: return its problems as the list.
"""

from __future__ import annotations

import json
from typing import Any

from flomation.executor.flow import FlowError, parse_flow

__all__ = ["flow_problems", "trigger_data_problem"]


def flow_problems(document: Any) -> list[str]:
    """What would stop this flow document from running (empty when nothing is known)."""
    if document is None:
        return ["the flow has no revision"]
    try:
        flow = parse_flow(json.dumps(document))
    except FlowError as exc:
        return [str(exc)]
    if not flow.nodes:
        return ["the flow has no nodes"]
    return []


def trigger_data_problem(text: str) -> tuple[Any, str | None]:
    """Trigger data from the run form: ``(data, None)``, or ``(None, why it is unusable)``."""
    if not text.strip():
        return {}, None
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"trigger data is not valid JSON: {exc}"
    if not isinstance(data, dict):
        return None, 'trigger data must be a JSON object, e.g. {"name": "value"}'
    return data, None
