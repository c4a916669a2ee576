"""`string/repeat`: repeat a text a number of times with a separator (docs/flows.md §10.5)."""

from __future__ import annotations

from flomation.executor.accessors import read_number
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.string._result import (
    VALUE_INPUT,
    failure,
    outputs_for,
    success,
    text_input,
)

__all__ = ["SPEC", "run"]

_MAX_RESULT_BYTES = 1 << 20

SPEC = ActionSpec(
    id="string/repeat",
    name="Repeat",
    description="Repeat a string a given number of times",
    icon="font",
    inputs=(
        VALUE_INPUT,
        Connection("count", "integer", "Repeat Count", placeholder="2", required=True),
        Connection("separator", "string", "Separator", placeholder="Text between repeats"),
    ),
    outputs=outputs_for("Repeated String"),
)


def run(ctx: ActionContext) -> Outputs:
    """``count`` copies joined by ``separator``; a bad count or an oversized result fails softly."""
    count = read_number(ctx.inputs, "count")
    if count is None or count < 0:
        return failure("count must be a non-negative integer")
    value = text_input(ctx, "value")
    separator = text_input(ctx, "separator")
    # Size is checked before building so a huge count costs nothing.
    size_bytes = len(value.encode()) * count + len(separator.encode()) * max(count - 1, 0)
    if size_bytes > _MAX_RESULT_BYTES:
        return failure("result too large")
    return success(separator.join([value] * count))
