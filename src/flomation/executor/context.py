"""The execution context (``context.json``, docs/flows.md §11.2), ``${flow.*}`` and ``${user.*}``.

Only the names listed in §11.2 are exposed through ``${flow.NAME}``; everything else (including
``api_url``, ``token`` and ``system_flow``) reads as ``""``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flomation.executor.gojson import go_json, go_json_fields

__all__ = ["FLOW_FIELDS", "ContextError", "ExecutionContext", "load_context"]

_EXPOSED_STRINGS = frozenset(
    {
        "flow_id",
        "execution_id",
        "author_id",
        "organisation_id",
        "runner_id",
        "start_time",
        "trigger_type",
        "author_email",
        "triggerer_email",
        "system_prompt",
        "agent_id",
        "agent_user_id",
        "plan_task_id",
        "user_id",
        "conversation_id",
        "trigger_source",
        "channel_type",
        "channel_id",
        "thread_id",
        "page_access_token",
        "role",
    }
)
_IDENTITY_FIELDS = ("channel_type", "external_id", "display_name")
# Every name ``${flow.NAME}`` can read (validation warns about any other).
FLOW_FIELDS = _EXPOSED_STRINGS | {"sequence", "identities"}


class ContextError(Exception):
    """The context file cannot be read or is not a JSON object."""


class ExecutionContext:
    """Read-only view of a parsed ``context.json``."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = dict(fields)
        if not self._text("start_time"):
            now = datetime.now(UTC).replace(microsecond=0)
            self._fields["start_time"] = now.isoformat().replace("+00:00", "Z")

    def _text(self, name: str) -> str:
        value = self._fields.get(name)
        return value if isinstance(value, str) else ""

    @property
    def channel_type(self) -> str:
        """The triggering channel type (``twilio_voice`` changes the final status, §4.11)."""
        return self._text("channel_type")

    def flow_value(self, name: str) -> str:
        """``${flow.NAME}``: the field's text, ``""`` for missing or unexposed names."""
        if name in _EXPOSED_STRINGS:
            return self._text(name)
        if name == "sequence":
            sequence = self._fields.get("sequence")
            if isinstance(sequence, bool) or not isinstance(sequence, int | float):
                return "0"
            return str(int(sequence))
        if name == "identities":
            return self._identities_json()
        return ""

    def _identities_json(self) -> str:
        identities = self._fields.get("identities")
        if not isinstance(identities, list):
            return "[]"
        rendered = [
            go_json_fields(
                (key, item.get(key) if isinstance(item.get(key), str) else "")
                for key in _IDENTITY_FIELDS
            )
            for item in identities
            if isinstance(item, dict)
        ]
        return "[" + ",".join(rendered) + "]"

    def user_value(self, name: str) -> str:
        """``${user.NAME}``: the rendered user variable, ``""`` when missing."""
        variables = self._fields.get("user_variables")
        if not isinstance(variables, dict):
            return ""
        value = variables.get(name)
        if value is None:
            return ""
        return value if isinstance(value, str) else go_json(value)


def load_context(path: Path) -> ExecutionContext:
    """Read ``context.json``; ContextError when unreadable or not a JSON object."""
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        raise ContextError(str(error)) from error
    if not isinstance(document, dict):
        raise ContextError("context must be a JSON object")
    return ExecutionContext(document)
