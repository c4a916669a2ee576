"""``flomation-runner`` as a real subprocess: exit codes, print-config, signals, crash recovery."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from fixtures.fake_control_plane import FakeControlPlane, pending_execution
from fixtures.processes import process_gone
from fixtures.runner_cli import runner_environ, runner_flags


def _args(tmp_path: Path, url: str, *extra: str) -> list[str]:
    return [
        *runner_flags(tmp_path, url, "secret-code-1234"),
        "--kill-grace-s", "1",
        "--status-poll-interval-s", "0.2",
        *extra,
    ]  # fmt: skip


async def _start(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flomation.runner",
        *args,
        cwd=tmp_path,
        env=runner_environ(tmp_path / "records"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _until(condition: object, timeout_s: float = 20.0) -> None:
    assert callable(condition)
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


async def test_print_config_redacts_the_registration_code(tmp_path: Path) -> None:
    """print-config prints the effective configuration with the registration code hidden."""
    process = await _start(tmp_path, "print-config", *_args(tmp_path, "http://127.0.0.1:9"))
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr
    config = json.loads(stdout)
    assert config["registration_code"] == "********"
    assert config["url"] == "http://127.0.0.1:9"
    assert b"secret-code-1234" not in stdout + stderr


async def test_print_config_stdout_is_only_json(tmp_path: Path) -> None:
    """Log lines of the configuration loader never reach stdout, so print-config pipes to jq."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"execution": {"execution_install_dir": "/x"}}))
    args = _args(tmp_path, "http://127.0.0.1:9", "--config", str(config_file))
    process = await _start(tmp_path, "print-config", *args)
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["url"] == "http://127.0.0.1:9"


async def test_config_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A configuration error prints one line on stderr and exits 2."""
    process = await _start(tmp_path, "--api-url", "not a url")
    _, stderr = await process.communicate()
    assert process.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flomation-runner: ")


async def test_once_exit_code_follows_the_outcome(fake: FakeControlPlane, tmp_path: Path) -> None:
    """--once runs one execution and exits 0 on success, 1 on failure; logs are JSON lines."""
    fake.enqueue(pending_execution(script={"status": 1}))
    process = await _start(tmp_path, *_args(tmp_path, fake.url, "--once"))
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.strip()]
    finished = [line for line in lines if line.get("event") == "executor finished"]
    assert finished and finished[0]["execution_id"] and finished[0]["flo_id"]
    assert b"secret-code-1234" not in stderr
    fake.enqueue(pending_execution())
    process = await _start(tmp_path, *_args(tmp_path, fake.url, "--once"))
    await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0


async def test_sigterm_drains_and_exits_0(fake: FakeControlPlane, tmp_path: Path) -> None:
    """SIGTERM: no claim after the signal, the running execution finishes, exit code 0."""
    execution_id = fake.enqueue(pending_execution(script={"sleep_s": 1.5}))
    process = await _start(tmp_path, *_args(tmp_path, fake.url, "--drain-timeout-s", "10"))
    try:
        await _until(lambda: fake.requests_to("/state"))
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.2)
        claims_after_signal = len(fake.requests_to("/execution"))
        fake.enqueue(pending_execution())
        await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    assert fake.state.results[execution_id]["has_errored"] is False
    assert len(fake.requests_to("/execution")) == claims_after_signal


async def test_sigkill_then_restart_reports_interrupted_execution(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """After SIGKILL, the restarted runner kills the leftover executor and reports it failed."""
    execution_id = fake.enqueue(pending_execution(script={"sleep_s": 60, "lines": 2}))
    args = _args(tmp_path, fake.url)
    first = await _start(tmp_path, *args)
    records = tmp_path / "records"
    await _until(lambda: any(records.iterdir()) and fake.state.logs.get(execution_id))
    first.kill()
    await first.wait()
    record = json.loads(next(records.iterdir()).read_text())
    os.kill(record["pid"], 0)  # the executor outlived its runner
    second = await _start(tmp_path, *args)
    try:
        result = await fake.wait_for_result(execution_id, 30)
        assert result["has_errored"] is True
        assert result["state"]["error"] == "runner restarted during execution"
        # The spool reached the disk before the SIGKILL: the partial output is in the result.
        assert "__NODE__:" in result["state"]["logs"]
        await _until(lambda: process_gone(record["pid"]), 10)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.communicate(), 20)
    assert second.returncode == 0
