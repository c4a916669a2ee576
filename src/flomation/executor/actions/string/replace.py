"""`string/replace`: replace every occurrence of a text (docs/flows.md §10.5)."""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.string._result import (
    VALUE_INPUT,
    outputs_for,
    success,
    text_input,
)

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="string/replace",
    name="Replace",
    description="Replace all occurrences of a substring",
    icon="font",
    inputs=(
        VALUE_INPUT,
        Connection("search", "string", "Search For", required=True),
        Connection("replace", "string", "Replace With"),
    ),
    outputs=(*outputs_for("Replaced String"), Connection("count", "integer", "Replacements")),
)


def run(ctx: ActionContext) -> Outputs:
    """Non-overlapping, left to right; an empty search inserts between characters (as Go)."""
    value = text_input(ctx, "value")
    search = text_input(ctx, "search")
    # str.count/replace with "" match Go: len(value)+1 insertion points around each character.
    return {
        **success(value.replace(search, text_input(ctx, "replace"))),
        "count": value.count(search),
    }
