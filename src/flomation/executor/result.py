"""What one execution ends with (docs/flows.md §4.11): its status, outputs, node records and
checkpoint, and the hard error that stops a run (§4.5).

``final_status`` is the status rule as a pure function; the engine (engine.py) gathers what it
decides on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flomation.executor.checkpoint import Checkpoint
from flomation.executor.events import NodeRecord

__all__ = [
    "STATUS_CANCELLED",
    "STATUS_FAILED",
    "STATUS_SUCCESS",
    "STATUS_SUSPENDED",
    "ExecutionError",
    "ExecutionResult",
    "final_status",
]

STATUS_SUCCESS = 0
STATUS_FAILED = 1
STATUS_CANCELLED = 2
STATUS_SUSPENDED = 3

_TWILIO_TOLERATED = ("websocket", "WebSocket", "broken pipe")


class ExecutionError(Exception):
    """A hard error of the execution; ``node_id`` is the node that raised it (for On Error)."""

    def __init__(self, message: str, node_id: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.node_id = node_id


@dataclass(frozen=True)
class ExecutionResult:
    """The outcome of one execution (§4.11)."""

    status: int
    outputs: dict[str, Any] | None
    records: dict[str, NodeRecord]
    checkpoint: Checkpoint | None
    error: str | None


def final_status(
    *, suspended: bool, cancelled: bool, failed: bool, error: str | None, channel_type: str
) -> int:
    """The first status that applies: suspended, cancelled, failed, else success (§4.11).

    ``failed`` is an execution error or a handled one (``had_error``); ``error`` is the
    unhandled error's message. Kept from upstream: a failure of a ``twilio_voice`` execution
    counts as a success when the error is absent or names a closed connection.
    """
    if suspended:
        return STATUS_SUSPENDED
    if cancelled:
        return STATUS_CANCELLED
    if not failed:
        return STATUS_SUCCESS
    if channel_type == "twilio_voice" and (
        error is None or any(word in error for word in _TWILIO_TOLERATED)
    ):
        return STATUS_SUCCESS
    return STATUS_FAILED
