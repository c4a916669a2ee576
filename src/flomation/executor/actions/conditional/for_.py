"""``conditional/for``: a loop (type 5) that runs its body ``count`` times.

See docs/flows.md §10.3, §4.8.
"""

from __future__ import annotations

from flomation.executor.accessors import find_input, parse_go_int, read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.gojson import go_text

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="conditional/for",
    name="For",
    description="Repeat the loop branch a number of times",
    type=5,
    icon="repeat",
    inputs=(
        Connection("count", "integer", "Count", placeholder="10", required=True),
        Connection("start", "integer", "Start", placeholder="0", default=0),
    ),
    outputs=(
        Connection("result", "boolean", "Result"),
        Connection("iterations", "integer", "Iterations"),
        Connection("max_iterations", "integer", "Maximum Iterations"),
        Connection("current_index", "integer", "Current Index"),
    ),
)


def run(ctx: ActionContext) -> Outputs:
    """``{result: count > 0, iterations: count, max_iterations: count, current_index: start}``.

    Both are read as text and parsed as Go's strconv.ParseInt does: a count that reads as no
    text is required, one that does not parse (or is negative) is invalid; a start that does
    not parse is 0.
    """
    text = read_string(ctx.inputs, "count")
    if text is None:
        raise HardError("iteration count is required")
    count = parse_go_int(text)
    if count is None or count < 0:
        raw = find_input(ctx.inputs, "count")
        raise HardError(f"invalid iteration count: {go_text(raw.value if raw else text)}")
    start_text = read_string(ctx.inputs, "start")
    start = parse_go_int(start_text) if start_text is not None else None
    return {
        "result": count > 0,
        "iterations": count,
        "max_iterations": count,
        "current_index": start or 0,
    }
