"""Capped exponential back-off with full jitter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flomation.runner.backoff import Backoff, backoff_s


def test_upper_bound_doubles_until_the_cap() -> None:
    """With the largest draw, delays double from base_s and stop growing at cap_s."""
    almost_one = 0.999999
    bounds = [round(backoff_s(n, rng=lambda: almost_one)) for n in range(12)]
    assert bounds == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert backoff_s(3, base_s=0.5, cap_s=60, rng=lambda: 0.5) == 2.0


def test_full_jitter_can_reach_zero_and_negative_attempts_act_as_first() -> None:
    """A zero draw gives no wait; a negative attempt is treated like attempt 0."""
    assert backoff_s(5, rng=lambda: 0.0) == 0.0
    assert backoff_s(-3, rng=lambda: 0.5) == 0.5


@given(
    attempt=st.integers(min_value=-10, max_value=10_000),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_delay_always_within_zero_and_cap(attempt: int, draw: float) -> None:
    """Any attempt number, however large, yields a finite delay in [0, cap_s)."""
    delay = backoff_s(attempt, base_s=1.0, cap_s=300.0, rng=lambda: draw)
    assert 0.0 <= delay < 300.0


def test_backoff_stays_between_base_and_cap() -> None:
    """Retry delays never drop below the base and never exceed the cap."""
    backoff = Backoff(1.0, 30.0)
    delays = [backoff.next_delay_s() for _ in range(40)]
    assert all(1.0 <= delay <= 30.0 for delay in delays)
    assert max(delays[10:]) > 10.0
    backoff.reset()
    assert backoff.attempt == 0
