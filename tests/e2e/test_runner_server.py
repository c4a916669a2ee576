"""The runner agent against the project's real flomation-server (embedded, real HTTP on loopback).

Executions are created through the admin API; the runner claims them, runs the scripted executor
(tests/fixtures/scripted_executor.py, a real subprocess) and reports back; the tests read the
outcome back through the admin API.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from fixtures.agents import FAST_AGENT, fast_agent
from fixtures.agents import SCRIPTED_EXECUTOR as SCRIPTED
from fixtures.e2e_server import e2e_server_settings
from fixtures.processes import process_gone
from flomation.runner.agent import Agent
from flomation.runner.config import RunnerConfig
from flomation.server.admin_answers import ExecutionAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.config import ServerSettings
from flomation.server.embedded import running_server
from flomation.wire.jsontext import JsonObject

# The outage test watches /readyz turn unready: a 2 s contact window keeps that wait short.
TUNING = dataclasses.replace(FAST_AGENT, ready_window_s=2.0)


@dataclass
class _Stack:
    admin: AdminClient
    agent: Agent
    task: asyncio.Task[int]
    queue_id: str
    records: Path

    async def run_flow(self, script: JsonObject, resume_script: JsonObject | None = None) -> str:
        data: JsonObject = {"nodes": [], "edges": [], "script": script}
        if resume_script is not None:
            data["resume_script"] = resume_script
        flo = await self.admin.create_flo("flow", data, queue_id=self.queue_id)
        return await self.admin.execute(flo["id"], data={"greeting": "hi"})

    async def wait_status(
        self, execution_id: str, statuses: tuple[str, ...], timeout_s: float = 20.0
    ) -> ExecutionAnswer:
        async with asyncio.timeout(timeout_s):
            while True:
                execution = await self.admin.get_execution(execution_id)
                if execution["completion_status"] in statuses:
                    return execution
                await asyncio.sleep(0.05)


def _settings(tmp_path: Path, port: int = 0) -> ServerSettings:
    return e2e_server_settings(tmp_path, poll_hold_s=0.5, port=port)


def _runner_config(tmp_path: Path, url: str, code: str, **overrides: Any) -> RunnerConfig:
    for name in ("state", "exec", "records"):
        (tmp_path / name).mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "url": url,
        "registration_code": code,
        "certificate": tmp_path / "runner.pem",
        "state_directory": tmp_path / "state",
        "execution_directory": tmp_path / "exec",
        "executable": (sys.executable, str(SCRIPTED)),
        "max_concurrent_executors": 2,
        "kill_grace_s": 1.0,
        "status_poll_interval_s": 0.2,
        "min_free_disk_bytes": 0,
    }
    values.update(overrides)
    return RunnerConfig(**values)


@contextlib.asynccontextmanager
async def _stack(tmp_path: Path, **overrides: Any) -> AsyncIterator[_Stack]:
    async with (
        running_server(_settings(tmp_path)) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        queue = await admin.create_queue("e2e")
        config = _runner_config(tmp_path, server.url, queue["registration_code"], **overrides)
        environ = {**os.environ, "SCRIPTED_EXECUTOR_RECORD_DIR": str(tmp_path / "records")}
        agent = fast_agent(config, TUNING, environ=environ)
        task = asyncio.create_task(agent.run())
        try:
            yield _Stack(admin, agent, task, queue["id"], tmp_path / "records")
        finally:
            agent.request_stop()
            agent.request_stop()
            await asyncio.wait_for(task, 20)


async def test_flow_runs_and_result_outputs_logs_are_stored(tmp_path: Path) -> None:
    """An execution created on the server runs; result, outputs and logs are stored."""
    async with _stack(tmp_path) as stack:
        execution_id = await stack.run_flow({"lines": 3, "outputs": {"answer": 42}})
        execution = await stack.wait_status(execution_id, ("success", "fail"))
        assert execution["completion_status"] == "success"
        assert execution["execution_status"] == "executed"
        result = execution["result"]
        assert result["outputs"] == {"answer": 42}
        assert result["logs"].count("__NODE__:") == 3
        assert result["billingDuration"] == 7
        assert execution["log_bytes"] > 0


async def test_cancel_through_admin_api_stops_executor(tmp_path: Path) -> None:
    """Cancel via the admin API stops a TERM-ignoring executor within grace + 1 s."""
    async with _stack(tmp_path) as stack:
        execution_id = await stack.run_flow({"sleep_s": 60, "ignore_sigterm": True})
        await stack.wait_status(execution_id, ("pending",))
        async with asyncio.timeout(20):
            while not any(stack.records.iterdir()):
                await asyncio.sleep(0.05)
        record_file = next(stack.records.iterdir())
        pid = int(json.loads(record_file.read_text())["pid"])
        started = time.monotonic()
        await stack.admin.cancel(execution_id)
        async with asyncio.timeout(10):
            while not process_gone(pid):
                await asyncio.sleep(0.02)
        assert time.monotonic() - started < 1.0 + 1.0 + 0.5  # grace + 1 s (+ one poll period)
        execution = await stack.wait_status(execution_id, ("cancel",))
        assert execution["completion_status"] == "cancel"


async def test_suspend_then_resume_with_checkpoint(tmp_path: Path) -> None:
    """A suspended flow is reported suspended; resume runs it again with --checkpoint."""
    checkpoint: JsonObject = {
        "node_results": {},
        "entry_node_id": "p",
        "suspend_info": {"suspend_reason": "manual"},
    }
    async with _stack(tmp_path) as stack:
        execution_id = await stack.run_flow(
            {"status": 3, "checkpoint": checkpoint}, resume_script={"status": 0}
        )
        execution = await stack.wait_status(execution_id, ("suspended",))
        assert execution["execution_status"] == "suspended"
        await stack.admin.resume(execution_id)
        execution = await stack.wait_status(execution_id, ("success", "fail"))
        assert execution["completion_status"] == "success"
        second = json.loads((stack.records / f"{execution_id}-2.json").read_text())
        assert second["argv"][-2:] == ["--checkpoint", "checkpoint.json"]
        assert json.loads(second["files"]["checkpoint.json"]["content"])["entry_node_id"] == "p"


@pytest.mark.slow
async def test_server_outage_results_delivered_and_readiness_flips(tmp_path: Path) -> None:
    """With the server down results wait in the outbox, /readyz turns unready, then recovers."""
    settings = _settings(tmp_path)
    async with running_server(settings) as server:
        port = int(server.url.rsplit(":", 1)[1])
        async with AdminClient(server.url, server.admin_token) as admin:
            queue = await admin.create_queue("outage")
            flo = await admin.create_flo(
                "f", {"nodes": [], "edges": [], "script": {"sleep_s": 1.5}}, queue_id=queue["id"]
            )
            ids = [await admin.execute(flo["id"]) for _ in range(4)]
    config = _runner_config(
        tmp_path, server.url, queue["registration_code"], health_addr="127.0.0.1:0"
    )
    agent = fast_agent(config, TUNING)
    restarted = _settings(tmp_path, port)
    async with running_server(restarted) as server:
        task = asyncio.create_task(agent.run())
        async with asyncio.timeout(20):
            while agent.status.not_ready_reasons(TUNING.ready_window_s):
                await asyncio.sleep(0.05)
        assert await _readyz(agent) == 200
        async with asyncio.timeout(20):
            while len(agent._running) < 2:  # both slots busy
                await asyncio.sleep(0.02)
    # Server down: the running executions finish, their results wait in the outbox.
    await asyncio.sleep(TUNING.ready_window_s + 1.0)
    assert await _readyz(agent) == 503
    async with (
        running_server(restarted) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        for execution_id in ids:
            async with asyncio.timeout(30):
                while (await admin.get_execution(execution_id))["completion_status"] == "pending":
                    await asyncio.sleep(0.1)
            execution = await admin.get_execution(execution_id)
            assert execution["completion_status"] == "success", execution
        assert await _readyz(agent) == 200
        agent.request_stop()
        assert await asyncio.wait_for(task, 20) == 0


async def _readyz(agent: Agent) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{agent.health_port}/readyz") as response,
    ):
        return response.status


CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance" / "executor"


@pytest.mark.parametrize("warm_executor", ["auto", "off"])
async def test_real_executor_runs_and_resumes_a_paused_flow(
    tmp_path: Path, warm_executor: str
) -> None:
    """With flomation-executor, forked from the warm executor (auto: its --version names it) or
    spawned, a linear flow succeeds and a paused flow suspends and resumes."""
    executor = (sys.executable, "-m", "flomation_executor")
    with capture_logs() as logs:
        await _linear_then_paused(tmp_path, executor, warm_executor)
    (choice,) = [entry for entry in logs if entry["event"] == "warm executor"]
    assert choice["used"] is (warm_executor == "auto"), choice
    started = [entry for entry in logs if entry["event"] == "warm executor started"]
    assert len(started) == (1 if warm_executor == "auto" else 0)


async def _linear_then_paused(tmp_path: Path, executor: tuple[str, ...], warm: str) -> None:
    async with _stack(tmp_path, executable=executor, warm_executor=warm) as stack:
        linear = json.loads((CONFORMANCE / "01-linear-chain" / "flow.json").read_text())
        flo = await stack.admin.create_flo("linear", linear, queue_id=stack.queue_id)
        execution_id = await stack.admin.execute(flo["id"])
        execution = await stack.wait_status(execution_id, ("success", "fail"))
        assert execution["completion_status"] == "success", execution["result"]
        assert execution["result"]["outputs"] == {"greeting": "HELLO"}
        assert '__NODE__:{"id":"up"' in execution["result"]["logs"]

        paused = json.loads((CONFORMANCE / "44-pause-suspends" / "flow.json").read_text())
        flo = await stack.admin.create_flo("paused", paused, queue_id=stack.queue_id)
        execution_id = await stack.admin.execute(flo["id"])
        execution = await stack.wait_status(execution_id, ("suspended", "fail"))
        assert execution["completion_status"] == "suspended", execution["result"]
        await stack.admin.resume(execution_id)
        execution = await stack.wait_status(execution_id, ("success", "fail"))
        assert execution["completion_status"] == "success", execution["result"]
        assert "after" in execution["result"]["node_results"]


BASH_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bash.flow.json"


async def test_script_output_reaches_the_live_log_while_the_node_runs(tmp_path: Path) -> None:
    """What a Bash node prints reaches the server's live stream before the node ends."""
    executor = (sys.executable, "-m", "flomation_executor")
    async with _stack(tmp_path, executable=executor) as stack:
        flow = json.loads(BASH_EXAMPLE.read_text(encoding="utf-8"))
        flo = await stack.admin.create_flo("bash", flow, queue_id=stack.queue_id)
        execution_id = await stack.admin.execute(flo["id"])
        seen: list[tuple[str, str]] = []
        async with asyncio.timeout(60):
            async for event in stack.admin.stream(execution_id):
                seen.append((event.event, event.data))
                if event.event == "complete":
                    break
        assert seen[-1] == ("complete", "success")
        printed = next(
            index
            for index, (kind, data) in enumerate(seen)
            if kind == "message" and '"msg":"script output"' in data and '"line 1"' in data
        )
        finished = next(
            index
            for index, (kind, data) in enumerate(seen)
            if kind == "node" and '"id":"count"' in data and '"status":"success"' in data
        )
        assert printed < finished
