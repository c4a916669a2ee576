#!/usr/bin/env python3
"""Real flows through runner + server + ``flomation-executor``, warm and spawned (issue 19).

A 4-node flow (trigger -> string/concatenate -> string/upper_case -> output/set) runs through
the project's ``flomation-server`` and ``flomation-runner`` with the real ``flomation-executor``,
all on this host, once with the warm executor (``warm_executor = on``: each execution forked from
a pre-imported executor) and once spawning the executor per execution (``off``), in the same run:

- throughput: 500 executions (100 with ``--quick``) queued before a runner with 16 slots
  starts; flows/s from the first claim to the last stored result (server timestamps), and CPU
  per flow (runner, server, and the whole machine, executors included);
- latency: 100 executions (30 with ``--quick``) one at a time on an idle runner, from the
  execute call (the admin API) to the stored result (the server's ``completed_at``): p50 and
  p99;
- the warm process's own RSS (the fork server, measured apart from the runner).

The load average is printed before and after: this machine is shared, and the figures follow it.
Run it with ``make bench-flows`` or::

    .venv/bin/python bench/flow_bench.py [--quick] [--mode warm|spawned]... [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from executor_bench import flow_node, string_input
from runner_bench import Runner, Stack, iso_seconds, server
from support import (
    BIN,
    Figure,
    MachineTimes,
    cpu_seconds,
    cpu_seconds_with_children,
    load_average,
    memory_kib,
    percentile,
    print_figures,
    work_directory,
)

EXECUTOR = BIN / "flomation-executor"
SLOTS = 16
_MODES = {"warm": "on", "spawned": "off"}


def four_node_flow() -> dict[str, Any]:
    """trigger -> string/concatenate -> string/upper_case -> output/set."""
    return {
        "nodes": [
            flow_node("t", "trigger/manual", 1, []),
            flow_node(
                "c",
                "string/concatenate",
                2,
                [string_input("a", "hello, "), string_input("b", "world")],
            ),
            flow_node("u", "string/upper_case", 2, [string_input("value", "${result}")]),
            flow_node(
                "o",
                "output/set",
                3,
                [string_input("name", "greeting"), string_input("value", "${result}")],
            ),
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "c"},
            {"id": "e2", "source": "c", "target": "u"},
            {"id": "e3", "source": "u", "target": "o"},
        ],
    }


def _our_cpu_s(runner_pid: int, fork_server_pid: int | None) -> float:
    """CPU of the runner, the executors it reaped, the fork server and the children it reaped.

    Spawned executors are the runner's children; forked ones the fork server's, which is the
    runner's child but reaped only when the runner stops (so nothing is counted twice).
    """
    total = cpu_seconds_with_children(runner_pid)
    if fork_server_pid is not None:
        total += cpu_seconds_with_children(fork_server_pid)
    return total


def _log_event(runner: Runner, event: str) -> dict[str, Any] | None:
    """The first line of the runner's log with this ``event``, if any yet."""
    for line in runner.log.path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event:
            return dict(entry)
    return None


async def _started(runner: Runner, mode: str) -> int | None:
    """Once the runner is about to claim: the fork server's pid (None when spawning)."""
    event = "warm executor started" if mode == "warm" else "warm executor"
    async with asyncio.timeout(120):
        while _log_event(runner, event) is None:
            await asyncio.sleep(0.01)
    return _fork_server_pid(runner)


def _fork_server_pid(runner: Runner) -> int | None:
    """The fork server's pid from the runner's ``warm executor started`` log line."""
    entry = _log_event(runner, "warm executor started")
    return None if entry is None else int(entry["fork_server_pid"])


def _runner_env(mode: str) -> dict[str, str]:
    return {"FLOMATION_RUNNER_WARM_EXECUTOR": _MODES[mode]}


