"""`string/trim_end`: remove characters from the end of a text (docs/flows.md §10.5)."""

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
    id="string/trim_end",
    name="Trim End",
    description="Remove whitespace or the given characters from the end of a string",
    icon="font",
    inputs=(
        VALUE_INPUT,
        CHARACTERS_INPUT,
    ),
    outputs=outputs_for("Trimmed String"),
)


def run(ctx: ActionContext) -> Outputs:
    """Any of ``characters`` (Unicode whitespace when empty) removed from the end."""
    return trimmed(ctx, str.rstrip)
