#!/usr/bin/env python3
"""Runner benchmarks (issue 7): overhead, throughput, log forwarding, idle cost and scale.

Starts the project's ``flomation-server`` on loopback and ``flomation-runner`` processes driving
minimal shell executors (so the runner's own cost is what is measured): ``minimal_executor.sh``
for throughput, ``minimal_executor.bash`` where the executor must time itself or sleep. It then
prints a table of figures next to their targets. Run it with ``make bench`` or::

    .venv/bin/python bench/runner_bench.py [--quick] [--only STEP]... [--keep]

Per-execution overhead is reported twice:

- runner-logged: the runner's own ``execution timings`` log line, claim response received ->
  executor spawned plus executor exit seen -> result acknowledged by the server;
- outside: the server's ``allocated_at`` -> the minimal executor's first instruction, plus its
  last instruction -> the server's ``completed_at``. This includes the executor interpreter's
  start-up and shut-down, so it is an upper bound.

The bench follows executions through the runner's JSON log ("result delivered") and fetches
each execution once at the end: polling the server's execution view (which carries the whole
result) would load the server being measured. CPU figures come from /proc (runner and server
processes only, executors excluded).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import shlex
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flomation.server.admin_answers import ExecutionAnswer
from flomation.server.admin_client import AdminClient
from flomation.wire.jsontext import JsonObject
from support import (
    BIN,
    Figure,
    MachineTimes,
    cpu_seconds,
    memory_kib,
    percentile,
    print_figures,
    server_process,
    stop_process,
    work_directory,
)

ROOT = Path(__file__).resolve().parents[1]
MINIMAL_EXECUTOR = ROOT / "bench" / "minimal_executor.bash"
THROUGHPUT_EXECUTOR = ROOT / "bench" / "minimal_executor.sh"  # no timestamps, no directives
TIMINGS_EVENT = "execution timings"
SCALE_SLEEP_S = 20.0


def iso_seconds(text: str | None) -> float:
    """Seconds since the epoch of an ISO 8601 timestamp as the server writes it (``...Z``)."""
    if text is None:
        raise ValueError("the execution has no such time (yet)")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Stack:
    """A server process, an admin client and (started separately) runner processes."""

    def __init__(
        self, home: Path, admin: AdminClient, url: str, code: str, queue_id: str, server_pid: int
    ) -> None:
        self.server_pid = server_pid
        self.home = home
        self.admin = admin
        self.url = url
        self.code = code
        self.queue_id = queue_id

    @contextlib.asynccontextmanager
    async def runner(
        self,
        name: str,
        slots: int,
        executor: Path = MINIMAL_EXECUTOR,
        extra_env: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Runner]:
        """A runner with ``slots`` slots running ``executor``, its own state and work directory.

        ``extra_env`` adds or overrides runner settings (``FLOMATION_RUNNER_*``).
        """
        base = self.home / name
        repeat = 1
        while base.exists():  # the same step run again (--only logs --only logs)
            repeat += 1
            base = self.home / f"{name}-{repeat}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOMATION_", "RUNNER_"))}
        env.update(
            FLOMATION_API=self.url,
            FLOMATION_REGISTRATION_CODE=self.code,
            FLOMATION_RUNNER_NAME=name,
            FLOMATION_RUNNER_STATE_DIRECTORY=str(base / "state"),
            FLOMATION_RUNNER_CERTIFICATE_PATH=str(base / "state" / "key.pem"),
            FLOMATION_RUNNER_EXECUTION_DIRECTORY=str(base / "work"),
            # A shell executor: a Python one would spend ~20 ms of CPU per execution starting
            # its interpreter, on the same two cores the runner is measured on.
            FLOMATION_RUNNER_EXECUTABLE_NAME=shlex.join([str(executor)]),
            MINIMAL_EXECUTOR_PYTHON=sys.executable,
            FLOMATION_RUNNER_MAX_EXECUTORS=str(slots),
            FLOMATION_RUNNER_LOG_FORMAT="json",
            # The default level: its per-execution lines are part of the runner's real cost,
            # and the bench follows executions through them instead of polling the server.
            FLOMATION_RUNNER_LOG_LEVEL="info",
            FLOMATION_RUNNER_MIN_FREE_DISK_BYTES="0",
        )
        env.update(extra_env or {})
        base.mkdir(parents=True)
        log_path = base / "runner.log"
        with log_path.open("w") as log:
            process = await asyncio.create_subprocess_exec(
                str(BIN / "flomation-runner"), env=env, stdout=log, stderr=log, cwd=base
            )
            try:
                yield Runner(process, RunnerLog(log_path))
            finally:
                await stop_process(process)

    async def flow(self, plan: JsonObject) -> str:
        """A flow whose document carries the minimal executor's plan."""
        flo = await self.admin.create_flo(
            f"bench-{secrets.token_hex(4)}",
            {"nodes": [], "edges": [], "bench": plan},
            queue_id=self.queue_id,
        )
        return flo["id"]

    async def finished(
        self, runner: Runner, ids: list[str], timeout_s: float
    ) -> list[ExecutionAnswer]:
        """The executions, fetched once each after the runner logged their results delivered.

        Following the runner's log instead of polling the server keeps the bench from loading
        the server (an execution's view holds its whole result) while it is being measured.
        """
        await runner.log.wait_delivered(ids, timeout_s)
        return [await self.admin.get_execution(execution_id) for execution_id in ids]


