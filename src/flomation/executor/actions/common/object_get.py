"""`common/object_get`: read a field of an object by dot path (docs/flows.md §10.4)."""

from __future__ import annotations

from typing import Any

from flomation.executor.accessors import find_input, read_string
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.common._json_values import NotAContainer, as_object
from flomation.executor.gojson import go_json

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="common/object_get",
    name="Object Get",
    description="Read a field from an object by its dot path",
    icon="magnifying-glass",
    inputs=(
        Connection("object", "object", "Object", required=True),
        Connection("field", "string", "Field Path", placeholder="user.address.city", required=True),
    ),
    outputs=(
        Connection("tool_result", "string", "Result"),
        Connection("value", "object", "Value"),
        Connection("value_string", "string", "Value as Text"),
        Connection("found", "boolean", "Found"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
)

_MISSING = object()


def _failure(message: str) -> Outputs:
    return {
        "tool_result": message,
        "value": None,
        "value_string": "",
        "found": False,
        "success": False,
        "error": message,
    }


def _walk(current: Any, path: str) -> Any:
    """The value at a dot path through objects, or _MISSING."""
    for segment in path.split("."):
        if not isinstance(current, dict) or segment not in current:
            return _MISSING
        current = current[segment]
    return current


def run(ctx: ActionContext) -> Outputs:
    """The field's value and its text; not found is a success with ``found: false``."""
    item = find_input(ctx.inputs, "object")
    if item is None or item.value is None:
        return _failure("object is required")
    field = read_string(ctx.inputs, "field") or ""
    if not field:
        return _failure("field is required")
    try:
        document = as_object(item.value)
    except NotAContainer as problem:
        return _failure(str(problem))
    value = _walk(document, field)
    if value is _MISSING:
        return {
            "tool_result": f"field '{field}' not found",
            "value": None,
            "value_string": "",
            "found": False,
            "success": True,
            "error": "",
        }
    text = value if isinstance(value, str) else go_json(value)
    return {
        "tool_result": text,
        "value": value,
        "value_string": text,
        "found": True,
        "success": True,
        "error": "",
    }
