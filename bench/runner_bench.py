#!/usr/bin/env python3
"""Runner benchmarks (issue 7): overhead, throughput, log forwarding, idle cost and scale.

Starts the project's ``flomation-server`` on loopback and a ``flomation-runner`` driving
``bench/minimal_executor.py`` (so the runner's own cost is what is measured), then prints a table
of figures next to their targets. Run it with ``make bench`` or::

    .venv/bin/python bench/runner_bench.py [--quick]

Per-execution overhead is measured from the outside and is therefore an upper bound: the time from
the server's ``allocated_at`` to the minimal executor's first instruction (which includes the
executor interpreter's own start-up), plus the time from the executor's last instruction to the
server's ``completed_at``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flomation.server.admin_client import AdminClient

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MINIMAL_EXECUTOR = ROOT / "bench" / "minimal_executor.py"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Figure:
    """One measured figure and its target."""

    name: str
    value: str
    target: str
    ok: bool | None


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _memory_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class Stack:
    """A server process, an admin client and (started separately) runner processes."""

    def __init__(self, home: Path, admin: AdminClient, url: str, code: str, queue_id: str) -> None:
        self.home = home
        self.admin = admin
        self.url = url
        self.code = code
        self.queue_id = queue_id

    @contextlib.asynccontextmanager
    async def runner(self, name: str, slots: int) -> AsyncIterator[asyncio.subprocess.Process]:
        """A runner with ``slots`` slots, its own state and work directories."""
        base = self.home / name
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOMATION_", "RUNNER_"))}
        env.update(
            FLOMATION_API=self.url,
            FLOMATION_REGISTRATION_CODE=self.code,
            FLOMATION_RUNNER_NAME=name,
            FLOMATION_RUNNER_STATE_DIRECTORY=str(base / "state"),
            FLOMATION_RUNNER_CERTIFICATE_PATH=str(base / "state" / "key.pem"),
            FLOMATION_RUNNER_EXECUTION_DIRECTORY=str(base / "work"),
            FLOMATION_RUNNER_EXECUTABLE_NAME=shlex.join([sys.executable, str(MINIMAL_EXECUTOR)]),
            FLOMATION_RUNNER_MAX_EXECUTORS=str(slots),
            FLOMATION_RUNNER_LOG_FORMAT="json",
            FLOMATION_RUNNER_LOG_LEVEL="warning",
            FLOMATION_RUNNER_MIN_FREE_DISK_BYTES="0",
        )
        base.mkdir(parents=True)
        with (base / "runner.log").open("w") as log:
            process = await asyncio.create_subprocess_exec(
                str(BIN / "flomation-runner"), env=env, stdout=log, stderr=log, cwd=base
            )
            try:
                yield process
            finally:
                if process.returncode is None:
                    process.terminate()
                    try:
                        await asyncio.wait_for(process.wait(), 30)
                    except TimeoutError:
                        process.kill()
                        await process.wait()

    async def flow(self, plan: dict[str, Any]) -> str:
        """A flow whose document carries the minimal executor's plan."""
        flo = await self.admin.create_flo(
            f"bench-{secrets.token_hex(4)}",
            {"nodes": [], "edges": [], "bench": plan},
            queue_id=self.queue_id,
        )
        return str(flo["id"])

    async def wait_finished(self, ids: list[str], timeout_s: float) -> list[dict[str, Any]]:
        """The executions once every one of them has a terminal completion."""
        deadline = time.monotonic() + timeout_s
        pending = set(ids)
        finished: dict[str, dict[str, Any]] = {}
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} executions still not finished")
            for execution_id in list(pending)[:200]:
                execution = await self.admin.get_execution(execution_id)
                if execution["completion_status"] not in ("pending",):
                    finished[execution_id] = execution
                    pending.discard(execution_id)
            if pending:
                await asyncio.sleep(0.05)
        return [finished[i] for i in ids]


