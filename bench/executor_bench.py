"""Executor start-up and scale benchmark (issue 4 acceptance figures).

Measures, hyperfine-style (repeated runs, wall time around each subprocess with
``time.perf_counter``), four figures of ``python -m flomation_executor``:

1. ``--version``;
2. a three-node flow (trigger → string/upper_case → output/set);
3. a chain of 1,000 nodes;
4. a ``conditional/for`` loop of 10,000 iterations.

and the peak RSS of the executor process. Prints a table.

Peak RSS: Linux carries the parent's RSS high-water mark across fork/vfork+exec, so the rusage
of a child started from this (larger) Python process cannot report less than this process's own
peak. When GNU ``time`` is installed, one extra run per case is made under it (it forks from a
small process) and its ``%M`` is reported; otherwise the ``os.wait4`` figure, marked ``≤``.

Targets: figures 1 and 2 under 150 ms; 3 and 4 complete with bounded memory.

Usage: ``python bench/executor_bench.py [--runs N] [--large-runs N] [--keep-dont-write-bytecode]``

By default the child runs without ``PYTHONDONTWRITEBYTECODE`` so that, after one warm-up run,
modules load from cached bytecode, as they do from an installed wheel.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["main"]

_BUDGET_MS = 150.0


def flow_node(
    node_id: str, action: str, routing: int, inputs: list[dict[str, Any]]
) -> dict[str, Any]:
    """A node of a flow document (docs/flows.md): its action, routing type and inputs."""
    return {
        "id": node_id,
        "type": action,
        "data": {"id": node_id, "label": action, "config": {"type": routing, "inputs": inputs}},
    }


def string_input(name: str, value: Any) -> dict[str, Any]:
    """A node input of type string (docs/flows.md)."""
    return {"name": name, "type": "string", "value": value}


def three_node_flow() -> dict[str, Any]:
    """trigger → upper_case → output/set."""
    return {
        "nodes": [
            flow_node("t", "trigger/manual", 1, []),
            flow_node("up", "string/upper_case", 2, [string_input("value", "hello")]),
            flow_node(
                "out",
                "output/set",
                3,
                [string_input("name", "greeting"), string_input("value", "${result}")],
            ),
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "up"},
            {"id": "e2", "source": "up", "target": "out"},
        ],
    }


def chain_flow(length: int) -> dict[str, Any]:
    """A trigger followed by ``length - 1`` string/concatenate nodes, each feeding the next."""
    nodes = [flow_node("n0", "trigger/manual", 1, [])]
    edges = []
    for index in range(1, length):
        nodes.append(
            flow_node(
                f"n{index}",
                "string/concatenate",
                2,
                [string_input("a", "x"), string_input("b", f"{index}")],
            )
        )
        edges.append({"id": f"e{index}", "source": f"n{index - 1}", "target": f"n{index}"})
    return {"nodes": nodes, "edges": edges}


def loop_flow(iterations: int) -> dict[str, Any]:
    """A ``conditional/for`` loop whose body stores ``${var.loop.index}``, then an output."""
    return {
        "nodes": [
            flow_node("t", "trigger/manual", 1, []),
            flow_node(
                "f",
                "conditional/for",
                5,
                [{"name": "count", "type": "integer", "value": iterations}],
            ),
            flow_node(
                "b",
                "common/set_variable",
                2,
                [string_input("name", "last"), string_input("value", "${var.loop.index}")],
            ),
            flow_node(
                "o",
                "output/set",
                3,
                [string_input("name", "last"), string_input("value", "${var.last}")],
            ),
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "f"},
            {"id": "e2", "source": "f", "target": "b", "sourceHandle": "loop"},
            {"id": "e3", "source": "f", "target": "o", "sourceHandle": "output"},
        ],
    }


@dataclass
class Figure:
    """Timings (ms) and peak RSS (KiB) of repeated runs of one command."""

    name: str
    wall_ms: list[float]
    peak_rss_kib: int
    exit_codes: set[int]
    rss_is_upper_bound: bool


def _run_once(command: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, int]:
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed_ms = (time.perf_counter() - started) * 1000
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed_ms, usage.ru_maxrss, process.returncode


def _gnu_time_rss_kib(command: Sequence[str], cwd: Path, env: dict[str, str]) -> int | None:
    """Peak RSS (KiB) of one run measured by GNU time, or None when it is not available."""
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    if gnu_time is None:
        return None
    report = cwd / "rss.txt"
    _run_once([gnu_time, "-f", "%M", "-o", str(report), *command], cwd, env)
    try:
        return int(report.read_text(encoding="utf-8").split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def measure(name: str, command: Sequence[str], cwd: Path, env: dict[str, str], runs: int) -> Figure:
    """One warm-up run, then ``runs`` measured runs, then one peak-RSS run."""
    _run_once(command, cwd, env)
    walls: list[float] = []
    peak = 0
    codes: set[int] = set()
    for _ in range(runs):
        wall_ms, rss_kib, code = _run_once(command, cwd, env)
        walls.append(wall_ms)
        peak = max(peak, rss_kib)
        codes.add(code)
    measured = _gnu_time_rss_kib(command, cwd, env)
    return Figure(name, walls, measured or peak, codes, measured is None)


def _flow_command(executor: list[str], flow_path: Path) -> list[str]:
    return [
        *executor,
        "--output",
        "json",
        "--path",
        str(flow_path),
        "--id",
        "bench",
        "--flow",
        "bench",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the four measurements and print the table; exit 1 when a budget is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs of the small cases")
    parser.add_argument(
        "--large-runs", type=int, default=3, help="measured runs of the large cases"
    )
    parser.add_argument(
        "--keep-dont-write-bytecode",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE (every run compiles from source)",
    )
    options = parser.parse_args(argv)

    env = dict(os.environ)
    if not options.keep_dont_write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    executor = [sys.executable, "-m", "flomation_executor"]
    with tempfile.TemporaryDirectory(prefix="executor-bench-") as folder:
        work = Path(folder)
        flows = {
            "three.flow": three_node_flow(),
            "chain.flow": chain_flow(1000),
            "loop.flow": loop_flow(10_000),
        }
        for file_name, document in flows.items():
            (work / file_name).write_text(json.dumps(document), encoding="utf-8")
        figures = [
            measure("--version", [*executor, "--version"], work, env, options.runs),
            measure(
                "3-node flow", _flow_command(executor, work / "three.flow"), work, env, options.runs
            ),
            measure(
                "1,000-node chain",
                _flow_command(executor, work / "chain.flow"),
                work,
                env,
                options.large_runs,
            ),
            measure(
                "10,000-iteration loop",
                _flow_command(executor, work / "loop.flow"),
                work,
                env,
                options.large_runs,
            ),
        ]
    print(
        f"{'case':<24}{'runs':>5}{'mean ms':>10}{'min ms':>10}{'max ms':>10}{'stdev':>8}"
        f"{'peak RSS MiB':>14}{'exit':>6}"
    )
    failed = False
    for figure in figures:
        walls = figure.wall_ms
        stdev = statistics.stdev(walls) if len(walls) > 1 else 0.0
        print(
            f"{figure.name:<24}{len(walls):>5}{statistics.mean(walls):>10.1f}{min(walls):>10.1f}"
            f"{max(walls):>10.1f}{stdev:>8.1f}{figure.peak_rss_kib / 1024:>14.1f}"
            f"{','.join(map(str, sorted(figure.exit_codes))):>6}"
        )
        failed |= figure.exit_codes != {0}
    for figure in figures[:2]:
        if statistics.median(figure.wall_ms) >= _BUDGET_MS:
            print(
                f"over budget: {figure.name} median {statistics.median(figure.wall_ms):.1f} ms "
                f">= {_BUDGET_MS:.0f} ms"
            )
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
