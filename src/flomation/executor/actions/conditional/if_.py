"""``conditional/if``: compare two values; routes to ``true-branch``/``false-branch``.

See docs/flows.md §10.3.
"""

from __future__ import annotations

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.actions.conditional._compare import OPERATORS, compare

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="conditional/if",
    name="If",
    description="Choose a branch by comparing two values",
    type=4,
    icon="code-branch",
    inputs=(
        Connection("value_a", "string", "Value A", placeholder="Value"),
        Connection(
            "operator",
            "string",
            "Operator",
            required=True,
            options=tuple({"name": name, "value": name} for name in OPERATORS),
        ),
        Connection("value_b", "string", "Value B", placeholder="Value"),
    ),
    outputs=(Connection("result", "boolean", "Result"),),
)


def run(ctx: ActionContext) -> Outputs:
    """``{result: bool}``; a missing or unknown operator is a hard error.

    An empty operator is unknown (``unknown operator: ``); only a missing one (or one that cannot
    be read as text) is ``operator is required`` (flomation-co/executor:
    actions/conditional/if/action.go).
    """
    operator_text = read_string(ctx.inputs, "operator")
    if operator_text is None:
        raise HardError("operator is required")
    operator = operator_text.strip()
    value_a = read_string(ctx.inputs, "value_a") or ""
    value_b = read_string(ctx.inputs, "value_b") or ""
    result = compare(operator, value_a, value_b)
    if result is None:
        raise HardError(f"unknown operator: {operator}")
    return {"result": result}
