"""`string/trim_start`: remove characters from the start of a text (executor.md §10.5)."""

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
    id="string/trim_start",
    name="Trim Start",
    description="Remove whitespace or the given characters from the start of a string",
    icon="font",
    inputs=(
        VALUE_INPUT,
        Connection("characters", "string", "Characters to Remove", placeholder="Whitespace"),
    ),
    outputs=outputs_for("Trimmed String"),
)


def run(ctx: ActionContext) -> Outputs:
    """Any of ``characters`` (Unicode whitespace when empty) removed from the start."""
    characters = text_input(ctx, "characters") or GO_WHITESPACE
    return success(text_input(ctx, "value").lstrip(characters))
