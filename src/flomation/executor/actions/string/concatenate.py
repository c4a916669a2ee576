"""`string/concatenate`: join up to four texts end to end (docs/flows.md §10.5)."""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.string._result import outputs_for, success, text_input

__all__ = ["SPEC", "run"]

_PARTS = ("a", "b", "c", "d")

SPEC = ActionSpec(
    id="string/concatenate",
    name="Concatenate",
    description="Join up to four strings together",
    icon="font",
    inputs=tuple(
        Connection(name, "string", f"Part {name.upper()}", required=name == "a") for name in _PARTS
    ),
    outputs=outputs_for("Concatenated String"),
)


def run(ctx: ActionContext) -> Outputs:
    """a + b + c + d, a missing part counting as ``""``."""
    return success("".join(text_input(ctx, name) for name in _PARTS))
