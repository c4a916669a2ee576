"""`common/array_length`: the number of items in an array (docs/flows.md §10.4)."""

from __future__ import annotations

import json

from flomation.executor.accessors import find_input
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.common._json_values import preview
from flomation.executor.gojson import json_type_name

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="common/array_length",
    name="Array Length",
    description="Count the items in an array",
    icon="list-ol",
    inputs=(Connection("array", "object", "Array", required=True),),
    outputs=(
        Connection("tool_result", "string", "Result"),
        Connection("length", "integer", "Length"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
)


def _failure(tool_result: str, error: str) -> Outputs:
    return {"tool_result": tool_result, "length": 0, "success": False, "error": error}


def run(ctx: ActionContext) -> Outputs:
    """The length of a list or of a JSON list held in a string; anything else fails softly."""
    item = find_input(ctx.inputs, "array")
    value = None if item is None else item.value
    if value is None:
        return _failure("No array provided", "array is required")
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, list):
            return _failure(f"Value is not an array: {preview(text)}", "input is not an array")
    if not isinstance(value, list):
        kind = json_type_name(value)
        return _failure(f"Unsupported type: {kind}", f"expected array, got {kind}")
    return {"tool_result": str(len(value)), "length": len(value), "success": True, "error": ""}
