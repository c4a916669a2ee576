"""Retry policies above the API client: registration until accepted, state ``running``.

The API client never retries; the policies of docs/protocol.md §4.1 (registration, R4) and §4.3
(``running`` state: retried until the server says yes or no; the executor starts only on yes,
§11.1) live here. Result delivery is
retried by the outbox, not here.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Sequence

import structlog

from flomation.runner.api import ApiError, ApiResponse, RunnerApi
from flomation.runner.backoff import Backoff

__all__ = [
    "ClaimConfirmation",
    "PreflightError",
    "RegistrationRejectedError",
    "confirm_claim",
    "register_until_accepted",
]


class PreflightError(Exception):
    """Something needed before registering failed (the executor's --version or --manifest)."""


class RegistrationRejectedError(Exception):
    """The server does not know the registration code (404): a configuration error."""


async def register_until_accepted(
    register_once: Callable[[], Awaitable[ApiResponse]],
    *,
    backoff: Backoff,
    log: structlog.typing.FilteringBoundLogger,
) -> ApiResponse:
    """Call ``register_once`` until the server answers 200 or 201 (docs/protocol.md §4.1, R4).

    404 and 413 raise RegistrationRejectedError. Network errors, other statuses and
    PreflightError are retried with ``backoff`` for as long as it takes; cancel the caller to
    give up. The registration code never appears in the log.
    """
    while True:
        try:
            response = await register_once()
        except (ApiError, PreflightError) as exc:
            reason = str(exc)
        else:
            if response.status in (200, 201):
                return response
            if response.status == 404:
                raise RegistrationRejectedError(
                    "registration rejected: the server does not know this registration code "
                    "(404); check runner.registration_code / FLOMATION_REGISTRATION_CODE"
                )
            if response.status == 413:
                # flomation-server reads a registration past 16 KiB only for a known code or a
                # signed, known runner (docs/protocol.md §8.4): sending it again cannot help.
                why = _error_text(response) or "no reason given"
                raise RegistrationRejectedError(
                    f"registration refused before it was read (413): {why}; "
                    "check runner.registration_code / FLOMATION_REGISTRATION_CODE"
                )
            reason = f"HTTP {response.status}"
        delay_s = backoff.next_delay_s()
        log.warning("registration failed; retrying", reason=reason, retry_in_s=round(delay_s, 1))
        await asyncio.sleep(delay_s)


class ClaimConfirmation(enum.Enum):
    """The server's last word on ``state running`` (docs/protocol.md §4.3, §11.1)."""

    CONFIRMED = "confirmed"  # 200: the execution is this runner's to run
    REFUSED = "refused"  # 409 (its lease expired, or it finished) or 404: never run it
    UNANSWERED = "unanswered"  # no definite answer after every retry: do not run it either


async def confirm_claim(
    api: RunnerApi,
    execution_id: str,
    *,
    log: structlog.typing.FilteringBoundLogger,
    retry_delays_s: Sequence[float],
) -> ClaimConfirmation:
    """``POST /state {"state":"running"}`` until 200 (run it) or 409/404 (do not), retried after
    each delay on anything else (network errors, 5xx, 400, 403).

    Sending it again is safe: the server answers a confirmation it already has with 200, and
    every send is signed afresh. 409 means the claim's lease expired (its answer came too late)
    and the execution was offered again, or it was cancelled meanwhile (§11.2).
    """
    delays = list(retry_delays_s)
    while True:
        try:
            response = await api.set_state(execution_id)
        except ApiError as exc:
            reason = str(exc)
        else:
            if response.status == 200:
                return ClaimConfirmation.CONFIRMED
            if response.status in (404, 409):
                log.warning(
                    "claim refused by the server; not running the execution (another runner "
                    "may have it)",
                    status=response.status,
                    reason=_error_text(response),
                )
                return ClaimConfirmation.REFUSED
            reason = f"HTTP {response.status}"
        if not delays:
            log.error("state 'running' never accepted; not running the execution", reason=reason)
            return ClaimConfirmation.UNANSWERED
        delay_s = delays.pop(0)
        log.info("state 'running' not accepted; retrying", reason=reason, retry_in_s=delay_s)
        await asyncio.sleep(delay_s)


def _error_text(response: ApiResponse) -> str | None:
    """The ``error`` of a JSON error answer, if any."""
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None
