"""`string/upper_case`: convert a string to upper case (docs/flows.md §10.5)."""

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
    id="string/upper_case",
    name="Upper Case",
    description="Convert a string to upper case",
    icon="font",
    inputs=(VALUE_INPUT,),
    outputs=outputs_for("Upper Case String"),
)


def run(ctx: ActionContext) -> Outputs:
    """The value with every character mapped to its upper case."""
    return success(simple_case(text_input(ctx, "value"), upper=True))
