"""What one thread hand-off costs here: ``asyncio.to_thread`` of a function doing nothing.

Usage: ``.venv/bin/python bench/thread_handoff.py [--count N]``; run it under ``taskset -c 0`` to
compare with both threads on one core. The runner's design weighs this figure against the work a
hand-off would take off the event loop (docs/benchmarks.md, runner items 11, 16 and 17).
"""

from __future__ import annotations

import argparse
import asyncio
import time


def _nothing() -> None:
    pass


async def _time_hand_offs(count: int) -> tuple[float, float]:
    """CPU and wall seconds per hand-off, once the worker thread exists."""
    await asyncio.to_thread(_nothing)
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for _ in range(count):
        await asyncio.to_thread(_nothing)
    return (
        (time.process_time() - cpu_before) / count,
        (time.perf_counter() - wall_before) / count,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000, help="hand-offs to time")
    count = parser.parse_args().count
    cpu_s, wall_s = asyncio.run(_time_hand_offs(count))
    print(
        f"{count} hand-offs: {cpu_s * 1e6:.0f} µs of CPU (event loop and worker thread "
        f"together) and {wall_s * 1e6:.0f} µs of wall time each"
    )


if __name__ == "__main__":
    main()
