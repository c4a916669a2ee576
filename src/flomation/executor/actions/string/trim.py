"""`string/trim`: remove characters from both ends of a text (docs/flows.md §10.5)."""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Outputs
from flomation.executor.actions.string._result import (
    CHARACTERS_INPUT,
    VALUE_INPUT,
    outputs_for,
    trimmed,
)

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="string/trim",
    name="Trim",
    description="Remove whitespace or the given characters from both ends of a string",
    icon="font",
    inputs=(
        VALUE_INPUT,
        CHARACTERS_INPUT,
    ),
    outputs=outputs_for("Trimmed String"),
)


def run(ctx: ActionContext) -> Outputs:
    """Any of ``characters`` (Unicode whitespace when empty) removed from both ends."""
    return trimmed(ctx, str.strip)
