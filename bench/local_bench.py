"""The edit-run loop: wall time of ``flomation-runner local examples/hello.flow.json`` (issue 14).

Runs the command ``--runs`` times after one warm-up run and reports the median and p90 wall time
around each subprocess, with the machine's busy/idle share over the measurement (the machine may
be shared; the CPU time of the command and the executor it starts does not depend on that). The
child runs without ``PYTHONDONTWRITEBYTECODE``, so bytecode is cached after the
warm-up, as after a user's first run or from an installed wheel. Each run validates the flow and
goes through the runner's work-directory, output spool and result handling
(flomation.local.execute), with a fresh temporary home.

Target: median <= 0.6 s on the 2-core machine.

Usage: ``python bench/local_bench.py [--runs N]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from support import BIN, Figure, MachineTimes, percentile, print_figures

__all__ = ["main"]

_TARGET_S = 0.6
_ROOT = Path(__file__).resolve().parents[1]
_COMMAND = [
    str(BIN / "flomation-runner"),
    "local",
    str(_ROOT / "examples" / "hello.flow.json"),
    "--data",
    '{"name": "Ada"}',
]


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_once(env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (the command and the executor it waits for) of one run."""
    cpu_before_s = _children_cpu_s()
    started = time.perf_counter()
    result = subprocess.run(_COMMAND, capture_output=True, text=True, check=False, env=env)
    elapsed_s = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"local run failed (exit {result.returncode}):\n{result.stderr}")
    return elapsed_s, _children_cpu_s() - cpu_before_s


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the figures; exit 1 when the median misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    # As a user's shell has it: bytecode is cached after the first run (as from a wheel).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    _run_once(env)  # warm-up: bytecode compiled and cached
    machine_before = MachineTimes.now()
    runs = [_run_once(env) for _ in range(args.runs)]
    walls_s = [wall_s for wall_s, _ in runs]
    cpus_s = [cpu_s for _, cpu_s in runs]
    machine = MachineTimes.now().since(machine_before)
    median_s = statistics.median(walls_s)
    figures = [
        Figure(
            "local hello, median wall",
            f"{median_s * 1000:.0f} ms",
            f"<= {_TARGET_S * 1000:.0f} ms",
            median_s <= _TARGET_S,
        ),
        Figure("local hello, p90 wall", f"{percentile(walls_s, 0.9) * 1000:.0f} ms", "", None),
        Figure("local hello, min wall", f"{min(walls_s) * 1000:.0f} ms", "", None),
        Figure(
            "local hello, median CPU (user+sys, all processes)",
            f"{statistics.median(cpus_s) * 1000:.0f} ms",
            "",
            None,
        ),
        Figure("machine busy / idle / stolen", machine.shares(), "", None),
    ]
    print(f"{args.runs} runs of: {' '.join(_COMMAND[1:])}\n")
    print_figures(figures)
    return 0 if median_s <= _TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