@dataclass
class Runner:
    """A running ``flomation-runner`` process and its log."""

    process: asyncio.subprocess.Process
    log: RunnerLog

    @property
    def pid(self) -> int:
        return self.process.pid


class RunnerLog:
    """Follows a runner's JSON log file: delivered results and per-execution phase timings."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.delivered: set[str] = set()
        self.started: set[str] = set()
        self.timings: dict[str, dict[str, Any]] = {}

    def read_new(self) -> None:
        """Parse the lines appended since the last call."""
        with self.path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            event = entry.get("event")
            if event == "executor started":
                self.started.add(entry["execution_id"])
            elif event == "result delivered":
                self.delivered.add(entry["execution_id"])
            elif event == TIMINGS_EVENT:
                self.timings[entry["execution_id"]] = entry

    async def _wait_until(self, done: Callable[[], bool], timeout_s: float) -> None:
        """Read the log every 10 ms until ``done()``; TimeoutError after ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            while True:
                self.read_new()
                if done():
                    return
                await asyncio.sleep(0.01)

    async def wait_delivered(self, ids: list[str], timeout_s: float) -> None:
        """Return once the runner logged every one of ``ids`` as delivered."""
        await self._wait_until(lambda: self.delivered.issuperset(ids), timeout_s)

    async def wait_started(self, ids: list[str], timeout_s: float) -> None:
        """Return once the runner logged every one of ``ids`` as started."""
        await self._wait_until(lambda: self.started.issuperset(ids), timeout_s)

    async def wait_timings(self, ids: list[str], timeout_s: float) -> list[dict[str, Any]]:
        """The timing lines of ``ids`` (logged just after the result was acknowledged)."""
        with contextlib.suppress(TimeoutError):
            await self._wait_until(lambda: all(i in self.timings for i in ids), timeout_s)
        return [self.timings[i] for i in ids if i in self.timings]


@contextlib.asynccontextmanager
async def server(home: Path) -> AsyncIterator[Stack]:
    """``flomation-server`` on 127.0.0.1 (random port) with room for big logs, and a queue."""
    async with (
        server_process(
            home / "server.db", secrets.token_urlsafe(24), "--max-log-bytes", str(512 * 1024**2)
        ) as running,
        AdminClient(running.url, running.admin_token) as admin,
    ):
        queue = await admin.create_queue("bench")
        yield Stack(home, admin, running.url, queue["registration_code"], queue["id"], running.pid)


