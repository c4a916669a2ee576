"""`common/array_find`: pick array items by index or by matching a field (docs/flows.md §10.4)."""

from __future__ import annotations

from typing import Any

from flomation.executor.accessors import find_input, read_number, read_string
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.common._json_values import NotAContainer, as_array
from flomation.executor.gojson import go_json, go_text

__all__ = ["SPEC", "run"]

_MATCH_MODES = ("first", "all")
_VISIBLE_IN_MATCH_MODES = {"field": "mode", "values": list(_MATCH_MODES)}


def _option(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


SPEC = ActionSpec(
    id="common/array_find",
    name="Array Find",
    description="Find an item in an array by index or by matching a field value",
    icon="magnifying-glass",
    inputs=(
        Connection("array", "object", "Array", required=True),
        Connection(
            "mode",
            "string",
            "Find Mode",
            required=True,
            options=(
                _option("By Index", "index"),
                _option("First Match", "first"),
                _option("All Matches", "all"),
            ),
            default="index",
        ),
        Connection(
            "index",
            "integer",
            "Index (0-based, negative counts from the end)",
            placeholder="0",
            visible_when={"field": "mode", "values": ["index"]},
        ),
        Connection(
            "field", "string", "Field Name", placeholder="id", visible_when=_VISIBLE_IN_MATCH_MODES
        ),
        Connection(
            "operator",
            "string",
            "Operator",
            options=(
                _option("Equals", "equals"),
                _option("Not Equals", "not_equals"),
                _option("Contains", "contains"),
                _option("Starts With", "starts_with"),
                _option("Ends With", "ends_with"),
            ),
            visible_when=_VISIBLE_IN_MATCH_MODES,
        ),
        Connection(
            "value",
            "string",
            "Match Value",
            placeholder="Value to match against",
            visible_when=_VISIBLE_IN_MATCH_MODES,
        ),
    ),
    outputs=(
        Connection("tool_result", "string", "Result"),
        Connection("item", "object", "Matched Item (first or index)"),
        Connection("items", "object", "All Matched Items (array)"),
        Connection("count", "integer", "Match Count"),
        Connection("found", "boolean", "Found"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
)


def _failure(message: str) -> Outputs:
    return {
        "tool_result": message,
        "item": None,
        "items": [],
        "count": 0,
        "found": False,
        "success": False,
        "error": message,
    }


def _found(tool_result: str, items: list[Any]) -> Outputs:
    return {
        "tool_result": tool_result,
        "item": items[0],
        "items": items,
        "count": len(items),
        "found": True,
        "success": True,
        "error": "",
    }


def _matches(text: str, operator: str, wanted: str) -> bool:
    if operator == "not_equals":
        return text != wanted
    if operator == "contains":
        return wanted.lower() in text.lower()
    if operator == "starts_with":
        return text.lower().startswith(wanted.lower())
    if operator == "ends_with":
        return text.lower().endswith(wanted.lower())
    return text == wanted  # "equals", and any unknown operator


def _by_index(ctx: ActionContext, array: list[Any]) -> Outputs:
    index = read_number(ctx.inputs, "index")
    if index is None:
        return _failure("index is required in index mode")
    position = index + len(array) if index < 0 else index
    if not 0 <= position < len(array):
        return _failure(f"index {position} out of range (array has {len(array)} items)")
    return _found(go_json(array[position]), [array[position]])


def _by_match(ctx: ActionContext, array: list[Any], every: bool) -> Outputs:
    field = read_string(ctx.inputs, "field") or ""
    if not field:
        return _failure("field is required for match mode")
    operator = read_string(ctx.inputs, "operator") or "equals"
    wanted = read_string(ctx.inputs, "value") or ""
    matched: list[Any] = []
    for element in array:
        # Only objects can match; a missing field compares as Go's "<nil>".
        if isinstance(element, dict) and _matches(go_text(element.get(field)), operator, wanted):
            matched.append(element)
            if not every:
                break
    if not matched:
        return {
            "tool_result": f"No items matched {field} {operator} '{wanted}'",
            "item": None,
            "items": [],
            "count": 0,
            "found": False,
            "success": True,
            "error": "",
        }
    return _found(f"Found {len(matched)} matches" if every else go_json(matched[0]), matched)


def run(ctx: ActionContext) -> Outputs:
    """Index mode (default) or first/all match mode; problems are soft failures."""
    item = find_input(ctx.inputs, "array")
    if item is None or item.value is None:
        return _failure("array is required")
    try:
        array = as_array(item.value)
    except NotAContainer as problem:
        return _failure(str(problem))
    # Only a missing (or unreadable) mode is "index"; an empty one is unknown, as upstream.
    mode = read_string(ctx.inputs, "mode")
    if mode is None or mode == "index":
        return _by_index(ctx, array)
    if mode in _MATCH_MODES:
        return _by_match(ctx, array, every=mode == "all")
    return _failure(f"unknown mode: {mode}")
