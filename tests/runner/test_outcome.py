"""Outcome table of docs/protocol.md §5.8 and result body of §5.9."""

from __future__ import annotations

from typing import Any

import pytest

from flomation.runner.outcome import (
    OutcomeKind,
    StopReason,
    decide_outcome,
    failure_outcome,
    result_body,
)


def _decide(
    state: dict[str, Any] | None,
    exit_code: int | None = 0,
    stop: StopReason | None = None,
    error: str | None = None,
) -> tuple[bool, bool, bool]:
    outcome = decide_outcome(
        state=state, state_error=error, exit_code=exit_code, stop_reason=stop, output="out"
    )
    return outcome.has_errored, outcome.cancelled, outcome.suspended


@pytest.mark.parametrize(
    ("state", "exit_code", "stop", "expected"),
    [
        ({"status": 0}, 0, None, (False, False, False)),
        ({"status": 0}, 3, None, (True, False, False)),
        ({"status": 1}, 0, None, (True, False, False)),
        ({"status": 2}, 0, None, (True, False, False)),
        ({"status": 2}, 0, StopReason.CANCEL_REQUESTED, (True, True, False)),
        ({"status": 0}, 0, StopReason.CANCEL_REQUESTED, (True, True, False)),
        ({"status": 3, "checkpoint": {"a": 1}}, 0, None, (False, False, True)),
        ({"status": 3}, 0, None, (True, False, False)),
        ({"status": 3, "checkpoint": [1]}, 0, None, (True, False, False)),
        ({}, 0, None, (True, False, False)),
        ({"status": "0"}, 0, None, (True, False, False)),
        ({"status": True}, 0, None, (True, False, False)),
        ({"status": 2}, 0, StopReason.SHUTDOWN, (True, False, False)),
        ({"status": 2}, 0, StopReason.TIMEOUT, (True, True, False)),
    ],
)
def test_outcome_table(
    state: dict[str, Any],
    exit_code: int,
    stop: StopReason | None,
    expected: tuple[bool, bool, bool],
) -> None:
    """Each row of the §5.8 table maps to the documented result flags."""
    assert _decide(state, exit_code, stop) == expected


def test_missing_state_is_an_error_carrying_output() -> None:
    """Without state.json the state names the reason and carries all output."""
    outcome = decide_outcome(
        state=None, state_error="no state.json", exit_code=1, stop_reason=None, output="a\nb"
    )
    assert outcome.kind is OutcomeKind.FAIL
    assert outcome.state == {"error": "no state.json", "output": "a\nb", "exit_code": 1}


def test_timeout_and_shutdown_reasons_are_recorded() -> None:
    """A runner-initiated stop records its reason without hiding the executor's error."""
    timeout = decide_outcome(
        state={"status": 2},
        state_error=None,
        exit_code=0,
        stop_reason=StopReason.TIMEOUT,
        output="",
    )
    assert timeout.kind is OutcomeKind.CANCEL
    assert timeout.state["cancel_reason"] == "timeout" and timeout.state["error"] == "timeout"
    own = decide_outcome(
        state={"status": 1, "error": "boom"},
        state_error=None,
        exit_code=0,
        stop_reason=StopReason.SHUTDOWN,
        output="",
    )
    assert own.state["error"] == "boom"


def test_result_body_sets_logs_and_billing_duration() -> None:
    """state.logs is set, billingDuration comes from billing_duration, false flags are omitted."""
    outcome = decide_outcome(
        state={"status": 0, "duration": 5, "billing_duration": 6},
        state_error=None,
        exit_code=0,
        stop_reason=None,
        output="",
    )
    body = result_body(outcome, "l1\nl2")
    assert body == {
        "has_errored": False,
        "state": {
            "status": 0,
            "duration": 5,
            "billing_duration": 6,
            "logs": "l1\nl2",
            "billingDuration": 6,
        },
    }


def test_result_body_flags_and_duration_fallback() -> None:
    """cancelled/suspended appear when true; billingDuration falls back to duration."""
    suspended = decide_outcome(
        state={"status": 3, "duration": 9, "checkpoint": {}},
        state_error=None,
        exit_code=0,
        stop_reason=None,
        output="",
    )
    body = result_body(suspended, "")
    assert body["suspended"] is True and "cancelled" not in body
    state = body["state"]
    assert isinstance(state, dict) and state["billingDuration"] == 9
    cancelled = result_body(failure_outcome("x"), "")
    assert cancelled == {"has_errored": True, "state": {"error": "x", "output": "", "logs": ""}}
