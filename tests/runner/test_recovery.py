"""Crash recovery at start-up (runner/recovery.py) through a real agent and fake API."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fixtures.agents import fast_agent, scripted_config
from fixtures.fake_control_plane import FakeControlPlane
from flomation.runner.outbox import Outbox


async def test_crash_recovery_reports_journaled_execution(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """An execution journaled in flight without a result is reported as interrupted."""
    config = scripted_config(tmp_path, fake.url)
    workdir = config.execution_directory / "flo-1" / "exec-1"
    workdir.mkdir(parents=True)
    (workdir / ".flomation-output.log").write_text("partial line 1\npartial line 2\n")
    outbox = Outbox.open(config.outbox_file)
    outbox.journal_start("exec-1", "flo-1", workdir, None, None, time.time())
    outbox.close()
    fake.state.status["exec-1"] = "pending"
    agent = fast_agent(config)
    task = asyncio.create_task(agent.run())
    result = await fake.wait_for_result("exec-1")
    agent.request_stop()
    await asyncio.wait_for(task, 10)
    assert result["has_errored"] is True
    assert result["state"]["error"] == "runner restarted during execution"
    assert result["state"]["logs"] == "partial line 1\npartial line 2"
