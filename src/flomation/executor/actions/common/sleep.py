"""``common/sleep``: wait a while, waking up at once when the execution is cancelled.

See docs/flows.md §10.4.
"""

from __future__ import annotations

from flomation.executor.accessors import read_number, read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)

__all__ = ["SPEC", "run"]

_MAX_SLEEP_S = 3600
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600}

SPEC = ActionSpec(
    id="common/sleep",
    name="Sleep",
    description="Pause the flow for a number of seconds, minutes or hours",
    icon="bed",
    inputs=(
        Connection("duration", "integer", "Duration", placeholder="5", required=True),
        Connection(
            "unit",
            "string",
            "Unit",
            options=tuple({"name": unit, "value": unit} for unit in _UNIT_SECONDS),
            default="seconds",
        ),
    ),
    outputs=(
        Connection("slept_for_seconds", "integer", "Slept For (seconds)"),
        Connection("cancelled", "boolean", "Cancelled"),
    ),
)


def run(ctx: ActionContext) -> Outputs:
    """``{slept_for_seconds, cancelled}``; capped at one hour; cancellation ends it early."""
    duration = read_number(ctx.inputs, "duration")
    if duration is None:
        raise HardError("duration is required")
    # Matched exactly, as flomation-co/executor: actions/common/sleep/action.go: " Minutes " is
    # an unknown unit, so seconds.
    unit = read_string(ctx.inputs, "unit") or ""
    total_s = min(duration * _UNIT_SECONDS.get(unit, 1), _MAX_SLEEP_S)
    if total_s <= 0:
        return {"slept_for_seconds": 0, "cancelled": False}
    if ctx.cancel_event.wait(total_s):
        return {"slept_for_seconds": 0, "cancelled": True}
    return {"slept_for_seconds": total_s, "cancelled": False}
