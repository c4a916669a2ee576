#!/usr/bin/env python3
"""A minimal executor for benchmarks: honours the upstream command line and writes state.json.

It does as little as possible so that what a benchmark measures is the runner's own cost. What it
does is chosen by the flow file's top-level ``bench`` object:

- ``{}``: write state.json and exit (the per-execution overhead case);
- ``{"sleep_s": S}``: sleep S seconds first (the concurrency case);
- ``{"lines": N, "line_bytes": B}``: write N lines of B bytes to stdout as fast as it can and
  record, in ``outputs``, the longest time one ``write`` call blocked (the log forwarding case).

It records ``started_at``/``exited_at`` (``time.time()``) in ``outputs`` so that benchmarks can
split a run into runner time and executor time.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _argument(name: str) -> str:
    argv = sys.argv
    if name in argv:
        index = argv.index(name)
        if index + 1 < len(argv):
            return argv[index + 1]
    return ""


def _write_lines(count: int, line_bytes: int) -> float:
    line = ("x" * (line_bytes - 1) + "\n").encode()
    chunk_lines = 64
    chunk = line * chunk_lines
    longest_stall_s = 0.0
    written = 0
    while written < count:
        batch = chunk if count - written >= chunk_lines else line * (count - written)
        view = memoryview(batch)
        while view:
            before = time.perf_counter()
            sent = os.write(1, view)
            longest_stall_s = max(longest_stall_s, time.perf_counter() - before)
            view = view[sent:]
        written += min(chunk_lines, count - written)
    return longest_stall_s


def main() -> int:
    started_at = time.time()
    if "--version" in sys.argv:
        sys.stdout.write("0.0.bench")
        return 0
    if "--manifest" in sys.argv:
        with open(_argument("--manifest"), "w") as manifest:
            manifest.write("{}")
        return 0
    with open(_argument("--path") or "execution.flow") as flow_file:
        plan = json.load(flow_file).get("bench", {})
    outputs: dict[str, float] = {"started_at": started_at}
    if plan.get("sleep_s"):
        time.sleep(float(plan["sleep_s"]))
    if plan.get("lines"):
        outputs["longest_write_stall_s"] = _write_lines(
            int(plan["lines"]), int(plan.get("line_bytes", 100))
        )
    outputs["exited_at"] = time.time()
    state = {
        "id": _argument("--id"),
        "flow_id": _argument("--flow"),
        "status": 0,
        "duration": 0,
        "billing_duration": 0,
        "outputs": outputs,
    }
    fd = os.open("state.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as state_file:
        json.dump(state, state_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
