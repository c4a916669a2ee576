"""`arithmetic/division`: divide the numerator by the denominator (docs/flows.md §10.5)."""

from __future__ import annotations

import operator

from flomation.executor.actions.arithmetic._operands import (
    DIFFERENCES,
    OUTPUTS,
    calculate,
    operand_input,
    parse_operand,
)
from flomation.executor.actions.base import ActionContext, ActionSpec, HardError, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="arithmetic/division",
    name="Maths | Division",
    description="Divide the numerator by the denominator",
    icon="divide",
    inputs=(
        operand_input("numerator", "Numerator", "e.g. 100 or 3.14"),
        operand_input("denominator", "Denominator", "e.g. 4 or 0.40 (must be non-zero)"),
    ),
    outputs=OUTPUTS,
    extra={"differences": list(DIFFERENCES)},
)


def run(ctx: ActionContext) -> Outputs:
    """numerator ÷ denominator; a zero denominator is a hard error."""
    numerator = parse_operand(ctx.inputs, "numerator")
    denominator = parse_operand(ctx.inputs, "denominator")
    if denominator == 0:
        raise HardError("division: denominator cannot be zero")
    return calculate(numerator, denominator, "÷", operator.truediv)
