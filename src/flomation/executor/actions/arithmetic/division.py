"""`arithmetic/division`: divide the numerator by the denominator (docs/flows.md §10.5)."""

from __future__ import annotations

import operator

from flomation.executor.accessors import find_input
from flomation.executor.actions.arithmetic._operands import (
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
    inputs=(operand_input("numerator", "Numerator"), operand_input("denominator", "Denominator")),
    outputs=OUTPUTS,
)


def _operand_name(ctx: ActionContext, name: str, fallback: str) -> str:
    """``name``, or ``fallback`` (the generic ``a``/``b``) when only that input exists."""
    if find_input(ctx.inputs, name) is None and find_input(ctx.inputs, fallback) is not None:
        return fallback
    return name


def run(ctx: ActionContext) -> Outputs:
    """numerator ÷ denominator; a zero denominator is a hard error."""
    numerator = parse_operand(ctx.inputs, _operand_name(ctx, "numerator", "a"))
    denominator = parse_operand(ctx.inputs, _operand_name(ctx, "denominator", "b"))
    if denominator == 0:
        raise HardError("arithmetic: division by zero")
    return calculate(numerator, denominator, "÷", operator.truediv)