def _outside_ms(execution: ExecutionAnswer) -> float:
    """Server allocated_at -> executor's first instruction, plus its last -> completed_at."""
    outputs = execution["result"]["outputs"]
    before = float(outputs["started_at"]) - iso_seconds(execution["allocated_at"])
    after = iso_seconds(execution["completed_at"]) - float(outputs["exited_at"])
    return (before + after) * 1000


def _inside_ms(timing: dict[str, Any]) -> float:
    """The runner's own phases: claim received -> executor spawned, exited -> acknowledged."""
    return float(timing["claim_to_spawn_ms"]) + float(timing["exit_to_ack_ms"])


def _overhead_figures(
    label: str, executions: list[ExecutionAnswer], timings: list[dict[str, Any]]
) -> list[Figure]:
    outside = [_outside_ms(e) for e in executions if e["completion_status"] == "success"]
    inside = [_inside_ms(t) for t in timings if t.get("exit_to_ack_ms") is not None]
    figures = []
    for kind, samples in (("runner-logged", inside), ("outside", outside)):
        if not samples:
            figures.append(Figure(f"{label} ({kind})", "no samples", "", False))
            continue
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        figures.append(Figure(f"{label} p50 ({kind})", f"{p50:.1f} ms", "<= 15 ms", p50 <= 15))
        figures.append(Figure(f"{label} p99 ({kind})", f"{p99:.1f} ms", "<= 60 ms", p99 <= 60))
    return figures


