"""Two server replicas on one PostgreSQL database behind HAProxy (standing in for a Kubernetes
Service), four real runners through it, and one replica killed mid-run: every execution runs
exactly once and ends with its result.

Everything is a real process: ``flomation-server`` twice, ``haproxy``, ``flomation-runner`` four
times with the scripted executor, which records each run it makes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from fixtures.runner_cli import runner_environ, runner_flags
from flomation.server.admin_client import AdminClient
from flomation.wire.jsontext import JsonObject

from .databases import fresh_database

pytestmark = pytest.mark.slow

_BIN = Path(sys.executable).parent
_ADMIN_TOKEN = "replicas-admin-token"
_SECRET_KEY = "A" * 43 + "="
_EXECUTIONS = 500
_RUNNERS = 4


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _haproxy_config(listen_port: int, backends: list[int]) -> str:
    servers = "\n".join(
        f"  server replica{n} 127.0.0.1:{port} check" for n, port in enumerate(backends)
    )
    return f"""
global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # A replica slowed down by a busy machine is not a dead one.
  timeout check 5s
  # Connection failures are retried on the other replica; nothing sent is ever sent twice.
  retries 3
  option redispatch
listen flomation
  bind 127.0.0.1:{listen_port}
  balance roundrobin
  option httpchk GET /healthz
  default-server inter 500ms fall 3 rise 1
{servers}
"""


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new PostgreSQL database for the replicas."""
    with fresh_database() as url:
        yield url


async def _wait_healthy(url: str, timeout_s: float = 30) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(timeout_s):
        while True:
            try:
                async with http.get(f"{url}/healthz") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


@asynccontextmanager
async def _process(
    *command: str | Path,
    log: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    output = log.open("wb") if log is not None else asyncio.subprocess.DEVNULL
    process = await asyncio.create_subprocess_exec(
        *map(str, command),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=output,
        cwd=cwd,
        env=env,
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


def _server_environment(postgres_url: str, port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOMATION_")},
        "FLOMATION_SERVER_DATABASE": postgres_url,
        "FLOMATION_SERVER_LISTEN": f"127.0.0.1:{port}",
        "FLOMATION_SERVER_ADMIN_TOKEN": _ADMIN_TOKEN,
        "FLOMATION_SERVER_SECRET_KEY": _SECRET_KEY,
        "FLOMATION_SERVER_POLL_HOLD": "5",
        "FLOMATION_SERVER_CLAIM_LEASE": "5",
    }


def _runner_command(tmp_path: Path, n: int, url: str, code: str) -> list[str | Path]:
    home = tmp_path / f"runner{n}"
    return [
        sys.executable, "-m", "flomation.runner",
        *runner_flags(home, url, code),
        "--runner-name", f"replica-test-{n}",
        "--max-concurrent-executors", "4",
        "--status-poll-interval-s", "0.5",
    ]  # fmt: skip


async def _succeeded(admin: AdminClient) -> int:
    return len(await admin.list_executions(completion_status="success", limit=_EXECUTIONS))


@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
async def test_killing_one_replica_mid_run_loses_nothing_and_runs_nothing_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    """500 executions created through both replicas, four runners through HAProxy, replica B
    SIGKILLed after 150 finished: all 500 end in success, each executor ran once."""
    ports = [_free_port() for _ in range(3)]
    balancer, replica_ports = ports[0], ports[1:]
    config = tmp_path / "haproxy.cfg"
    config.write_text(_haproxy_config(balancer, replica_ports), encoding="utf-8")
    records = tmp_path / "runs"
    records.mkdir()
    runner_env = runner_environ(records)
    urls = [f"http://127.0.0.1:{port}" for port in replica_ports]
    async with (
        _process(
            _BIN / "flomation-server", env=_server_environment(postgres_url, replica_ports[0])
        ),
        _process(
            _BIN / "flomation-server", env=_server_environment(postgres_url, replica_ports[1])
        ) as replica_b,
    ):
        for url in urls:
            await _wait_healthy(url)
        async with (
            _process("haproxy", "-f", config, "-db"),
            AdminClient(urls[0], _ADMIN_TOKEN) as admin_a,
            AdminClient(urls[1], _ADMIN_TOKEN) as admin_b,
        ):
            await _wait_healthy(f"http://127.0.0.1:{balancer}")
            queue = await admin_a.create_queue("replicas")
            script: JsonObject = {"lines": 3, "sleep_s": 0.05}
            flo = await admin_b.create_flo(
                "replicated", {"nodes": [], "edges": [], "script": script}, queue["id"]
            )
            ids = [await (admin_a, admin_b)[n % 2].execute(flo["id"]) for n in range(_EXECUTIONS)]
            runners = [
                _process(
                    *_runner_command(
                        tmp_path, n, f"http://127.0.0.1:{balancer}", queue["registration_code"]
                    ),
                    cwd=tmp_path,
                    env=runner_env,
                    log=tmp_path / f"runner{n}.log",
                )
                for n in range(_RUNNERS)
            ]
            async with runners[0], runners[1], runners[2], runners[3]:
                async with asyncio.timeout(180):
                    while (
                        len(await admin_a.list_executions(completion_status="success", limit=1000))
                        < 150
                    ):
                        await asyncio.sleep(0.2)
                replica_b.send_signal(signal.SIGKILL)
                async with asyncio.timeout(300):
                    while True:
                        executions = [await admin_a.get_execution(i) for i in ids]
                        if all(e["completion_status"] != "pending" for e in executions):
                            break
                        await asyncio.sleep(1)

    reasons = Counter(
        (execution["completion_status"], execution["completion_reason"])
        for execution in executions
        if execution["completion_status"] != "success"
    )
    failed = [e["id"] for e in executions if e["completion_status"] != "success"]
    for n in range(_RUNNERS):
        for line in (tmp_path / f"runner{n}.log").read_text().splitlines():
            if any(execution_id in line for execution_id in failed[:3]):
                print(f"runner{n}: {line}")
    assert reasons == {}, reasons
    for execution in executions:
        assert execution["result"]["logs"].count("__NODE__:") == 3, execution["id"]
    runs = Counter(path.name.rsplit("-", 1)[0] for path in records.glob("*.json"))
    assert set(runs) == set(ids)
    assert [execution_id for execution_id, count in runs.items() if count != 1] == []
