"""Crash recovery at start-up (runner/recovery.py) through a real agent and fake API."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from fixtures.agents import fast_agent, scripted_config
from fixtures.fake_control_plane import FakeControlPlane
from flomation.runner.config import RunnerConfig
from flomation.runner.outbox import Outbox
from flomation.runner.spool import SPOOL_FILE_NAME, OutputSpool


async def _recovered_result(fake: FakeControlPlane, config: RunnerConfig, workdir: Path) -> Any:
    """Journal exec-1 in flight in ``workdir``, start an agent, and return the result it sends."""
    outbox = Outbox.open(config.outbox_file)
    outbox.journal_start("exec-1", "flo-1", workdir, None, None, time.time())
    outbox.close()
    fake.state.status["exec-1"] = "pending"
    agent = fast_agent(config)
    task = asyncio.create_task(agent.run())
    result = await fake.wait_for_result("exec-1")
    agent.request_stop()
    await asyncio.wait_for(task, 10)
    return result


async def test_crash_recovery_reports_journaled_execution(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """An execution journaled in flight without a result is reported as interrupted."""
    config = scripted_config(tmp_path, fake.url)
    workdir = config.execution_directory / "flo-1" / "exec-1"
    workdir.mkdir(parents=True)
    (workdir / ".flomation-output.log").write_text("partial line 1\npartial line 2\n")
    result = await _recovered_result(fake, config, workdir)
    assert result["has_errored"] is True
    assert result["state"]["error"] == "runner restarted during execution"
    assert result["state"]["logs"] == "partial line 1\npartial line 2"


async def test_crash_recovery_reports_the_latest_output_of_a_capped_spool(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """A spool that reached its disk cap is reported with its head, the latest lines of its
    tail files and the count of bytes between them."""
    config = scripted_config(tmp_path, fake.url)
    workdir = config.execution_directory / "flo-1" / "exec-1"
    workdir.mkdir(parents=True)
    spool = OutputSpool(workdir / SPOOL_FILE_NAME, max_bytes=4096)
    lines = [f"line {n}" for n in range(3000)]
    for start in range(0, len(lines), 10):
        spool.append_many(lines[start : start + 10])
    spool.close()  # left on disk as a killed runner leaves it
    result = await _recovered_result(fake, config, workdir)
    head, after = result["state"]["logs"].split("\n[flomation-runner] output truncated: ")
    omitted, tail = after.split(" bytes omitted\n")
    assert head.startswith("line 0\nline 1\n")
    assert tail.endswith("\nline 2998\nline 2999")
    assert len(head) + len(tail) + int(omitted) == len("\n".join(lines))
