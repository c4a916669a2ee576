"""``trigger/manual``: a run started by hand; outputs the start time and a quote (§10.2)."""

from __future__ import annotations

from datetime import UTC, datetime

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="trigger/manual",
    name="Manual Trigger",
    description="Start the flow by hand",
    type=1,
    icon="hand",
    outputs=(
        Connection("start", "string", "Start Time"),
        Connection("quote", "string", "Quote"),
    ),
)

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc1123_utc(moment: datetime) -> str:
    """``Mon, 02 Jan 2006 15:04:05 UTC`` with English names whatever the locale."""
    utc = moment.astimezone(UTC)
    return (
        f"{_DAYS[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} UTC"
    )


def run(ctx: ActionContext) -> Outputs:
    """The current UTC time and the quote; the engine adds injected trigger data."""
    return {"start": rfc1123_utc(datetime.now(UTC)), "quote": "To err is human"}