@contextlib.asynccontextmanager
async def server(home: Path) -> AsyncIterator[Stack]:
    """``flomation-server`` on 127.0.0.1 (random port) with room for big logs."""
    token = secrets.token_urlsafe(24)
    env = dict(os.environ, FLOMATION_SERVER_ADMIN_TOKEN=token)
    process = await asyncio.create_subprocess_exec(
        str(BIN / "flomation-server"),
        "--listen",
        "127.0.0.1:0",
        "--database",
        f"sqlite:///{home / 'server.db'}",
        "--max-log-bytes",
        str(512 * 1024 * 1024),
        "--log-level",
        "warning",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    url = ""
    while not url:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            raise RuntimeError("flomation-server exited during start-up")
        with contextlib.suppress(ValueError):
            url = json.loads(line).get("url", "")
    drain = asyncio.ensure_future(process.stdout.read())
    try:
        async with AdminClient(url, token) as admin:
            queue = await admin.create_queue("bench")
            yield Stack(home, admin, url, queue["registration_code"], queue["id"])
    finally:
        process.terminate()
        await process.wait()
        drain.cancel()


async def overhead(stack: Stack, count: int) -> list[Figure]:
    """Sequential executions on one slot: runner time around the executor, p50 and p99."""
    flo_id = await stack.flow({})
    samples: list[float] = []
    async with stack.runner("overhead", slots=1):
        for _ in range(count):
            execution_id = await stack.admin.execute(flo_id)
            (execution,) = await stack.wait_finished([execution_id], 60)
            outputs = execution["result"]["outputs"]
            before = outputs["started_at"] - _timestamp(execution["allocated_at"])
            after = _timestamp(execution["completed_at"]) - outputs["exited_at"]
            samples.append((before + after) * 1000)
    samples = samples[min(5, len(samples) // 10) :]  # the first runs warm caches
    p50, p99 = _percentile(samples, 0.5), _percentile(samples, 0.99)
    return [
        Figure("overhead per execution p50", f"{p50:.1f} ms", "<= 15 ms", p50 <= 15),
        Figure("overhead per execution p99", f"{p99:.1f} ms", "<= 60 ms", p99 <= 60),
    ]


async def throughput(stack: Stack, count: int) -> list[Figure]:
    """``count`` executions queued at once through one runner with 16 slots."""
    flo_id = await stack.flow({})
    async with stack.runner("throughput", slots=16):
        await asyncio.sleep(1.0)  # registered and polling
        started = time.monotonic()
        ids = [await stack.admin.execute(flo_id) for _ in range(count)]
        executions = await stack.wait_finished(ids, 300)
        elapsed = time.monotonic() - started
    succeeded = sum(1 for e in executions if e["completion_status"] == "success")
    rate = succeeded / elapsed
    return [Figure("throughput, 16 slots", f"{rate:.0f} executions/s", ">= 100/s", rate >= 100)]


async def log_forwarding(stack: Stack, lines: int) -> list[Figure]:
    """One executor writing 100-byte lines as fast as it can."""
    flo_id = await stack.flow({"lines": lines, "line_bytes": 100})
    async with stack.runner("logs", slots=1):
        execution_id = await stack.admin.execute(flo_id)
        (execution,) = await stack.wait_finished([execution_id], 300)
        delivered_at = time.time()
        while True:
            current = await stack.admin.get_execution(execution_id)
            if current["log_bytes"] >= lines * 99:
                break
            if time.time() - delivered_at > 60:
                break
            await asyncio.sleep(0.02)
        delivered_at = time.time()
    outputs = execution["result"]["outputs"]
    forwarding_s = max(delivered_at, _timestamp(execution["completed_at"])) - outputs["started_at"]
    rate = lines / forwarding_s
    stall_ms = outputs["longest_write_stall_s"] * 1000
    complete = current["log_bytes"] >= lines * 99 and not current["log_truncated"]
    return [
        Figure(
            "log lines forwarded (all delivered)" if complete else "log lines forwarded (LOST)",
            f"{rate:,.0f} lines/s",
            ">= 200,000/s",
            rate >= 200_000 and complete,
        ),
        Figure("longest executor write stall", f"{stall_ms:.1f} ms", "<= 50 ms", stall_ms <= 50),
    ]


async def idle(stack: Stack, seconds: float) -> list[Figure]:
    """16 idle slots long-polling."""
    async with stack.runner("idle", slots=16) as runner:
        await asyncio.sleep(2.0)
        cpu_before, wall_before = _cpu_s(runner.pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu = (_cpu_s(runner.pid) - cpu_before) / (time.monotonic() - wall_before) * 100
        rss_mib = _memory_kib(runner.pid, "VmRSS") / 1024
    return [
        Figure("idle CPU, 16 slots", f"{cpu:.2f} % of a core", "<= 1 %", cpu <= 1),
        Figure("idle RSS, 16 slots", f"{rss_mib:.0f} MB", "<= 60 MB", rss_mib <= 60),
    ]


async def scale(stack: Stack, concurrent: int) -> list[Figure]:
    """``concurrent`` sleeping executions at once on one runner."""
    flo_id = await stack.flow({"sleep_s": 3})
    async with stack.runner("scale", slots=concurrent) as runner:
        await asyncio.sleep(1.0)
        ids = [await stack.admin.execute(flo_id) for _ in range(concurrent)]
        executions = await stack.wait_finished(ids, 180)
        peak_mib = _memory_kib(runner.pid, "VmHWM") / 1024
    samples = [
        (e["result"]["outputs"]["started_at"] - _timestamp(e["allocated_at"]))
        + (_timestamp(e["completed_at"]) - e["result"]["outputs"]["exited_at"])
        for e in executions
        if e["completion_status"] == "success"
    ]
    p50 = statistics.median(samples) * 1000 if samples else float("nan")
    return [
        Figure(
            f"peak RSS, {concurrent} concurrent", f"{peak_mib:.0f} MB", "<= 150 MB", peak_mib <= 150
        ),
        Figure(
            f"overhead p50 at {concurrent} concurrent",
            f"{p50:.1f} ms ({len(samples)}/{concurrent} ok)",
            "<= 15 ms",
            p50 <= 15 and len(samples) == concurrent,
        ),
    ]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    args = parser.parse_args()
    scale_factor = 0.2 if args.quick else 1.0
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="flomation-bench-") as tmp:
        async with server(Path(tmp)) as stack:
            for name, step in (
                ("overhead", overhead(stack, int(200 * scale_factor))),
                ("throughput", throughput(stack, int(1000 * scale_factor))),
                ("log forwarding", log_forwarding(stack, int(1_000_000 * scale_factor))),
                ("idle", idle(stack, 20 * scale_factor)),
                ("scale", scale(stack, int(200 * scale_factor))),
            ):
                print(f"running: {name} ...", file=sys.stderr, flush=True)
                started = time.monotonic()
                figures.extend(await step)
                print(f"  done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    width = max(len(f.name) for f in figures)
    print(f"{'figure':<{width}}  {'measured':>28}  {'target':>14}  ok")
    for figure in figures:
        verdict = "-" if figure.ok is None else ("yes" if figure.ok else "NO")
        print(f"{figure.name:<{width}}  {figure.value:>28}  {figure.target:>14}  {verdict}")
    print(
        f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {os.uname().machine}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
