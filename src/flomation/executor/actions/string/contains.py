"""`string/contains`: whether a text contains another, case-sensitively (docs/flows.md §10.5)."""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.string._result import VALUE_INPUT, outputs_for, text_input

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="string/contains",
    name="Contains",
    description="Check whether a string contains a substring (case-sensitive)",
    icon="font",
    inputs=(VALUE_INPUT, Connection("search", "string", "Search For", required=True)),
    outputs=outputs_for("Contains", "boolean"),
)


def run(ctx: ActionContext) -> Outputs:
    """``result`` is a boolean; ``tool_result`` the text ``true`` or ``false``."""
    found = text_input(ctx, "search") in text_input(ctx, "value")
    return {
        "tool_result": "true" if found else "false",
        "result": found,
        "success": True,
        "error": "",
    }
