"""Exactly once under a faulty network (issue 21, docs/protocol.md §11).

Two runners (real subprocesses) reach the embedded flomation-server through a fault-injecting
proxy (tests/fixtures/fault_proxy.py) that fails 20 % of their requests: connection reset before
or after the server handled the request, 502/503, answers delayed, answers cut short. One runner
drives the scripted executor (short executions, and three-second ones of which some are
cancelled), the other flomation-executor on real four-node flows. Every execution must end
``success`` (``cancel`` where a cancel was acknowledged), none may run twice, none may be stuck,
and each execution's live log on the server must hold its output exactly once.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fixtures.agents import SCRIPTED_EXECUTOR as SCRIPTED
from fixtures.e2e_server import e2e_server_settings
from fixtures.fault_proxy import Fault, FaultPlan, FaultProxy
from fixtures.runner_cli import runner_environ, runner_flags
from flomation.server.admin_answers import ExecutionAnswer
from flomation.server.admin_client import AdminApiError, AdminClient
from flomation.server.config import ServerSettings
from flomation.server.embedded import running_server

pytestmark = pytest.mark.slow

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance" / "executor"

FAULT_RATE = 0.2
# The proxy held answers 2-8 s; shorter here keeps the test within a few minutes, while
# some still outlast the claim lease (4 s): those claims are confirmed late and refused (409).
DELAY_S = (1.0, 6.0)
SHORT_EXECUTIONS = 200
REAL_FLOWS = 60
SLOW_EXECUTIONS = 50
CANCELLED = 20
# The server marks lines it filled in from the result (docs/protocol.md §11.4).
SERVER_MARKER = "[flomation-server] "


def _settings(tmp_path: Path) -> ServerSettings:
    return e2e_server_settings(
        tmp_path,
        poll_hold_s=2.0,
        claim_lease_s=4.0,
        reaper_interval_s=0.5,
        runner_lost_after_s=90.0,
    )


async def _runner(
    home: Path, url: str, code: str, executable: list[str], log_file: Path
) -> asyncio.subprocess.Process:
    environ = runner_environ(home / "records")
    with open(log_file, "wb") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "flomation.runner",
            *runner_flags(home, url, code, executable),
            "--max-concurrent-executors", "8",
            "--status-poll-interval-s", "0.5",
            "--log-level", "info",
            cwd=home,
            env=environ,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )  # fmt: skip


def _log_events(log_file: Path) -> list[dict[str, Any]]:
    events = []
    for line in log_file.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


async def _wait_all_final(
    admin: AdminClient, ids: list[str], timeout_s: float
) -> list[ExecutionAnswer]:
    async with asyncio.timeout(timeout_s):
        while True:
            executions = [await admin.get_execution(i) for i in ids]
            pending = [e for e in executions if e["completion_status"] == "pending"]
            if not pending:
                return executions
            await asyncio.sleep(1.0)


# The stream gives node and status lines without their prefix (docs/protocol.md §10.6).
_PREFIXES = {"node": "__NODE__:", "status": "__STATUS__:", "message": ""}


async def _live_log(admin: AdminClient, execution_id: str) -> list[str]:
    """The execution's stored log lines, as the runner sent them, read from the live stream."""
    async with asyncio.timeout(30):
        return [
            _PREFIXES[event.event] + event.data
            async for event in admin.stream(execution_id)
            if event.id
        ]


