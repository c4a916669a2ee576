"""`string/join`: join the items of an array with a separator (docs/flows.md §10.5)."""

from __future__ import annotations

import json
from typing import Any

from flomation.executor.accessors import find_input
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.string._result import failure, outputs_for, success, text_input
from flomation.executor.gojson import go_text

__all__ = ["SPEC", "run"]

_DEFAULT_SEPARATOR = ", "

SPEC = ActionSpec(
    id="string/join",
    name="Join",
    description="Join an array of strings with a separator",
    icon="font",
    inputs=(
        Connection("array", "object", "Array of Strings", required=True),
        Connection(
            "separator",
            "string",
            "Separator",
            placeholder=_DEFAULT_SEPARATOR,
            default=_DEFAULT_SEPARATOR,
        ),
    ),
    outputs=outputs_for("Joined String"),
)


def _items(value: Any) -> list[Any]:
    """A list as is; a string holding a JSON list (or null) parsed, another string one item.

    Any other value (a number, an object) has no items, as upstream's type switch has no case
    for it.
    """
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        return [value]
    if parsed is None:
        return []
    return parsed if isinstance(parsed, list) else [value]


def run(ctx: ActionContext) -> Outputs:
    """Items rendered with Go-text and joined; a missing or null array is a soft failure."""
    item = find_input(ctx.inputs, "array")
    if item is None or item.value is None:
        return failure("array is required")
    separator = text_input(ctx, "separator") or _DEFAULT_SEPARATOR
    return success(separator.join(go_text(part) for part in _items(item.value)))
