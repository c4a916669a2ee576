"""``conditional/while``: a loop (type 5) re-evaluated before every iteration.

See docs/flows.md §10.3, §4.8.
"""

from __future__ import annotations

from flomation.executor.accessors import read_number, read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.actions.conditional._compare import OPERATORS, compare

__all__ = ["SPEC", "run"]

_DEFAULT_MAX_ITERATIONS = 1000

SPEC = ActionSpec(
    id="conditional/while",
    name="While",
    description="Repeat the loop branch while a comparison holds",
    type=5,
    icon="rotate",
    inputs=(
        Connection("value_a", "string", "Value A"),
        Connection(
            "operator",
            "string",
            "Operator",
            required=True,
            options=tuple({"name": name, "value": name} for name in OPERATORS),
        ),
        Connection("value_b", "string", "Value B"),
        Connection(
            "max_iterations", "integer", "Maximum Iterations", placeholder="1000", default=1000
        ),
    ),
    outputs=(
        Connection("result", "boolean", "Result"),
        Connection("iterations", "integer", "Iterations"),
        Connection("max_iterations", "integer", "Maximum Iterations"),
    ),
)


def run(ctx: ActionContext) -> Outputs:
    """``{result, iterations: 0, max_iterations}``; an unknown or empty operator compares false.

    Only a missing operator (or one that cannot be read as text) is an error; an empty one is
    simply unknown (flomation-co/executor: actions/conditional/while/action.go).
    """
    operator_text = read_string(ctx.inputs, "operator")
    if operator_text is None:
        raise HardError("operator is required")
    operator = operator_text.strip()
    value_a = read_string(ctx.inputs, "value_a") or ""
    value_b = read_string(ctx.inputs, "value_b") or ""
    limit = read_number(ctx.inputs, "max_iterations")
    return {
        "result": compare(operator, value_a, value_b) is True,
        "iterations": 0,
        "max_iterations": limit if limit is not None and limit > 0 else _DEFAULT_MAX_ITERATIONS,
    }
