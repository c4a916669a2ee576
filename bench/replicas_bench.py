#!/usr/bin/env python3
"""Control plane on PostgreSQL (issue 17): two replicas on one database.

    .venv/bin/python bench/replicas_bench.py [--quick] [--postgres URL] [--prune-rows N]

Needs PostgreSQL (``--postgres``, default the machine's 127.0.0.1:5432, a maintenance database
URL); each step runs on a database of its own, created and dropped here. Every server is a real
``flomation-server`` subprocess; the simulated runners are server_bench.py's (one keep-alive
connection each, v1 signatures made before the clock starts). Three figures:

* wake-up across replicas: a runner's poll held by replica A, the execute call sent to replica
  B, time until A answers the poll (PostgreSQL LISTEN/NOTIFY carries it);
* lifecycle throughput (claim, state, logs, status, result) with the runners split over the two
  replicas, and both replicas' CPU per execution;
* retention: ``--prune-rows`` finished executions older than the retention are put in the
  database, then pruned by the replicas while runners work; the slowest runner round trip
  during the prune (every request timed, runners at a fixed rate), and the prune's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import psycopg
from sqlalchemy.engine import make_url

from flomation.server.admin_client import AdminClient
from server_bench import (
    ADMIN_TOKEN,
    FLOW,
    LOGS_BODY,
    RESULT_BODY,
    STATE_BODY,
    BenchRunner,
    enrol_runners,
    wakeup_figures,
    wakeups,
)
from support import (
    Figure,
    MachineTimes,
    ServerProcess,
    load_average,
    percentile,
    print_figures,
    server_process,
)
from support import user_system_seconds as cpu_of

_SECRET_KEY = "QmVuY2hTZWNyZXRLZXlCZW5jaFNlY3JldEtleUJlbmM="
_REPLICAS = 2
# How long the probe runs before the prune starts: the replicas' first requests (imports,
# prepared statements) are not what the figure is about.
_WARM_UP_S = 2.0
# Then the probe's requests without a prune, for comparison on a shared machine.
_BASELINE_S = 5.0


@contextlib.contextmanager
def _database(admin_url: str) -> Iterator[str]:
    name = f"flomation_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def _replicas(url: str, *options: str, **settings: str) -> AsyncIterator[list[ServerProcess]]:
    """Two servers on ``url``; ``settings`` are FLOMATION_SERVER_* variables (lower-case)."""
    environ = {"FLOMATION_SERVER_SECRET_KEY": _SECRET_KEY}
    environ.update({f"FLOMATION_SERVER_{k.upper()}": v for k, v in settings.items()})
    async with contextlib.AsyncExitStack() as stack:
        servers = []
        for _ in range(_REPLICAS):
            server = server_process(url, ADMIN_TOKEN, *options, environ=environ)
            servers.append(await stack.enter_async_context(server))
        yield servers


async def wakeup_across_replicas(admin_url: str, samples: int) -> list[Figure]:
    """Execute on replica B, poll held by replica A: time to A's 200."""
    with _database(admin_url) as url:
        async with (
            _replicas(url, "--poll-hold", "25") as (first, second),
            aiohttp.ClientSession() as session,
            AdminClient(second.url, ADMIN_TOKEN) as admin,
        ):
            latencies_ms = await wakeups(first.url, session, admin, samples)
    return [
        *wakeup_figures("wake-up across replicas", latencies_ms, 10.0),
        Figure("  load average (1, 5, 15 min) at the end", load_average(), "-", None),
    ]


