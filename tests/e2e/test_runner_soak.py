"""Soak tests of issue 5: nothing is lost across a server outage, memory stays bounded.

Both run the runner as a real subprocess against the embedded flomation-server.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from fixtures.e2e_server import e2e_server_settings
from fixtures.runner_cli import runner_environ, runner_flags
from flomation.server.admin_answers import ExecutionAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.config import ServerSettings
from flomation.server.embedded import running_server
from flomation.wire.jsontext import JsonObject

pytestmark = pytest.mark.slow


def _settings(tmp_path: Path, port: int = 0) -> ServerSettings:
    return e2e_server_settings(tmp_path, poll_hold_s=1.0, port=port)


async def _runner(tmp_path: Path, url: str, code: str, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "flomation.runner",
        *runner_flags(tmp_path, url, code),
        "--status-poll-interval-s", "0.5",
        "--log-level", "warning",
        *extra,
        cwd=tmp_path,
        env=runner_environ(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def _wait_terminal(
    admin: AdminClient, ids: list[str], timeout_s: float
) -> list[ExecutionAnswer]:
    async with asyncio.timeout(timeout_s):
        while True:
            executions = [await admin.get_execution(i) for i in ids]
            if all(e["completion_status"] != "pending" for e in executions):
                return executions
            await asyncio.sleep(0.25)


async def test_fifty_executions_survive_a_ten_second_server_outage(tmp_path: Path) -> None:
    """Server stopped for 10 s during 50 executions: all end correctly with complete logs."""
    async with running_server(_settings(tmp_path)) as server:
        port = int(server.url.rsplit(":", 1)[1])
        async with AdminClient(server.url, server.admin_token) as admin:
            queue = await admin.create_queue("soak")
            flows = {}
            for status in (0, 1):
                script: JsonObject = {"lines": 20, "sleep_s": 0.5, "status": status}
                data: JsonObject = {"nodes": [], "edges": [], "script": script}
                flows[status] = (await admin.create_flo(f"s{status}", data, queue_id=queue["id"]))[
                    "id"
                ]
            ids = [await admin.execute(flows[n % 2]) for n in range(50)]
    runner = await _runner(
        tmp_path, f"http://127.0.0.1:{port}", queue["registration_code"],
        "--max-concurrent-executors", "8",
    )  # fmt: skip
    try:
        async with (
            running_server(_settings(tmp_path, port)) as server,
            AdminClient(server.url, server.admin_token) as admin,
            asyncio.timeout(60),
        ):
            while len(await admin.list_executions(completion_status="success")) < 5:
                await asyncio.sleep(0.2)
        await asyncio.sleep(10)
        async with (
            running_server(_settings(tmp_path, port)) as server,
            AdminClient(server.url, server.admin_token) as admin,
        ):
            executions = await _wait_terminal(admin, ids, 120)
    finally:
        runner.terminate()
        await asyncio.wait_for(runner.wait(), 60)
    assert runner.returncode == 0
    for n, execution in enumerate(executions):
        expected = "success" if n % 2 == 0 else "fail"
        assert execution["completion_status"] == expected, execution
        assert execution["result"]["logs"].count("__NODE__:") == 20


async def test_a_million_lines_are_all_delivered_with_bounded_memory(tmp_path: Path) -> None:
    """1,000,000 output lines all reach the stored result; the runner's peak RSS stays small."""
    async with (
        running_server(_settings(tmp_path)) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        queue = await admin.create_queue("lines")
        data: JsonObject = {
            "nodes": [],
            "edges": [],
            "script": {"counter_lines": 1_000_000, "lines": 0, "stderr_lines": 0},
        }
        flo = await admin.create_flo("lines", data, queue_id=queue["id"])
        execution_id = await admin.execute(flo["id"])
        runner = await _runner(tmp_path, server.url, queue["registration_code"], "--once")
        peak_kib = 0
        status_file = Path(f"/proc/{runner.pid}/status")
        while runner.returncode is None:
            peak_kib = max(peak_kib, _peak_rss_kib(status_file))
            try:
                await asyncio.wait_for(runner.wait(), 0.05)
            except TimeoutError:
                pass
        assert runner.returncode == 0
        execution = await admin.get_execution(execution_id)
    logs = execution["result"]["logs"].split("\n")
    assert logs == [f"line {n}" for n in range(1_000_000)]
    peak_mb = peak_kib / 1024
    print(f"runner peak RSS for 1,000,000 lines: {peak_mb:.1f} MB")
    assert peak_mb < 200


def _peak_rss_kib(status_file: Path) -> int:
    """VmHWM of a process from its /proc status file (0 once it is gone)."""
    try:
        text = status_file.read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
