"""What a thread hand-off costs here, next to the outbox writes the runner makes inline instead.

Usage: ``.venv/bin/python bench/thread_handoff.py [--count N]``; run it under ``taskset -c 0`` to
compare with both threads on one core. It prints the CPU and wall time of one
``asyncio.to_thread`` of a function doing nothing, and of each outbox write of an execution
(journal record and result synced, process group and delivery mark unsynced) on a real SQLite
file in the current directory's file system. The runner's design weighs the two
(docs/benchmarks.md, runner items 11 and 16-19).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flomation.runner.outbox import Outbox


def _nothing() -> None:
    pass


async def _hand_off_s(count: int) -> tuple[float, float]:
    """CPU and wall seconds per hand-off, once the worker thread exists."""
    await asyncio.to_thread(_nothing)
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for _ in range(count):
        await asyncio.to_thread(_nothing)
    return (
        (time.process_time() - cpu_before) / count,
        (time.perf_counter() - wall_before) / count,
    )


def _call_s(write: Callable[[int], object], count: int) -> tuple[float, float]:
    """CPU (this thread's, system time included) and wall seconds per call of ``write``."""
    cpu_before, wall_before = time.thread_time(), time.perf_counter()
    for number in range(count):
        write(number)
    return (
        (time.thread_time() - cpu_before) / count,
        (time.perf_counter() - wall_before) / count,
    )


def _outbox_writes_s(count: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as directory:
        outbox = Outbox.open(Path(directory) / "outbox.sqlite")
        try:
            work_dir = Path(directory)
            return {
                "journal record (synced)": _call_s(
                    lambda n: outbox.journal_start(f"e{n}", "f", work_dir, None, None, 0.0), count
                ),
                "process group (unsynced)": _call_s(
                    lambda n: outbox.journal_set_process(f"e{n}", 1, 1), count
                ),
                "result + journal end (synced)": _call_s(
                    lambda n: outbox.put(f"e{n}", "result", "/r", b"x" * 300, finish_journal=True),
                    count,
                ),
                "delivery mark (unsynced)": _call_s(lambda n: outbox.mark_delivered(n + 1), count),
            }
        finally:
            outbox.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="calls to time of each kind")
    count = parser.parse_args().count
    rows = {"thread hand-off (asyncio.to_thread)": asyncio.run(_hand_off_s(count))}
    rows.update(_outbox_writes_s(count))
    for name, (cpu_s, wall_s) in rows.items():
        print(f"{name:<38} {cpu_s * 1e6:6.0f} µs CPU {wall_s * 1e6:6.0f} µs wall")


if __name__ == "__main__":
    main()
