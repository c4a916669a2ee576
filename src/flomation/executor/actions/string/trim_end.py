"""`string/trim_end`: remove characters from the end of a text (executor.md §10.5)."""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.string._result import (
    GO_WHITESPACE,
    VALUE_INPUT,
    outputs_for,
    success,
    text_input,
)

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="string/trim_end",
    name="Trim End",
    description="Remove whitespace or the given characters from the end of a string",
    icon="font",
    inputs=(
        VALUE_INPUT,
        Connection("characters", "string", "Characters to Remove", placeholder="Whitespace"),
    ),
    outputs=outputs_for("Trimmed String"),
)


def run(ctx: ActionContext) -> Outputs:
    """Any of ``characters`` (Unicode whitespace when empty) removed from the end."""
    characters = text_input(ctx, "characters") or GO_WHITESPACE
    return success(text_input(ctx, "value").rstrip(characters))