async def overhead(stack: Stack, count: int) -> list[Figure]:
    """Sequential executions on one slot: runner time around the executor, p50 and p99."""
    flo_id = await stack.flow({})
    executions: list[ExecutionAnswer] = []
    async with stack.runner("overhead", slots=1) as runner:
        for _ in range(count):
            execution_id = await stack.admin.execute(flo_id)
            executions.extend(await stack.finished(runner, [execution_id], 60))
        timings = await runner.log.wait_timings([e["id"] for e in executions], 10)
    warm = min(5, len(executions) // 10)  # the first runs warm caches
    return _overhead_figures("overhead per execution", executions[warm:], timings[warm:])


async def throughput(stack: Stack, count: int) -> list[Figure]:
    """``count`` executions queued before one runner with 16 slots starts: the drain rate.

    Timed from the first claim to the last stored result (server timestamps), so the runner's
    start-up and the queueing of the work are not part of it.
    """
    flo_id = await stack.flow({})
    ids = [await stack.admin.execute(flo_id) for _ in range(count)]
    async with stack.runner("throughput", slots=16, executor=THROUGHPUT_EXECUTOR) as runner:
        cpu_before, server_cpu_before = cpu_seconds(runner.pid), cpu_seconds(stack.server_pid)
        machine_before = MachineTimes.now()
        await runner.log.wait_delivered(ids, 300)
        machine = MachineTimes.now().since(machine_before)
        runner_cpu_s = cpu_seconds(runner.pid) - cpu_before
        server_cpu_s = cpu_seconds(stack.server_pid) - server_cpu_before
        executions = await stack.finished(runner, ids, 300)
    first = min(iso_seconds(e["allocated_at"]) for e in executions)
    last = max(iso_seconds(e["completed_at"]) for e in executions)
    succeeded = sum(1 for e in executions if e["completion_status"] == "success")
    rate = succeeded / (last - first)
    per_execution_ms = runner_cpu_s / count * 1000
    return [
        Figure("throughput, 16 slots", f"{rate:.1f} executions/s", ">= 100/s", rate >= 100),
        Figure("  runner CPU per execution", f"{per_execution_ms:.1f} ms", "-", None),
        Figure("  server CPU per execution", f"{server_cpu_s / count * 1000:.1f} ms", "-", None),
        Figure(
            "  machine CPU per execution (every process)",
            f"{machine.busy_s / count * 1000:.1f} ms",
            "-",
            None,
        ),
        Figure("  machine busy / idle / stolen", machine.shares(), "-", None),
    ]


# The spool keeps at most max_spool_bytes of output on disk (docs/security.md): half of it the
# head, then the newest quarters. A writer that outruns the API by more than the head loses the
# middle of its live stream (marked with one drop line). 1,000,000 lines of 100 bytes are 100 MB,
# so the forwarding rate is measured with a spool that holds them; the default is measured too.
_FORWARDING_SPOOL_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class _Forwarded:
    """What one log-forwarding run delivered and what it cost."""

    lines: int
    stored_lines: int
    complete: bool
    rate: float  # lines/s, from the executor's first write to the stored result
    stall_ms: float
    runner_cpu_s: float
    server_cpu_s: float

    @property
    def delivered(self) -> str:
        if self.complete:
            return "all delivered"
        return f"LOST: {self.stored_lines:,} of {self.lines:,} stored"


async def log_forwarding(stack: Stack, lines: int) -> list[Figure]:
    """One executor writing 100-byte lines as fast as it can, with a spool that holds them all.

    The runner closes the live stream (every batch acknowledged, or given up) before it stores
    the result, so once the result is in, the stored log is final.
    """
    run = await _forward_lines(
        stack, lines, {"FLOMATION_RUNNER_MAX_SPOOL_BYTES": str(_FORWARDING_SPOOL_BYTES)}
    )
    default = await _forward_lines(stack, lines, {})
    default_mib = _default_spool_bytes() / (1024 * 1024)
    return [
        Figure(
            f"log lines forwarded ({run.delivered})",
            f"{run.rate:,.0f} lines/s",
            ">= 200,000/s",
            run.rate >= 200_000 and run.complete,
        ),
        Figure(
            "longest executor write stall", f"{run.stall_ms:.1f} ms", "<= 50 ms", run.stall_ms <= 50
        ),
        Figure(
            "  runner / server CPU per 100k lines",
            f"{run.runner_cpu_s / lines * 1e5:.2f} s / {run.server_cpu_s / lines * 1e5:.2f} s",
            "-",
            None,
        ),
        Figure(
            f"  with the default {default_mib:g} MiB spool ({default.delivered})",
            f"{default.rate:,.0f} lines/s",
            "-",
            None,
        ),
    ]


def _default_spool_bytes() -> int:
    """The runner's default ``execution.max_spool_bytes`` (runner/config/model.py)."""
    from flomation.runner.config import RunnerConfig

    (field,) = (f for f in dataclasses.fields(RunnerConfig) if f.name == "max_spool_bytes")
    assert isinstance(field.default, int)
    return field.default


async def _forward_lines(stack: Stack, lines: int, extra_env: Mapping[str, str]) -> _Forwarded:
    flo_id = await stack.flow({"lines": lines, "line_bytes": 100})
    async with stack.runner("logs", slots=1, extra_env=extra_env) as runner:
        cpu_before, server_cpu_before = cpu_seconds(runner.pid), cpu_seconds(stack.server_pid)
        execution_id = await stack.admin.execute(flo_id)
        (execution,) = await stack.finished(runner, [execution_id], 300)
        runner_cpu_s = cpu_seconds(runner.pid) - cpu_before
        server_cpu_s = cpu_seconds(stack.server_pid) - server_cpu_before
    outputs = execution["result"]["outputs"]
    forwarding_s = iso_seconds(execution["completed_at"]) - outputs["started_at"]
    return _Forwarded(
        lines=lines,
        stored_lines=round(execution["log_bytes"] / 100),
        complete=execution["log_bytes"] >= lines * 100 and not execution["log_truncated"],
        rate=lines / forwarding_s,
        stall_ms=outputs["longest_write_stall_s"] * 1000,
        runner_cpu_s=runner_cpu_s,
        server_cpu_s=server_cpu_s,
    )


async def idle(stack: Stack, seconds: float) -> list[Figure]:
    """16 idle slots long-polling."""
    async with stack.runner("idle", slots=16) as runner:
        await asyncio.sleep(2.0)
        cpu_before, wall_before = cpu_seconds(runner.pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu = (cpu_seconds(runner.pid) - cpu_before) / (time.monotonic() - wall_before) * 100
        rss_mib = memory_kib(runner.pid, "VmRSS") / 1024
    return [
        Figure("idle CPU, 16 slots", f"{cpu:.2f} % of a core", "<= 1 %", cpu <= 1),
        Figure("idle RSS, 16 slots", f"{rss_mib:.1f} MiB", "<= 60 MiB", rss_mib <= 60),
    ]


async def _wait_running(stack: Stack, flo_id: str, count: int, timeout_s: float) -> None:
    """Until the server has ``count`` executions of ``flo_id`` in the ``running`` state."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = await stack.admin.list_executions(flo_id=flo_id, status="running", limit=1000)
        if len(running) >= count:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"fewer than {count} executions running after {timeout_s} s")


async def scale(stack: Stack, concurrent: int, probes: int) -> list[Figure]:
    """``concurrent`` sleeping executions on one runner, and the overhead of work next to them.

    The runner gets one slot more than ``concurrent``. Once every sleeping execution runs (the
    server has them all ``running``: their executors started and their state posted), ``probes``
    minimal executions go through the spare slot one after the other: their overhead is the
    per-execution cost of a runner carrying ``concurrent`` executions, each polling its status.
    (The burst of ``concurrent`` executors starting at once saturates the 2 cores for a moment;
    how long the ramp took is reported on its own.)
    """
    sleeper = await stack.flow({"sleep_s": SCALE_SLEEP_S})
    probe = await stack.flow({})
    sleeping = [await stack.admin.execute(sleeper) for _ in range(concurrent)]
    async with stack.runner("scale", slots=concurrent + 1) as runner:
        ramp_started = time.monotonic()
        await runner.log.wait_started(sleeping, SCALE_SLEEP_S)
        await _wait_running(stack, sleeper, concurrent, SCALE_SLEEP_S)
        ramp_s = time.monotonic() - ramp_started
        probed: list[ExecutionAnswer] = []
        for _ in range(probes):
            execution_id = await stack.admin.execute(probe)
            probed.extend(await stack.finished(runner, [execution_id], 60))
        still_running = not runner.log.delivered.intersection(sleeping)
        executions = await stack.finished(runner, sleeping, 180)
        peak_mib = memory_kib(runner.pid, "VmHWM") / 1024
        timings = await runner.log.wait_timings([e["id"] for e in probed], 10)
    ok = sum(1 for e in executions if e["completion_status"] == "success")
    return [
        Figure(
            f"peak RSS, {concurrent} concurrent",
            f"{peak_mib:.0f} MiB",
            "<= 150 MiB",
            peak_mib <= 150,
        ),
        Figure(
            f"  {concurrent} started in / succeeded",
            f"{ramp_s:.1f} s / {ok}/{concurrent}",
            "all",
            ok == concurrent and still_running,
        ),
        *_overhead_figures(f"overhead next to {concurrent} running", probed, timings),
    ]


_STEPS = ("overhead", "throughput", "logs", "idle", "scale")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument(
        "--only", action="append", choices=_STEPS, help="run only this step (repeatable)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, databases)"
    )
    args = parser.parse_args()
    scale_factor = 0.2 if args.quick else 1.0
    steps: dict[str, Callable[[Stack], Awaitable[list[Figure]]]] = {
        "overhead": lambda stack: overhead(stack, int(200 * scale_factor)),
        "throughput": lambda stack: throughput(stack, int(1000 * scale_factor)),
        "logs": lambda stack: log_forwarding(stack, int(1_000_000 * scale_factor)),
        "idle": lambda stack: idle(stack, 20 * scale_factor),
        "scale": lambda stack: scale(stack, 200 if not args.quick else 40, int(100 * scale_factor)),
    }
    figures: list[Figure] = []
    with work_directory("flomation-bench-", keep=args.keep) as tmp:
        async with server(Path(tmp)) as stack:
            for name in args.only or _STEPS:
                print(f"running: {name} ...", file=sys.stderr, flush=True)
                started = time.monotonic()
                figures.extend(await steps[name](stack))
                print(f"  done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
