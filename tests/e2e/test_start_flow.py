"""common/start_flow end to end: flomation-server (embedded, real HTTP on 127.0.0.1), the runner
agent and the real flomation-executor. A parent flow starts a child flow through the server's
internal endpoints (flomation.server.routes_internal, the ones upstream's
flomation-co/executor: actions/common/start_flow/action.go calls) and waits for its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from executor.engine_harness import node, value
from fixtures.agents import fast_agent
from fixtures.e2e_server import e2e_server_settings
from flomation.runner.agent import AgentTuning
from flomation.runner.config import RunnerConfig
from flomation.server.admin_answers import ExecutionAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.embedded import running_server

TUNING = AgentTuning(
    fast_empty_poll_s=0.0,
    claim_backoff_s=(0.05, 0.3),
    registration_backoff_s=(0.05, 0.3),
    delivery_backoff_s=(0.1, 0.5),
    ready_window_s=2.0,
)


def _flow(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    edges = [
        {"id": f"e{index}", "source": nodes[index]["id"], "target": nodes[index + 1]["id"]}
        for index in range(len(nodes) - 1)
    ]
    return {"nodes": nodes, "edges": edges}


@contextlib.asynccontextmanager
async def _stack(tmp_path: Path) -> AsyncIterator[tuple[AdminClient, str, str]]:
    async with (
        running_server(e2e_server_settings(tmp_path, poll_hold_s=0.5)) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        queue = await admin.create_queue("start-flow")
        for name in ("state", "exec"):
            (tmp_path / name).mkdir(exist_ok=True)
        config = RunnerConfig(
            url=server.url,
            registration_code=queue["registration_code"],
            certificate=tmp_path / "runner.pem",
            state_directory=tmp_path / "state",
            execution_directory=tmp_path / "exec",
            executable=(sys.executable, "-m", "flomation_executor"),
            max_concurrent_executors=2,
            kill_grace_s=1.0,
            status_poll_interval_s=0.2,
            min_free_disk_bytes=0,
        )
        agent = fast_agent(config, TUNING)
        task = asyncio.create_task(agent.run())
        try:
            yield admin, queue["id"], server.url
        finally:
            agent.request_stop()
            await asyncio.wait_for(task, 20)


async def _finished(admin: AdminClient, execution_id: str) -> ExecutionAnswer:
    async with asyncio.timeout(60):
        while True:
            execution = await admin.get_execution(execution_id)
            if execution["execution_status"] == "executed":
                return execution
            await asyncio.sleep(0.1)


async def test_a_flow_starts_another_and_waits_for_its_result(tmp_path: Path) -> None:
    """The parent's start_flow node starts the child through the server and returns its result."""
    async with _stack(tmp_path) as (admin, queue_id, _url):
        child = await admin.create_flo(
            "child",
            _flow(
                [
                    node("t", "trigger/manual", 1, []),
                    node("o", "output/set", 3, [value("name", "answer"), value("value", "42")]),
                ]
            ),
            queue_id=queue_id,
        )
        parent = await admin.create_flo(
            "parent",
            _flow(
                [
                    node("t", "trigger/manual", 1, []),
                    node(
                        "s",
                        "common/start_flow",
                        2,
                        [
                            value("flow_id", child["id"]),
                            value("wait_for_completion", True, "boolean"),
                            value("timeout_seconds", 60, "integer"),
                        ],
                    ),
                    node(
                        "o",
                        "output/set",
                        3,
                        [value("name", "child"), value("value", "${s.status}/${s.execution_id}")],
                    ),
                ]
            ),
            queue_id=queue_id,
        )
        parent_id = await admin.execute(parent["id"])
        finished = await _finished(admin, parent_id)
        assert finished["completion_status"] == "success", finished
        children = [execution for execution in await admin.list_executions(flo_id=child["id"])]
        assert len(children) == 1
        child_run = await _finished(admin, children[0]["id"])
        assert child_run["completion_status"] == "success"
        assert json.dumps(finished["result"]).count(f"success/{child_run['id']}") >= 1
        assert "42" in json.dumps(child_run["result"])


async def test_internal_endpoints_refuse_unsigned_callers(tmp_path: Path) -> None:
    """Without a running calling execution and its runner's signature, nothing can be started."""
    async with _stack(tmp_path) as (admin, queue_id, url):
        flo = await admin.create_flo(
            "target", _flow([node("t", "trigger/manual", 1, [])]), queue_id=queue_id
        )
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{url}/api/v1/internal/flo/{flo['id']}/execute", json={}
            ) as reply:
                assert reply.status == 401
            async with session.post(
                f"{url}/api/v1/internal/flo/{flo['id']}/execute",
                json={},
                headers={"X-Flomation-Execution": "00000000-0000-0000-0000-000000000000"},
            ) as reply:
                assert reply.status == 404
            async with session.get(
                f"{url}/api/v1/internal/execution/{flo['id']}",
                headers={"X-Flomation-Execution": "not-an-execution"},
            ) as reply:
                assert reply.status == 404
            real = await admin.execute(flo["id"])
            await _finished(admin, real)
            async with session.post(
                f"{url}/api/v1/internal/flo/{flo['id']}/execute",
                json={},
                headers={"X-Flomation-Execution": real},
            ) as reply:
                assert reply.status == 403  # no runner signature (and no longer running)
        assert [item["id"] for item in await admin.list_executions(flo_id=flo["id"])] == [real]
