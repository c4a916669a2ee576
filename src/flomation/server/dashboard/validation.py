"""Problems with a flow, shown on its page before anyone runs it, and the run form's data.

The problems come from the flow validator (``flomation.executor.validation``, the checks of
``flomation-runner validate``, rules in docs/flows.md) over the newest revision, pretty-printed so
that line numbers point into the JSON the page shows.
"""

from __future__ import annotations

import json
from typing import Any

from flomation.executor.validation import Problem, validate_flow

__all__ = ["flow_json", "flow_problems", "trigger_data_problem"]


def flow_json(document: Any) -> str:
    """The flow document as the page shows it (and as the validator's line numbers count)."""
    return json.dumps(document, indent=2, ensure_ascii=False)


def flow_problems(document: Any) -> list[Problem]:
    """Errors and warnings of a flow document, in document order (empty: nothing found)."""
    if document is None:
        return [Problem("error", "the flow has no revision")]
    return validate_flow(flow_json(document))


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
