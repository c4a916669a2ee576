"""`string/lower_case`: convert a string to lower case (docs/flows.md §10.5)."""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Outputs
from flomation.executor.actions.string._result import (
    VALUE_INPUT,
    outputs_for,
    simple_case,
    success,
    text_input,
)

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="string/lower_case",
    name="Lower Case",
    description="Convert a string to lower case",
    icon="font",
    inputs=(VALUE_INPUT,),
    outputs=outputs_for("Lower Case String"),
)


def run(ctx: ActionContext) -> Outputs:
    """The value with every character mapped to its lower case."""
    return success(simple_case(text_input(ctx, "value"), upper=False))