async def throughput(stack: Stack, flo_id: str, mode: str, count: int) -> list[Figure]:
    """``count`` executions queued, then one runner with 16 slots drains them."""
    ids = [await stack.admin.execute(flo_id) for _ in range(count)]
    async with stack.runner(
        f"throughput-{mode}", slots=SLOTS, executor=EXECUTOR, extra_env=_runner_env(mode)
    ) as runner:
        fork_server = await _started(runner, mode)
        cpu_before, server_before = cpu_seconds(runner.pid), cpu_seconds(stack.server_pid)
        ours_before = _our_cpu_s(runner.pid, fork_server)
        machine_before = MachineTimes.now()
        await runner.log.wait_delivered(ids, 600)
        machine = MachineTimes.now().since(machine_before)
        ours_s = _our_cpu_s(runner.pid, fork_server) - ours_before
        runner_cpu_s = cpu_seconds(runner.pid) - cpu_before
        server_cpu_s = cpu_seconds(stack.server_pid) - server_before
        executions = await stack.finished(runner, ids, 600)
    ours_ms = (ours_s + server_cpu_s) / count * 1000
    first = min(iso_seconds(e["allocated_at"]) for e in executions)
    last = max(iso_seconds(e["completed_at"]) for e in executions)
    succeeded = [e for e in executions if e["completion_status"] == "success"]
    outputs = {json.dumps(e["result"].get("outputs")) for e in succeeded}
    rate = len(succeeded) / (last - first)
    return [
        Figure(
            f"[{mode}] 4-node flows/s, {SLOTS} slots ({len(succeeded)}/{count} ok)",
            f"{rate:.1f} flows/s",
            ">= 100/s",
            rate >= 100 and len(succeeded) == count and outputs == {'{"greeting": "HELLO, WORLD"}'},
        ),
        Figure(
            f"[{mode}]   CPU per flow: runner + executors + server",
            f"{ours_ms:.1f} ms",
            "-",
            None,
        ),
        Figure(
            f"[{mode}]   flows/s two idle cores would give at that CPU",
            f"{2000 / ours_ms:.0f} flows/s",
            "(estimate)",
            None,
        ),
        Figure(
            f"[{mode}]   machine CPU per flow (every process, others' too)",
            f"{machine.busy_s / count * 1000:.1f} ms",
            "-",
            None,
        ),
        Figure(
            f"[{mode}]   runner / server CPU per flow",
            f"{runner_cpu_s / count * 1000:.1f} / {server_cpu_s / count * 1000:.1f} ms",
            "-",
            None,
        ),
        Figure(f"[{mode}]   machine busy / idle / stolen", machine.shares(), "-", None),
    ]


async def latency(stack: Stack, flo_id: str, mode: str, count: int) -> list[Figure]:
    """One execution at a time on an idle runner: execute call -> stored result."""
    samples: list[float] = []
    rss_mib = None
    async with stack.runner(
        f"latency-{mode}", slots=SLOTS, executor=EXECUTOR, extra_env=_runner_env(mode)
    ) as runner:
        measured: list[str] = []
        for index in range(count + 3):
            await asyncio.sleep(0.05)  # idle between executions: no overlap with the last one
            called_at = time.time()
            execution_id = await stack.admin.execute(flo_id)
            (execution,) = await stack.finished(runner, [execution_id], 60)
            if index >= 3 and execution["completion_status"] == "success":  # 3 warm-up runs
                samples.append((iso_seconds(execution["completed_at"]) - called_at) * 1000)
                measured.append(execution_id)
        timings = await runner.log.wait_timings(measured, 10)
        server_pid = _fork_server_pid(runner)
        if server_pid is not None:
            rss_mib = memory_kib(server_pid, "VmRSS") / 1024
    figures = []
    if not samples:
        return [Figure(f"[{mode}] execute -> stored result", "no samples", "", False)]
    p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
    figures.append(
        Figure(
            f"[{mode}] execute -> stored result p50 / p99 ({len(samples)} runs)",
            f"{p50:.1f} / {p99:.1f} ms",
            "<= 25 / <= 60 ms",
            p50 <= 25 and p99 <= 60,
        )
    )
    phases = [
        (name, [float(t[name]) for t in timings if t.get(name) is not None])
        for name in ("claim_to_spawn_ms", "executor_ms", "exit_to_ack_ms")
    ]
    figures.append(
        Figure(
            f"[{mode}]   p50 claim->started / executor / exit->acknowledged",
            " / ".join(f"{percentile(values, 0.5):.1f}" for _, values in phases if values) + " ms",
            "-",
            None,
        )
    )
    if rss_mib is not None:
        figures.append(Figure(f"[{mode}]   warm process RSS", f"{rss_mib:.1f} MiB", "-", None))
    return figures


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument(
        "--mode", action="append", choices=tuple(_MODES), help="only this mode (repeatable)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, databases)"
    )
    args = parser.parse_args()
    throughput_count, latency_count = (100, 30) if args.quick else (500, 100)
    modes = args.mode or list(_MODES)
    figures: list[Figure] = []
    load_before = load_average()
    with work_directory("flomation-flow-bench-", keep=args.keep) as tmp:
        async with server(Path(tmp)) as stack:
            flo = await stack.admin.create_flo(
                "bench-4-node", four_node_flow(), queue_id=stack.queue_id
            )
            for mode in modes:
                for step, run in (("throughput", throughput), ("latency", latency)):
                    print(f"running: {step} ({mode}) ...", file=sys.stderr, flush=True)
                    started = time.monotonic()
                    count = throughput_count if step == "throughput" else latency_count
                    figures.extend(await run(stack, flo["id"], mode, count))
                    print(f"  done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    figures.append(Figure("load average before / after (1, 5, 15 min)", "", "-", None))
    figures.append(Figure(f"  {load_before}  /  {load_average()}", "", "-", None))
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
