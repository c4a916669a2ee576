"""Pure decisions about how an execution ended (docs/protocol.md §5.8) and the result body (§5.9).

Nothing here touches files, processes or the network: the execution lifecycle gathers the facts
(state.json content or why it is unusable, exit code, whether a cancel was requested) and these
functions turn them into the exact body the runner posts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flomation.wire.jsontext import JsonObject

__all__ = [
    "STATUS_CANCELLED",
    "STATUS_FAILED",
    "STATUS_SUCCESS",
    "STATUS_SUSPENDED",
    "Outcome",
    "OutcomeKind",
    "StopReason",
    "decide_outcome",
    "failure_outcome",
    "result_body",
]

STATUS_SUCCESS = 0
STATUS_FAILED = 1
STATUS_CANCELLED = 2
STATUS_SUSPENDED = 3


class OutcomeKind(enum.Enum):
    """How the platform will record the execution once the result is stored."""

    SUCCESS = "success"
    FAIL = "fail"
    CANCEL = "cancel"
    SUSPENDED = "suspended"


class StopReason(enum.Enum):
    """Why the runner stopped an executor before it finished on its own."""

    CANCEL_REQUESTED = "cancel requested"
    TIMEOUT = "timeout"
    SHUTDOWN = "runner shutting down"


@dataclass(frozen=True)
class Outcome:
    """The three result flags and the state object to post (without ``logs``)."""

    kind: OutcomeKind
    has_errored: bool
    cancelled: bool
    suspended: bool
    state: JsonObject


def _kind(has_errored: bool, cancelled: bool, suspended: bool) -> OutcomeKind:
    # Same precedence as the server (docs/protocol.md §7 T6/T7): suspended, cancelled, has_errored.
    if suspended:
        return OutcomeKind.SUSPENDED
    if cancelled:
        return OutcomeKind.CANCEL
    return OutcomeKind.FAIL if has_errored else OutcomeKind.SUCCESS


def _make(
    state: JsonObject, *, has_errored: bool, cancelled: bool = False, suspended: bool = False
) -> Outcome:
    return Outcome(
        _kind(has_errored, cancelled, suspended), has_errored, cancelled, suspended, state
    )


def failure_outcome(error: str, output: str = "") -> Outcome:
    """A failed execution whose state names the cause and carries the captured output."""
    return _make({"error": error, "output": output}, has_errored=True)


def decide_outcome(
    *,
    state: JsonObject | None,
    state_error: str | None,
    exit_code: int | None,
    stop_reason: StopReason | None,
    output: str,
) -> Outcome:
    """Map what the executor left behind to the result flags of docs/protocol.md §5.8.

    ``state`` is the parsed state.json object, or None with ``state_error`` saying why it is
    unusable. ``stop_reason`` is set when the runner itself stopped the executor.
    """
    cancelled = stop_reason in (StopReason.CANCEL_REQUESTED, StopReason.TIMEOUT)
    if state is None:
        reason = state_error or "state.json missing"
        outcome_state: JsonObject = {"error": reason, "output": output}
        if exit_code is not None:
            outcome_state["exit_code"] = exit_code
        _note_stop(outcome_state, stop_reason)
        return _make(outcome_state, has_errored=True, cancelled=cancelled)
    state = dict(state)
    _note_stop(state, stop_reason)
    if cancelled:
        return _make(state, has_errored=True, cancelled=True)
    status = state.get("status")
    # bool is an int subclass in Python; a JSON true is not a status number.
    if not isinstance(status, int) or isinstance(status, bool):
        return _make(state, has_errored=True)
    if status == STATUS_SUCCESS:
        return _make(state, has_errored=exit_code != 0)
    if status == STATUS_SUSPENDED and isinstance(state.get("checkpoint"), dict):
        return _make(state, has_errored=False, suspended=True)
    return _make(state, has_errored=True)


def _note_stop(state: JsonObject, stop_reason: StopReason | None) -> None:
    """Record why the runner stopped the executor, without hiding the executor's own error."""
    if stop_reason is None:
        return
    state["cancel_reason"] = stop_reason.value
    if stop_reason is not StopReason.CANCEL_REQUESTED:
        state.setdefault("error", stop_reason.value)


def result_body(outcome: Outcome, logs: str) -> JsonObject:
    """The JSON body of ``POST /api/v1/execution/{id}`` (docs/protocol.md §4.6, §5.9).

    ``cancelled`` and ``suspended`` are omitted when false, as the Go runner does.
    """
    state = dict(outcome.state)
    state["logs"] = logs
    if "billingDuration" not in state:
        billing = state.get("billing_duration", state.get("duration"))
        if billing is not None:
            state["billingDuration"] = billing
    body: JsonObject = {"has_errored": outcome.has_errored}
    if outcome.cancelled:
        body["cancelled"] = True
    if outcome.suspended:
        body["suspended"] = True
    body["state"] = state
    return body
