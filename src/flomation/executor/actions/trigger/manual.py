"""``trigger/manual``: a run started by hand; outputs the start time and a quote.

See docs/flows.md §10.2.

Upstream's newest manual trigger (flomation-co/executor: actions/trigger/manual/action.go) returns
``start`` as a Go ``time.Time``, which reaches events, ``state.json`` and later nodes in the form
Go's JSON encoder gives it: RFC 3339 with nanoseconds, trailing zeros dropped, ``Z`` for UTC
(``2026-12-06T21:03:45.123456789Z``). Earlier upstream versions formatted it as RFC 1123.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "go_time_json", "run"]

SPEC = ActionSpec(
    id="trigger/manual",
    name="Manual Trigger",
    description="Start the flow by hand",
    type=1,
    icon="hand",
    open_outputs=True,
    outputs=(
        Connection("start", "string", "Start Time"),
        Connection("quote", "string", "Quote"),
    ),
    extra={
        "differences": [
            "${node.start} substitutes the time text without JSON quotes "
            "(upstream renders its time.Time value as JSON)",
        ]
    },
)

_NS_PER_S = 1_000_000_000


def go_time_json(unix_ns: int) -> str:
    """A UTC instant as Go's ``time.Time.MarshalJSON`` writes it (``time.RFC3339Nano``)."""
    seconds, nanoseconds = divmod(unix_ns, _NS_PER_S)
    whole = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanoseconds:09d}".rstrip("0")
    return f"{whole}.{fraction}Z" if fraction else f"{whole}Z"


def run(ctx: ActionContext) -> Outputs:
    """The current UTC time and the quote; the engine adds injected trigger data."""
    return {"start": go_time_json(time.time_ns()), "quote": "To err is human"}