async def _prepare(
    servers: list[ServerProcess], session: aiohttp.ClientSession, runners_count: int, count: int
) -> tuple[list[BenchRunner], list[str]]:
    """Runners spread over the replicas and ``count`` executions any of them may take, with
    every signature the runs need made now (polls: ``count`` plus three per runner)."""
    async with AdminClient(servers[0].url, ADMIN_TOKEN) as admin:
        per_replica = -(-runners_count // len(servers))
        runners: list[BenchRunner] = []
        for server in servers:
            # Each call enrols into a queue of its own; the flow below has none, so every
            # runner of a public queue may take its executions.
            runners += await enrol_runners(server.url, session, admin, per_replica, 0)
        flo = await admin.create_flo("throughput", FLOW)
        ids: list[str] = []
        for start in range(0, count, 100):
            batch = (admin.execute(flo["id"]) for _ in range(min(100, count - start)))
            ids += await asyncio.gather(*batch)
    _sign(runners, ids)
    return runners, ids


def _sign(runners: list[BenchRunner], ids: list[str]) -> None:
    """Every signature ``ids``' runs need (any runner may take any execution), with polls that
    carry the current time."""
    groups = {id(r.signatures): r.signatures for r in runners}.values()
    for signatures in groups:
        for body in (STATE_BODY, LOGS_BODY, RESULT_BODY):
            signatures.make(body, len(ids))
        for execution_id in ids:
            signatures.make(execution_id.encode(), 1)
    for signatures in groups:
        # Last: the server takes a claim within 300 s of the time it carries.
        signatures.renew_poll_body()
        group_size = sum(1 for runner in runners if runner.signatures is signatures)
        signatures.make(signatures.poll_body, len(ids) + 3 * group_size)


def _backend_pids(url: str) -> list[int]:
    """The PostgreSQL server processes connected to the database of ``url`` (this one's aside)."""
    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds the processes still alive have used so far."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += sum(cpu_of(pid))
    return total


async def _drive(
    url: str, servers: list[ServerProcess], runners: list[BenchRunner], count: int
) -> tuple[float, dict[str, float]]:
    """Run ``count`` executions through ``runners`` as fast as they go.

    Returns the elapsed seconds and the CPU seconds used meanwhile by the replicas, by the
    PostgreSQL processes serving them and by this process (the simulated runners).
    """
    remaining = count
    backends = _backend_pids(url)
    replicas = [server.pid for server in servers]
    cpu_start = (_cpu_s(replicas), _cpu_s(backends), time.process_time())
    started = time.perf_counter()
    elapsed_s = 0.0
    cpu: dict[str, float] = {}

    async def work(runner: BenchRunner) -> None:
        nonlocal remaining, elapsed_s, cpu
        while remaining > 0:
            pending = await runner.poll()
            if pending is None:
                continue
            execution = pending["execution"]
            assert isinstance(execution, dict)
            await runner.lifecycle(str(execution["id"]))
            remaining -= 1
            if remaining == 0:
                # The clock stops at the last result, not when the other runners' polls,
                # held because nothing is left, end.
                elapsed_s = time.perf_counter() - started
                cpu_end = (_cpu_s(replicas), _cpu_s(backends), time.process_time())
                names = ("replicas", "database", "runners")
                cpu = {n: e - s for n, s, e in zip(names, cpu_start, cpu_end, strict=True)}

    await asyncio.gather(*(work(runner) for runner in runners))
    for runner in runners:
        runner.close()
    return elapsed_s, cpu


async def lifecycle_throughput(admin_url: str, runners: int, executions: int) -> list[Figure]:
    """Executions per second through both replicas, and the CPU each execution costs."""
    with _database(admin_url) as url:
        async with (
            _replicas(url, "--poll-hold", "1") as servers,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        ):
            bench_runners, _ = await _prepare(servers, session, runners, executions)
            load = load_average()
            machine = MachineTimes.now()
            elapsed_s, cpu = await _drive(url, servers, bench_runners, executions)
            shares = MachineTimes.now().since(machine).shares()
    rate = executions / elapsed_s
    per_execution_ms = {name: 1000 * seconds / executions for name, seconds in cpu.items()}
    total_ms = sum(per_execution_ms.values())
    return [
        Figure(
            f"lifecycle throughput, 2 replicas on PostgreSQL, {runners} runners",
            f"{rate:.0f} executions/s",
            ">= 400/s",
            rate >= 400,
        ),
        Figure(
            "  CPU per execution: replicas / PostgreSQL / simulated runners",
            " / ".join(f"{per_execution_ms[n]:.2f}" for n in ("replicas", "database", "runners"))
            + " ms",
            "-",
            None,
        ),
        Figure(
            "  all three on 2 otherwise idle cores would allow",
            f"{2000 / total_ms:.0f} executions/s",
            "-",
            None,
        ),
        Figure("  machine busy / idle / stolen meanwhile", shares, "-", None),
        Figure("  load average (1, 5, 15 min) at the start", load, "-", None),
    ]


def _old_finished_executions(url: str, rows: int) -> psycopg.Connection[Any]:
    """``rows`` finished executions created a year ago, written straight into the database by
    a transaction left open: they appear at once when the connection returned commits."""
    db = psycopg.connect(url)
    try:
        db.execute(
            """
            INSERT INTO queues (id, name, registration_code, created_at)
            VALUES ('old-queue', 'old', 'old-code', 0)
            """
        )
        db.execute(
            """
            INSERT INTO flos (id, name, queue_id, created_at, execution_count)
            VALUES ('old-flow', 'old', 'old-queue', 0, 0)
            """
        )
        db.execute(
            """
            INSERT INTO executions (id, flo_id, name, owner_id, sequence, execution_status,
                completion_status, suspend_count, created_at, completed_at, log_bytes,
                log_truncated, log_seq)
            SELECT 'old-' || n, 'old-flow', 'old', 'bench', n, 'executed', 'success', 0,
                   extract(epoch from now()) - 365 * 86400 + n / 1000.0,
                   extract(epoch from now()) - 365 * 86400 + n / 1000.0, 0, false, 0
            FROM generate_series(1, %s) AS n
            """,
            (rows,),
        )
        # Written to disk now: the kernel's writeback of these rows would otherwise fall in the
        # probe and stall the runners' WAL flushes, before and during the prune alike.
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("CHECKPOINT")
    except BaseException:
        db.close()
        raise
    return db


def _old_left(url: str) -> bool:
    with psycopg.connect(url) as db:
        found = db.execute("SELECT 1 FROM executions WHERE flo_id = 'old-flow' LIMIT 1")
        return found.fetchone() is not None


async def _watch_prune(url: str) -> float:
    """Seconds until no old execution is left (checked twice a second, off the event loop)."""
    started = time.perf_counter()
    while await asyncio.to_thread(_old_left, url):
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def _paced(
    runners: list[BenchRunner], rate_per_s: float, count: int, latencies_ms: list[float]
) -> int:
    """Claim and run executions at ``rate_per_s`` (a fixed schedule, not as fast as they go)
    until ``count`` ran or the task is cancelled; every request's round trip goes to
    ``latencies_ms``. Returns how many ran."""
    free: asyncio.Queue[BenchRunner] = asyncio.Queue()
    for runner in runners:
        free.put_nowait(runner)
    done = 0

    async def run(runner: BenchRunner) -> None:
        nonlocal done
        pending = await runner.poll(latencies_ms)
        if pending is not None:
            execution = pending["execution"]
            assert isinstance(execution, dict)
            await runner.lifecycle(str(execution["id"]), latencies_ms)
            done += 1
        free.put_nowait(runner)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as tasks:
        for number in range(count):
            await asyncio.sleep(max(0.0, started + number / rate_per_s - time.perf_counter()))
            tasks.create_task(run(await free.get()))
    return done


def _spread(latencies_ms: list[float]) -> str:
    """p50 / p99 / p99.9 / max, and how many requests took over 50 and over 100 ms."""
    fractions = (0.5, 0.99, 0.999)
    spread = " / ".join(f"{percentile(latencies_ms, f):.1f}" for f in fractions)
    over_50, over_100 = (sum(1 for ms in latencies_ms if ms > bound) for bound in (50, 100))
    return f"{spread} / {max(latencies_ms):.1f} ms; {over_50} > 50 ms, {over_100} > 100 ms"


async def prune_under_load(
    admin_url: str, rows: int, rate_per_s: float, probe_s: float
) -> list[Figure]:
    """Every runner request's round trip while the replicas prune ``rows`` old executions.

    The runners work at a fixed, modest rate (a latency probe, not a saturating load). The
    executions they run and every signature are made first, through replicas that do not
    prune; the old executions are written by a transaction kept open while the pruning
    replicas start and the probe warms them up, and the prune starts when it commits.
    """
    count = round(rate_per_s * probe_s)
    with _database(admin_url) as url:
        async with (
            _replicas(url, "--poll-hold", "1", retention="0") as servers,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        ):
            runners, ids = await _prepare(servers, session, 8, count)
        for runner in runners:
            runner.close()
        old = _old_finished_executions(url, rows)
        try:
            _sign(runners, ids)  # polls carry the current time: signed after the insert
            latencies_ms: list[float] = []
            async with _replicas(url, "--poll-hold", "1", prune_interval="1") as servers:
                for number, runner in enumerate(runners):
                    runner.url = servers[number % len(servers)].url
                    await runner.connect()
                probe = asyncio.create_task(_paced(runners, rate_per_s, count, latencies_ms))
                await asyncio.sleep(_WARM_UP_S)
                before = len(latencies_ms)
                await asyncio.sleep(_BASELINE_S)
                baseline_ms = latencies_ms[before:]
                load = load_average()
                await asyncio.to_thread(old.commit)
                first = len(latencies_ms)
                prune_s = await _watch_prune(url)
                during_ms = latencies_ms[first:]
                covered = not probe.done()  # the probe still ran when the prune ended
                probe.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await probe
                for runner in runners:
                    runner.close()
        finally:
            old.close()
    slowest = max(during_ms, default=float("nan"))
    return [
        Figure(
            f"slowest runner request while pruning {rows:,} executions",
            f"{slowest:.1f} ms",
            "<= 100 ms",
            covered and slowest <= 100,
        ),
        Figure("  requests meanwhile: p50 / p99 / p99.9 / max", _spread(during_ms), "-", None),
        Figure(
            f"  the {_BASELINE_S:g} s before the prune: the same", _spread(baseline_ms), "-", None
        ),
        Figure(
            f"  requests meanwhile (runners at {rate_per_s:g} executions/s)",
            f"{len(during_ms):,} in {prune_s:.1f} s" + ("" if covered else " (probe ended first)"),
            "-",
            None,
        ),
        Figure("  prune rate", f"{rows / prune_s:,.0f} executions/s", "-", None),
        Figure("  load average (1, 5, 15 min) when the prune started", load, "-", None),
    ]


async def main() -> int:
    """Run the three benchmarks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, a smaller prune")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "FLOMATION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="URL of a maintenance database (bench databases are created beside it)",
    )
    parser.add_argument("--runners", type=int, default=20)
    parser.add_argument("--prune-rows", type=int, default=None)
    parser.add_argument(
        "--probe-rate", type=float, default=50.0, help="executions/s during the prune"
    )
    parser.add_argument(
        "--probe-seconds",
        type=float,
        default=None,
        help="longest probe (its executions and signatures are made first)",
    )
    parser.add_argument(
        "--only", choices=("wakeup", "throughput", "prune"), help="run one of the three steps"
    )
    args = parser.parse_args()
    samples = 50 if args.quick else 200
    executions = 300 if args.quick else 2000
    rows = args.prune_rows or (50_000 if args.quick else 1_000_000)
    figures: list[Figure] = []
    if args.only in (None, "wakeup"):
        figures += await wakeup_across_replicas(args.postgres, samples)
    if args.only in (None, "throughput"):
        figures += await lifecycle_throughput(args.postgres, args.runners, executions)
    if args.only in (None, "prune"):
        probe_s = args.probe_seconds or (30 if args.quick else 90)
        figures += await prune_under_load(args.postgres, rows, args.probe_rate, probe_s)
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    print_figures(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