async def _server_metrics(url: str) -> dict[str, float]:
    """The server's Prometheus samples without labels, by name."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        text = await response.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if line and not line.startswith("#") and "{" not in name:
            samples[name] = float(value)
    return samples


async def _cancel_some(admin: AdminClient, ids: list[str], rng: random.Random) -> set[str]:
    """Cancel each of ``ids`` at a random moment of its run; the ones acknowledged (200)."""
    acknowledged: set[str] = set()
    for execution_id in ids:
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        try:
            await admin.cancel(execution_id)
        except AdminApiError as exc:
            assert exc.status == 409, exc  # already finished: it must then have succeeded
        else:
            acknowledged.add(execution_id)
    return acknowledged


async def test_exactly_once_through_a_proxy_failing_a_fifth_of_requests(tmp_path: Path) -> None:
    """At 20 % faults, 310 executions each end once, correctly, with their whole live log."""
    rng = random.Random(21)
    plan = FaultPlan(rate=FAULT_RATE, delay_s=DELAY_S, seed=21)
    async with (
        running_server(_settings(tmp_path)) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        async with FaultProxy(host, int(port), plan) as proxy:
            scripted_queue = await admin.create_queue("scripted")
            real_queue = await admin.create_queue("real")
            short = await admin.create_flo(
                "short",
                {"nodes": [], "edges": [], "script": {"lines": 6, "stderr_lines": 2}},
                queue_id=scripted_queue["id"],
            )
            slow = await admin.create_flo(
                "slow",
                {"nodes": [], "edges": [], "script": {"lines": 3, "sleep_s": 3.0}},
                queue_id=scripted_queue["id"],
            )
            real: dict[str, tuple[Any, Any]] = {}  # flow id: (trigger data, outputs)
            for case in ("16-if-true-branch", "37-set-variable"):
                flow = json.loads((CONFORMANCE / case / "flow.json").read_text())
                expected = json.loads((CONFORMANCE / case / "expected.json").read_text())
                trigger = CONFORMANCE / case / "trigger-data.json"
                data = json.loads(trigger.read_text()) if trigger.exists() else None
                flo = await admin.create_flo(case, flow, queue_id=real_queue["id"])
                real[flo["id"]] = (data, expected["state"]["outputs"])
            scripted_home, real_home = tmp_path / "scripted", tmp_path / "real"
            scripted_home.mkdir()
            real_home.mkdir()
            runners = [
                await _runner(
                    scripted_home,
                    proxy.url,
                    scripted_queue["registration_code"],
                    [sys.executable, str(SCRIPTED)],
                    tmp_path / "scripted.log",
                ),
                await _runner(
                    real_home,
                    proxy.url,
                    real_queue["registration_code"],
                    [sys.executable, "-m", "flomation_executor"],
                    tmp_path / "real.log",
                ),
            ]
            try:
                kinds: dict[str, str] = {}
                real_flo_ids = list(real)
                for n in range(REAL_FLOWS):
                    flo_id = real_flo_ids[n % 2]
                    kinds[await admin.execute(flo_id, data=real[flo_id][0])] = "real"
                slow_ids = [await admin.execute(slow["id"]) for _ in range(SLOW_EXECUTIONS)]
                kinds.update(dict.fromkeys(slow_ids, "slow"))
                for _ in range(SHORT_EXECUTIONS):
                    kinds[await admin.execute(short["id"])] = "short"
                cancelled = await _cancel_some(admin, rng.sample(slow_ids, CANCELLED), rng)
                executions = await _wait_all_final(admin, list(kinds), 600)
                # Faults off: every runner call gets through again, the runners recover.
                plan.rate = 0.0
                logs = {e["id"]: await _live_log(admin, e["id"]) for e in executions}
                metrics = await _server_metrics(server.url)
            finally:
                for process in runners:
                    if process.returncode is None:
                        process.terminate()
                for process in runners:
                    await asyncio.wait_for(process.wait(), 120)

    assert [process.returncode for process in runners] == [0, 0]
    events = _log_events(tmp_path / "scripted.log") + _log_events(tmp_path / "real.log")
    starts = Counter(e.get("execution_id") for e in events if e.get("event") == "executor started")
    refused = [e for e in events if str(e.get("event")).startswith("claim refused by the server")]
    lost_claims = sum(
        count
        for (fault, endpoint, status), count in proxy.stats.requests.items()
        if endpoint.endswith("/execution")
        and endpoint.startswith("POST /api/v1/runner")
        and status == 200
        and fault in (Fault.RESET_AFTER, Fault.TRUNCATE)
    )
    injected = sum(n for fault, n in proxy.stats.faults.items() if fault is not Fault.NONE)
    leases_expired = metrics.get("flomation_claim_leases_expired_total", 0.0)
    print(
        f"requests {sum(proxy.stats.faults.values())}, faults {injected}, "
        f"claim answers lost {lost_claims}, leases expired {leases_expired:g}, "
        f"late confirmations refused {len(refused)}, cancels acknowledged {len(cancelled)}, "
        f"live log lines filled in from results "
        f"{metrics.get('flomation_log_lines_filled_total', 0.0):g}"
    )
    assert injected > 0.1 * sum(proxy.stats.faults.values())
    assert lost_claims > 0  # the case of issue 21 did happen
    # Such claims were offered again (not necessarily each: a cancel may come first).
    assert leases_expired > 0

    problems: list[str] = []
    for execution in executions:
        execution_id, kind = execution["id"], kinds[execution["id"]]
        completion = execution["completion_status"]
        expected = "cancel" if execution_id in cancelled else "success"
        if completion != expected:
            reason = execution["completion_reason"]
            problems.append(f"{kind} {execution_id}: {completion} ({reason})")
            continue
        if starts[execution_id] > 1:
            problems.append(f"{kind} {execution_id}: executor started {starts[execution_id]} times")
        if completion == "cancel" and execution["result"] is None:
            continue  # cancelled before any runner started it
        if starts[execution_id] != 1:
            problems.append(f"{kind} {execution_id}: executor started {starts[execution_id]} times")
            continue
        if kind == "real" and execution["result"]["outputs"] != real[execution["flo_id"]][1]:
            problems.append(f"real {execution_id}: outputs {execution['result']['outputs']}")
        output = execution["result"]["logs"].split("\n")
        live = [line for line in logs[execution_id] if not line.startswith(SERVER_MARKER)]
        if live != output:
            problems.append(
                f"{kind} {execution_id}: live log of {len(logs[execution_id])} lines differs from "
                f"the output's {len(output)}"
            )
    assert problems == [], "\n".join(problems[:20])
