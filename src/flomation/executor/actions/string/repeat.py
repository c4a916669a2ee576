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

_MAX_COUNT = 10_000
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
    extra={
        "differences": [
            "the `separator` input is this executor's own (upstream's repeat has none; "
            "empty joins the copies directly, as upstream does)",
            "a result over 1 MiB is the soft failure `result too large` (upstream builds "
            "whatever 10000 copies come to; the cap keeps the executor's memory bounded)",
        ]
    },
)


def run(ctx: ActionContext) -> Outputs:
    """``count`` copies joined by ``separator``; an oversized result fails softly.

    A missing or unreadable count is 1, a negative one 0, and counts over 10000 are 10000.
    """
    count = read_number(ctx.inputs, "count")
    count = 1 if count is None else min(max(count, 0), _MAX_COUNT)
    value = text_input(ctx, "value")
    separator = text_input(ctx, "separator")
    # Size is checked before building so a huge count costs nothing.
    size_bytes = len(value.encode()) * count + len(separator.encode()) * max(count - 1, 0)
    if size_bytes > _MAX_RESULT_BYTES:
        return failure("result too large")
    return success(separator.join([value] * count))
