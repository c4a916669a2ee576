"""What a runner process imports before its first long poll (docs/benchmarks.md, start-up).

Each test starts ``python -X importtime -m flomation.runner`` against the fake control plane,
waits for its first claim, stops it, and reads the modules it imported from its stderr.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

from fixtures.fake_control_plane import FakeControlPlane
from fixtures.runner_cli import runner_environ, runner_flags

# Needed only for executions, the health listener or metrics: not at start by default. The API
# client is runner/http_client.py, not aiohttp (docs/architecture.md, the runner's HTTP client).
NOT_AT_START = (
    "aiohttp",
    "yarl",
    "multidict",
    "urllib.request",
    "pydantic",
    "pydantic_core",
    "flomation.wire.models",
    "prometheus_client",
    "aiohttp.web",
    "flomation.runner.metrics",
    "flomation.runner.health_server",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _modules_imported_until_first_claim(tmp_path: Path, *extra: str) -> set[str]:
    """Every module a fresh runner imported by the time it sent its first claim."""
    environ = {k: v for k, v in runner_environ().items() if not k.lower().endswith("_proxy")}
    async with FakeControlPlane(hold_s=5.0) as fake:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "flomation.runner",
            *runner_flags(tmp_path, fake.url, "secret-code-1234"),
            *extra,
            cwd=tmp_path,
            env=environ,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with asyncio.timeout(60):
                while not fake.requests_to("/execution"):
                    await asyncio.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    modules = set()
    for line in stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    return modules


async def test_default_start_imports_no_models_metrics_or_health_server(tmp_path: Path) -> None:
    """Without a health listener: no aiohttp, pydantic, wire models or metrics at start."""
    modules = await _modules_imported_until_first_claim(tmp_path)
    assert {"flomation.runner.agent", "flomation.runner.http_client", "structlog"} <= modules
    assert sorted(modules.intersection(NOT_AT_START)) == []
    # structlog tries "import rich" (a failed attempt is listed too); rich's modules never load.
    assert [name for name in modules if name.startswith("rich.")] == []


async def test_health_listener_imports_the_server_and_metrics(tmp_path: Path) -> None:
    """With ``--health-addr`` the listener's aiohttp.web and prometheus_client are imported."""
    modules = await _modules_imported_until_first_claim(
        tmp_path, "--health-addr", f"127.0.0.1:{_free_port()}"
    )
    assert {"aiohttp", "aiohttp.web", "flomation.runner.health_server"} <= modules
    assert "pydantic" not in modules
