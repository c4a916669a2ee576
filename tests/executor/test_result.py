"""The final status rule (docs/flows.md §4.11) as the pure function ``final_status``."""

from __future__ import annotations

from flomation.executor.result import (
    STATUS_CANCELLED,
    STATUS_FAILED,
    STATUS_SUCCESS,
    STATUS_SUSPENDED,
    final_status,
)


def test_suspension_comes_before_cancellation_and_failure() -> None:
    """A suspended run is status 3 even when it was also cancelled and failed."""
    status = final_status(
        suspended=True, cancelled=True, failed=True, error="boom", channel_type=""
    )
    assert status == STATUS_SUSPENDED


def test_cancellation_comes_before_failure() -> None:
    """A cancelled run that also failed is status 2."""
    status = final_status(
        suspended=False, cancelled=True, failed=True, error="boom", channel_type=""
    )
    assert status == STATUS_CANCELLED


def test_failure_and_success() -> None:
    """A failed run is status 1 and a run that neither failed nor stopped is status 0."""
    failed = final_status(
        suspended=False, cancelled=False, failed=True, error=None, channel_type=""
    )
    succeeded = final_status(
        suspended=False, cancelled=False, failed=False, error=None, channel_type=""
    )
    assert (failed, succeeded) == (STATUS_FAILED, STATUS_SUCCESS)


def test_twilio_voice_tolerates_a_handled_error_or_a_closed_connection() -> None:
    """For twilio_voice a failure without an error, or naming websocket/broken pipe, is 0."""
    tolerated = [
        final_status(
            suspended=False, cancelled=False, failed=True, error=error, channel_type="twilio_voice"
        )
        for error in (None, "read websocket: closed", "WebSocket gone", "write: broken pipe")
    ]
    assert tolerated == [STATUS_SUCCESS] * 4


def test_twilio_voice_keeps_other_errors_and_other_channels_keep_theirs() -> None:
    """For twilio_voice another error stays 1, and another channel's websocket error stays 1."""
    other_error = final_status(
        suspended=False, cancelled=False, failed=True, error="boom", channel_type="twilio_voice"
    )
    other_channel = final_status(
        suspended=False, cancelled=False, failed=True, error="websocket", channel_type="slack"
    )
    assert (other_error, other_channel) == (STATUS_FAILED, STATUS_FAILED)
