"""`string/substring`: a slice of a text by character positions (docs/flows.md §10.5)."""

from __future__ import annotations

from flomation.executor.accessors import read_number
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.string._result import (
    VALUE_INPUT,
    outputs_for,
    success,
    text_input,
)

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="string/substring",
    name="Substring",
    description="Extract a portion of a string by start and end positions",
    icon="font",
    inputs=(
        VALUE_INPUT,
        Connection("start", "integer", "Start Index (0-based)", placeholder="0", required=True),
        Connection("end", "integer", "End Index (exclusive, empty = end of string)"),
    ),
    outputs=outputs_for("Substring"),
    extra={
        "differences": [
            "a negative `end` counts as 0, giving an empty result (upstream slices with it and "
            "the executor panics)"
        ]
    },
)


def run(ctx: ActionContext) -> Outputs:
    """Characters [start, end): both clamped to the text, start never past end."""
    value = text_input(ctx, "value")
    start = read_number(ctx.inputs, "start")
    end = read_number(ctx.inputs, "end")
    stop = len(value) if end is None else min(max(end, 0), len(value))
    begin = min(max(start or 0, 0), stop)
    return success(value[begin:stop])
