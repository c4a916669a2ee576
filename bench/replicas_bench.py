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
  (state, logs, status and result, four requests) during the prune, and the prune's rate.
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

import aiohttp
import psycopg
from server_bench import (
    ADMIN_TOKEN,
    FLOW,
    LOGS_BODY,
    RESULT_BODY,
    STATE_BODY,
    BenchRunner,
    _enrol,
    wakeups,
)
from sqlalchemy.engine import make_url
from support import Figure, MachineTimes, ServerProcess, percentile, print_figures, server_process
from support import user_system_seconds as cpu_of

from flomation.server.admin_client import AdminClient

_SECRET_KEY = "QmVuY2hTZWNyZXRLZXlCZW5jaFNlY3JldEtleUJlbmM="
_REPLICAS = 2


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
    p50, p99 = percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.99)
    return [
        Figure("wake-up across replicas, p50", f"{p50:.2f} ms", "<= 10 ms", p50 <= 10),
        Figure("wake-up across replicas, p99", f"{p99:.2f} ms", "-", None),
    ]


async def _drive(
    servers: list[ServerProcess], session: aiohttp.ClientSession, runners_count: int, count: int
) -> tuple[float, list[float], float]:
    """Run ``count`` executions through runners spread over the replicas.

    Returns the elapsed seconds, every execution's state..result round trip in ms, and the
    replicas' CPU seconds meanwhile.
    """
    async with AdminClient(servers[0].url, ADMIN_TOKEN) as admin:
        per_replica = -(-runners_count // len(servers))
        runners: list[BenchRunner] = []
        for server in servers:
            # Each call enrols into a queue of its own; the flow below has none, so every
            # runner of a public queue may take its executions.
            polls = count + 3 * per_replica
            runners += await _enrol(server.url, session, admin, per_replica, polls)
        flo = await admin.create_flo("throughput", FLOW)
        ids = await asyncio.gather(*(admin.execute(flo["id"]) for _ in range(count)))
        # Any runner may take any execution: every group's signer signs everything once.
        for signatures in {id(r.signatures): r.signatures for r in runners}.values():
            for body in (STATE_BODY, LOGS_BODY, RESULT_BODY):
                signatures.make(body, count)
            for execution_id in ids:
                signatures.make(execution_id.encode(), 1)
    remaining = count
    round_trips_ms: list[float] = []
    cpu_start = sum(sum(cpu_of(server.pid)) for server in servers)
    started = time.perf_counter()
    elapsed_s = 0.0

    async def work(runner: BenchRunner) -> None:
        nonlocal remaining, elapsed_s
        while remaining > 0:
            pending = await runner.poll()
            if pending is None:
                continue
            execution = pending["execution"]
            assert isinstance(execution, dict)
            began = time.perf_counter()
            await runner.lifecycle(str(execution["id"]))
            round_trips_ms.append((time.perf_counter() - began) * 1000)
            remaining -= 1
            if remaining == 0:
                elapsed_s = time.perf_counter() - started

    await asyncio.gather(*(work(runner) for runner in runners))
    cpu_s = sum(sum(cpu_of(server.pid)) for server in servers) - cpu_start
    for runner in runners:
        runner.close()
    return elapsed_s, round_trips_ms, cpu_s


async def lifecycle_throughput(admin_url: str, runners: int, executions: int) -> list[Figure]:
    """Executions per second through both replicas."""
    with _database(admin_url) as url:
        async with (
            _replicas(url, "--poll-hold", "1") as servers,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        ):
            machine = MachineTimes.now()
            elapsed_s, _, cpu_s = await _drive(servers, session, runners, executions)
            shares = MachineTimes.now().since(machine).shares()
    rate = executions / elapsed_s
    return [
        Figure(
            f"lifecycle throughput, 2 replicas on PostgreSQL, {runners} runners",
            f"{rate:.0f} executions/s",
            ">= 400/s",
            rate >= 400,
        ),
        Figure(
            "  replicas' CPU per execution (5 signed requests)",
            f"{1000 * cpu_s / executions:.2f} ms",
            "-",
            None,
        ),
        Figure("  machine busy / idle / stolen meanwhile", shares, "-", None),
    ]


def _old_finished_executions(url: str, rows: int) -> None:
    """``rows`` finished executions created a year ago, written straight into the database."""
    with psycopg.connect(url, autocommit=True) as db:
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


def _old_left(url: str) -> bool:
    with psycopg.connect(url) as db:
        found = db.execute("SELECT 1 FROM executions WHERE flo_id = 'old-flow' LIMIT 1")
        return found.fetchone() is not None


async def prune_under_load(
    admin_url: str, rows: int, runners: int, executions: int
) -> list[Figure]:
    """The slowest runner round trip while the replicas prune ``rows`` old executions."""
    with _database(admin_url) as url:
        async with _replicas(url, "--poll-hold", "1"):
            pass  # the first start creates the tables
        _old_finished_executions(url, rows)
        async with (
            _replicas(url, "--poll-hold", "1", prune_interval="1") as servers,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        ):
            started = time.perf_counter()
            elapsed_s, round_trips_ms, _ = await _drive(servers, session, runners, executions)
            async with asyncio.timeout(3600):
                while _old_left(url):
                    await asyncio.sleep(0.5)
            prune_s = time.perf_counter() - started
    slowest = max(round_trips_ms)
    return [
        Figure(
            f"slowest round trip (4 requests) while pruning {rows:,} executions",
            f"{slowest:.1f} ms",
            "<= 100 ms a request",
            slowest <= 100,
        ),
        Figure(
            "  round trip p50 meanwhile", f"{percentile(round_trips_ms, 0.5):.1f} ms", "-", None
        ),
        Figure(
            "  executions run meanwhile / prune rate",
            f"{executions} in {elapsed_s:.1f} s / {rows / prune_s:,.0f} executions/s",
            "-",
            None,
        ),
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
    args = parser.parse_args()
    samples = 50 if args.quick else 200
    executions = 300 if args.quick else 2000
    rows = args.prune_rows or (50_000 if args.quick else 1_000_000)
    figures: list[Figure] = []
    figures += await wakeup_across_replicas(args.postgres, samples)
    figures += await lifecycle_throughput(args.postgres, args.runners, executions)
    figures += await prune_under_load(args.postgres, rows, args.runners, executions)
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    print_figures(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
