"""execution.isolation = "bwrap": the executor and its scripts in a bubblewrap sandbox.

Real processes throughout: the runner's agent, bubblewrap, the real flomation-executor and a
bash script node, against the fake control plane over HTTP. The script tries what a hostile
flow author would: read the runner's key, the runner's environment through /proc, the state
directory, the key descriptor of its executor, and write outside its work directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from fixtures.agents import fast_agent
from fixtures.fake_control_plane import FakeControlPlane, pending_execution
from flomation.runner.agent import EXIT_CONFIG, EXIT_OK, Agent, AgentTuning
from flomation.runner.config import RunnerConfig

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap (bwrap) is missing: ./scripts/bootstrap installs it on Debian as root",
)

EXECUTOR = (sys.executable, "-m", "flomation_executor")
TUNING = AgentTuning(fast_empty_poll_s=0.0, claim_backoff_s=(0.05, 0.2))


def _agent(tmp_path: Path, url: str, isolation: str, **overrides: Any) -> Agent:
    for name in ("state", "exec"):
        (tmp_path / name).mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "url": url,
        "registration_code": "code-1",
        "certificate": tmp_path / "keys" / "runner.pem",
        "state_directory": tmp_path / "state",
        "execution_directory": tmp_path / "exec",
        "executable": EXECUTOR,
        "max_concurrent_executors": 1,
        "kill_grace_s": 5.0,
        "status_poll_interval_s": 0.1,
        "min_free_disk_bytes": 0,
        "max_executions": 1,
        "isolation": isolation,
        **overrides,
    }
    (tmp_path / "keys").mkdir(exist_ok=True)
    return fast_agent(RunnerConfig(**values), TUNING)


def _flow(script: str) -> dict[str, Any]:
    """A manual trigger followed by one bash script node."""

    def node(node_id: str, action: str, routing: int, inputs: list[Any]) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": action,
            "data": {
                "id": node_id,
                "label": action,
                "config": {"type": routing, "inputs": inputs, "outputs": []},
            },
        }

    return {
        "nodes": [
            node("t", "trigger/manual", 1, []),
            node("s", "script/bash", 2, [{"name": "script", "type": "text", "value": script}]),
        ],
        "edges": [{"id": "t-s", "source": "t", "target": "s"}],
    }


def _outside(tmp_path: Path) -> Path:
    """A file the runner's user may write, outside the work directory and outside /tmp."""
    return Path(sys.executable).parent / f".isolation-probe-{tmp_path.name}"


def _probe_script(tmp_path: Path) -> str:
    key = tmp_path / "keys" / "runner.pem"
    return "\n".join(
        [
            f"echo KEY; cat {key} 2>&1 | head -c 60; echo",
            f"echo RUNNER_ENV; cat /proc/{os.getpid()}/environ 2>&1 | tr '\\0' '\\n' | head -3",
            f"echo STATE; ls {tmp_path / 'state'} 2>&1",
            "echo EXECUTOR_FD; cat /proc/$PPID/fd/3 2>&1 | head -c 60; echo",
            f"echo WRITE; echo x 2>&1 > {_outside(tmp_path)} && echo written",
            "echo PROCS; ls /proc | grep -c '^[0-9]'",
        ]
    )


async def _run_probe(
    fake: FakeControlPlane, tmp_path: Path, isolation: str, **overrides: Any
) -> str:
    pending = pending_execution()
    pending["data"] = _flow(_probe_script(tmp_path))
    execution_id = fake.enqueue(pending)
    agent = _agent(tmp_path, fake.url, isolation, **overrides)
    assert await asyncio.wait_for(agent.run(), 60) == EXIT_OK
    result = fake.state.results[execution_id]
    assert result["has_errored"] is False, result
    stdout: str = result["state"]["node_results"]["s"]["outputs"]["stdout"]
    return stdout


async def test_script_cannot_read_runner_key_environment_or_state(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """Under bwrap a script node reads none of the runner's key, environment or state
    directory, cannot write outside its work directory and sees only its own processes; the
    warm executor, even when asked for, is not used (and the runner says why at start)."""
    with capture_logs() as logs:
        stdout = await _run_probe(fake, tmp_path, "bwrap", warm_executor="on")
    (choice,) = [entry for entry in logs if entry["event"] == "warm executor"]
    assert choice["used"] is False and "bwrap" in choice["reason"]
    assert not any(entry["event"] == "warm executor started" for entry in logs)
    assert "PRIVATE KEY" not in stdout
    assert f"PATH={os.environ['PATH']}" not in stdout
    assert "No such file" in stdout.split("RUNNER_ENV")[1].split("STATE")[0]
    assert "flo.state" not in stdout and "outbox" not in stdout
    assert "Read-only file system" in stdout and not _outside(tmp_path).exists()
    assert int(stdout.rsplit("PROCS", 1)[1].split()[0]) < 10


async def test_without_isolation_the_same_script_reads_them(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """The control: without isolation the same probe reads the key, the runner's environment
    and the state directory (what the sandbox takes away)."""
    try:
        stdout = await _run_probe(fake, tmp_path, "none")
    finally:
        written = _outside(tmp_path).exists()
        _outside(tmp_path).unlink(missing_ok=True)
    assert "PRIVATE KEY" in stdout
    assert "flo.state" in stdout
    assert "written" in stdout and written


def _node_running(fake: FakeControlPlane, execution_id: str, node_id: str) -> bool:
    """True once the live log the runner forwarded holds the node's ``running`` event."""
    for request in fake.requests_to(f"/{execution_id}/logs"):
        for line in request.json()["lines"]:
            if line.startswith("__NODE__:"):
                event = json.loads(line.removeprefix("__NODE__:"))
                if event.get("id") == node_id and event.get("status") == "running":
                    return True
    return False


async def test_cancellation_reaches_the_sandboxed_executor(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """A cancel signals the sandboxed executor, which stops its node and writes state.json
    (status 2) before the grace period ends: the signal is not lost on bubblewrap."""
    pending = pending_execution()
    pending["data"] = _flow("sleep 60")
    execution_id = fake.enqueue(pending)
    agent = _agent(tmp_path, fake.url, "bwrap")
    task = asyncio.create_task(agent.run())
    async with asyncio.timeout(30):
        while not _node_running(fake, execution_id, "s"):
            await asyncio.sleep(0.05)
    fake.set_completion(execution_id, "cancel")
    result = await fake.wait_for_result(execution_id)
    assert await asyncio.wait_for(task, 30) == EXIT_OK
    assert result["cancelled"] is True
    assert result["state"]["status"] == 2, result["state"]
    assert result["state"]["node_results"]["s"]["status"] in ("cancelled", "failed")


async def test_missing_bubblewrap_is_a_clear_start_up_error(
    fake: FakeControlPlane, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With isolation bwrap and no bwrap on PATH the runner exits 2 naming the package."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    agent = _agent(tmp_path, fake.url, "bwrap")
    agent._environ["PATH"] = str(empty)
    assert await asyncio.wait_for(agent.run(), 20) == EXIT_CONFIG
    assert "apt-get install bubblewrap" in capsys.readouterr().out
    assert fake.requests_to("/api/v1/runner") == []
