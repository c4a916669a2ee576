"""`common/array_index`: the item at an index of an array (docs/flows.md §10.4)."""

from __future__ import annotations

from flomation.executor.accessors import find_input, read_number
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.common._json_values import NotAContainer, as_array
from flomation.executor.gojson import go_json

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="common/array_index",
    name="Array Index",
    description="Get the item at an index of an array (negative indexes count from the end)",
    icon="list-ol",
    inputs=(
        Connection("array", "object", "Array", required=True),
        Connection("index", "integer", "Index (0-based)", placeholder="0", required=True),
    ),
    outputs=(
        Connection("tool_result", "string", "Result"),
        Connection("item", "object", "Item"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
)


def _failure(message: str) -> Outputs:
    return {"tool_result": message, "item": None, "success": False, "error": message}


def run(ctx: ActionContext) -> Outputs:
    """The item and its Go-JSON text; problems are soft failures with ``item: null``."""
    item = find_input(ctx.inputs, "array")
    if item is None or item.value is None:
        return _failure("array is required")
    index = read_number(ctx.inputs, "index")
    if index is None:
        return _failure("index is required")
    try:
        array = as_array(item.value)
    except NotAContainer as problem:
        return _failure(str(problem))
    position = index + len(array) if index < 0 else index
    if not 0 <= position < len(array):
        return _failure(f"index {position} out of range (array has {len(array)} items)")
    return {
        "tool_result": go_json(array[position]),
        "item": array[position],
        "success": True,
        "error": "",
    }
