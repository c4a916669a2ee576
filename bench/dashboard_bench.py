#!/usr/bin/env python3
"""Dashboard benchmark (issue 16): page times with 100,000 executions in the database.

Builds a database (through the server's own migrations, then bulk rows straight into SQLite):
20 flows, 100,000 executions over the last 7 days in every status, node results on the finished
ones, and one execution with a 1,000,000-line log. Starts ``flomation-server`` on it as a
subprocess, signs in with a one-time link and times each page from a client on loopback (so the
figure is the server's time plus one local round trip).

    .venv/bin/python bench/dashboard_bench.py [--executions N] [--log-lines N] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp

from flomation.server.dashboard import sign_in_url
from flomation.server.store import Store
from support import Figure, percentile, print_figures, server_process

_TARGET_MS = 100.0
_STATUSES = (
    ("executed", "success", 70),
    ("executed", "fail", 12),
    ("executed", "cancel", 3),
    ("executed", "timeout", 2),
    ("suspended", "suspended", 3),
    ("running", "pending", 4),
    ("allocated", "pending", 2),
    ("created", "pending", 4),
)
_RESULT = json.dumps(
    {
        "status": 0,
        "outputs": {"greeting": "Hello, Ada!"},
        "node_results": {
            f"node-{n}": {
                "id": f"node-{n}",
                "action": "string/concatenate",
                "label": f"step {n}",
                "status": "success",
                "inputs": {"a": "Hello, ", "b": "Ada"},
                "outputs": {"result": "Hello, Ada!"},
                "duration_ms": 3,
            }
            for n in range(8)
        },
    }
)


def _populate(path: Path, executions: int, log_lines: int) -> dict[str, str]:
    """Fill the database; returns ids the pages are timed on."""
    rng = random.Random(16)
    now_s = time.time()
    db = sqlite3.connect(path)
    queue_id, runner_id = str(uuid.uuid4()), str(uuid.uuid4())
    db.execute(
        "INSERT INTO queues (id, name, registration_code, created_at) VALUES (?, 'bench', ?, ?)",
        (queue_id, uuid.uuid4().hex, now_s),
    )
    db.execute(
        "INSERT INTO runners (id, identifier, name, enrolled_at, last_contact_at, active, "
        "version, public_key) VALUES (?, 'benchrunner00001', 'bench', ?, ?, 1, '1.0.0', 'pem')",
        (runner_id, now_s, now_s),
    )
    db.execute("INSERT INTO queue_members VALUES (?, ?)", (queue_id, runner_id))
    flow_ids = [str(uuid.uuid4()) for _ in range(20)]
    for number, flo_id in enumerate(flow_ids):
        db.execute(
            "INSERT INTO flos (id, name, queue_id, created_at, execution_count) "
            "VALUES (?, ?, ?, ?, 0)",
            (flo_id, f"flow {number}", queue_id, now_s),
        )
        db.execute(
            "INSERT INTO revisions (id, flo_id, number, data, created_at) VALUES (?, ?, 1, ?, ?)",
            (str(uuid.uuid4()), flo_id, json.dumps({"nodes": [], "edges": []}), now_s),
        )
    weights = [weight for _, _, weight in _STATUSES]

    def rows() -> Iterator[tuple[str | int | float | None, ...]]:
        for n in range(executions):
            status, completion, _ = rng.choices(_STATUSES, weights)[0]
            created = now_s - 7 * 86_400 * (1 - n / executions)
            finished = completion not in ("pending", "suspended")
            yield (
                str(uuid.uuid4()),
                rng.choice(flow_ids),
                "flow",
                n + 1,
                status,
                completion,
                None if status == "created" else runner_id,
                _RESULT if finished else None,
                created,
                created + 2.0,
                None if status == "created" else created + 0.1,
                None if status in ("created", "allocated") else created + 0.2,
                created + 2.0 if finished else None,
            )

    db.executemany(
        "INSERT INTO executions (id, flo_id, name, owner_id, sequence, execution_status, "
        "completion_status, runner_id, result, created_at, updated_at, allocated_at, "
        "started_at, completed_at, suspend_count, log_bytes, log_truncated, log_seq) "
        "VALUES (?, ?, ?, 'owner', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0)",
        rows(),
    )
    (finished_id,) = db.execute(
        "SELECT id FROM executions WHERE completion_status = 'success' "
        "ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    (long_id,) = db.execute(
        "SELECT id FROM executions WHERE completion_status = 'fail' "
        "ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    db.executemany(
        "INSERT INTO execution_logs (execution_id, seq, line) VALUES (?, ?, ?)",
        (
            (long_id, seq, f'2026-12-06T21:00:00Z level=info msg="step {seq}" n={seq}')
            for seq in range(1, log_lines + 1)
        ),
    )
    db.execute(
        "UPDATE executions SET log_seq = ?, log_bytes = ? WHERE id = ?",
        (log_lines, log_lines * 60, long_id),
    )
    (deep_created, deep_id) = db.execute(
        "SELECT created_at, id FROM executions ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ?",
        (executions // 2,),
    ).fetchone()
    db.commit()
    db.close()
    return {
        "flow": flow_ids[3],
        "runner": runner_id,
        "queue": queue_id,
        "finished": finished_id,
        "long": long_id,
        "deep": f"{deep_created!r}_{deep_id}",
        "log_middle": str(log_lines // 2),
    }


async def _time_page(session: aiohttp.ClientSession, path: str, repeat: int) -> list[float]:
    for _ in range(3):  # warm-up: first reads load pages into SQLite's cache
        async with session.get(path) as answer:
            assert answer.status == 200, (path, answer.status, await answer.text())
            await answer.read()
    times_ms = []
    for _ in range(repeat):
        start = time.perf_counter()
        async with session.get(path) as answer:
            await answer.read()
        times_ms.append((time.perf_counter() - start) * 1000)
    return times_ms


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--log-lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as tmp:
        database = Path(tmp) / "server.db"
        store = await Store.open(f"sqlite:///{database}")
        await store.close()
        started = time.perf_counter()
        ids = _populate(database, args.executions, args.log_lines)
        print(
            f"database: {args.executions:,} executions, {args.log_lines:,} log lines "
            f"({time.perf_counter() - started:.1f} s to build)",
            file=sys.stderr,
        )
        token = "bench-admin-token"
        async with server_process(database, token) as server:
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(base_url=server.url, cookie_jar=jar) as session:
                link = sign_in_url(server.url, token, time.time()).removeprefix(server.url)
                async with session.get(link) as answer:
                    assert answer.status == 200 and answer.url.path == "/", answer.url
                pages = [
                    ("executions page (newest 50)", "/executions", True),
                    ("executions, status=fail", "/executions?status=fail", True),
                    ("executions, one flow", f"/executions?flow={ids['flow']}", True),
                    (
                        "executions, one runner, 24 h",
                        f"/executions?runner={ids['runner']}&since=24h",
                        True,
                    ),
                    ("executions, page at row 50,000", f"/executions?after={ids['deep']}", True),
                    ("one execution (8 nodes)", f"/executions/{ids['finished']}", True),
                    (
                        f"one execution, {args.log_lines:,}-line log (tail)",
                        f"/executions/{ids['long']}",
                        True,
                    ),
                    (
                        "earlier 500 lines of that log",
                        f"/executions/{ids['long']}/log?before={ids['log_middle']}",
                        False,
                    ),
                    ("overview", "/", False),
                ]
                figures = []
                for name, path, targeted in pages:
                    times_ms = await _time_page(session, path, args.repeat)
                    p50, p95 = percentile(times_ms, 0.5), percentile(times_ms, 0.95)
                    figures.append(
                        Figure(
                            f"{name}, p50 / p95",
                            f"{p50:.1f} / {p95:.1f} ms",
                            f"p50 <= {_TARGET_MS:.0f} ms" if targeted else "-",
                            p50 <= _TARGET_MS if targeted else None,
                        )
                    )
    print_figures(figures)
    return 0 if all(figure.ok is not False for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
