"""`common/array_length`: the number of items in an array (docs/flows.md §10.4)."""

from __future__ import annotations

import json
import re
from typing import Any

from flomation.executor.accessors import find_input, read_string
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.common._json_values import preview
from flomation.executor.gojson import go_quote, go_type_name

__all__ = ["SPEC", "run"]

_GO_ATOI = re.compile(r"[+-]?[0-9]+")

SPEC = ActionSpec(
    id="common/array_length",
    name="Array Length",
    description=(
        "Count the items in an array, optionally after walking a dotted path into a JSON object"
    ),
    icon="list-ol",
    inputs=(
        Connection("array", "object", "Array (or JSON object containing an array)", required=True),
        Connection(
            "path", "string", "Path into the array (optional, dotted form)", placeholder="items"
        ),
    ),
    outputs=(
        Connection("tool_result", "string", "Result"),
        Connection("length", "integer", "Length"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
)


class _PathError(Exception):
    """The path does not lead anywhere; the message names the failing segment."""


def _failure(error: str, tool_result: str) -> Outputs:
    return {"tool_result": tool_result, "length": 0, "success": False, "error": error}


def _walk(value: Any, path: str) -> Any:
    """The value at a dotted path: keys into objects, decimal indexes into arrays."""
    segments = path.split(".")
    for position, segment in enumerate(segments):
        if not segment:
            continue
        where = go_quote(".".join(segments[: position + 1]))
        if isinstance(value, dict):
            if segment not in value:
                raise _PathError(f"path segment {go_quote(segment)} not found in object at {where}")
            value = value[segment]
        elif isinstance(value, list):
            if not _GO_ATOI.fullmatch(segment):
                raise _PathError(
                    f"path segment {go_quote(segment)} is not a numeric index — got an array "
                    f"at {where}"
                )
            index = int(segment)
            if not 0 <= index < len(value):
                raise _PathError(
                    f"array index {index} out of bounds (length {len(value)}) at {where}"
                )
            value = value[index]
        else:
            raise _PathError(
                f"can't descend into {go_type_name(value)} at segment {go_quote(segment)} "
                f"(path {where})"
            )
    return value


def run(ctx: ActionContext) -> Outputs:
    """The length of a list, or of the list a JSON text or a ``path`` into an object holds.

    Anything else fails softly, with upstream's texts (flomation-co/executor
    actions/common/array_length/action.go).
    """
    item = find_input(ctx.inputs, "array")
    value = None if item is None else item.value
    if value is None:
        return _failure("array is required", "No array provided")
    path = (read_string(ctx.inputs, "path") or "").strip()
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except ValueError:
            shown = preview(text) + ("…" if len(text.encode()) > 100 else "")
            return _failure("input is not valid JSON", f"Value is not parseable as JSON: {shown}")
    elif not isinstance(value, list | dict):
        kind = go_type_name(value)
        return _failure(f"expected array or object, got {kind}", f"Unsupported type: {kind}")
    if path:
        try:
            value = _walk(value, path)
        except _PathError as problem:
            return _failure(str(problem), f"Path resolution failed: {problem}")
    if not isinstance(value, list):
        kind = go_type_name(value)
        return _failure(
            f"value at path {go_quote(path)} is not an array (got {kind})",
            f"Not an array (got {kind})",
        )
    return {"tool_result": str(len(value)), "length": len(value), "success": True, "error": ""}
