"""Capped exponential back-off with full jitter, shared by every retry loop of the runner.

``backoff_s`` is the delay before one retry (result delivery keeps the attempt count in the
outbox); ``Backoff`` counts the attempts of one retry loop itself (claims, registration) and never
waits less than its base.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff", "backoff_s"]

# 2**64 seconds is far beyond any cap; clamping keeps the float arithmetic finite.
_MAX_EXPONENT = 64


def backoff_s(
    attempt: int,
    *,
    base_s: float = 1.0,
    cap_s: float = 300.0,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    Full jitter: a uniform draw in ``[0, min(cap_s, base_s * 2**attempt))``, so many clients
    failing together do not retry in lock-step. ``rng`` returns a float in [0, 1).
    """
    exponent = min(max(attempt, 0), _MAX_EXPONENT)
    return rng() * min(cap_s, base_s * 2.0**exponent)


class Backoff:
    """Delays of one retry loop: ``base_s`` plus ``backoff_s`` jitter, at most ``cap_s``."""

    def __init__(self, base_s: float, cap_s: float) -> None:
        self._base_s = base_s
        self._cap_s = cap_s
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt

    def next_delay_s(self) -> float:
        """The next delay, growing until the cap."""
        # Never below the base: a refusing server must not see retries in quick succession.
        jitter_s = backoff_s(self._attempt, base_s=self._base_s, cap_s=self._cap_s - self._base_s)
        delay_s = self._base_s + jitter_s
        self._attempt += 1
        return delay_s

    def reset(self) -> None:
        """Start again from the base delay (after a success)."""
        self._attempt = 0
