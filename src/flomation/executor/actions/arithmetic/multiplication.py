"""`arithmetic/multiplication`: multiply two numbers (docs/flows.md §10.5)."""

from __future__ import annotations

import operator

from flomation.executor.actions.arithmetic._operands import (
    OUTPUTS,
    calculate,
    operand_input,
    parse_operand,
)
from flomation.executor.actions.base import ActionContext, ActionSpec, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="arithmetic/multiplication",
    name="Maths | Multiplication",
    description="Multiply two numbers",
    icon="xmark",
    inputs=(operand_input("a", "A"), operand_input("b", "B")),
    outputs=OUTPUTS,
)


def run(ctx: ActionContext) -> Outputs:
    """a × b."""
    return calculate(
        parse_operand(ctx.inputs, "a"), parse_operand(ctx.inputs, "b"), "×", operator.mul
    )
