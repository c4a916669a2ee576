"""Capped exponential back-off with full jitter, shared by every retry loop of the runner."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["backoff_s"]

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
