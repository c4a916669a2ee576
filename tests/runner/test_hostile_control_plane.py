"""The runner against a broken or hostile control plane over real HTTP (docs/security.md).

Answers are read up to a cap counted after decompression; an over-size claim answer fails that
one execution with an error naming the limit, and the runner goes on with the next one.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from fixtures.agents import SCRIPTED_EXECUTOR as SCRIPTED
from fixtures.agents import fast_agent
from fixtures.fake_control_plane import FakeControlPlane, HostileClaim, pending_execution
from flomation.runner.agent import EXIT_OK, Agent, AgentTuning
from flomation.runner.config import RunnerConfig

MIB = 1024 * 1024


def _agent(tmp_path: Path, url: str, max_claim_bytes: int) -> Agent:
    (tmp_path / "state").mkdir()
    (tmp_path / "exec").mkdir()
    config = RunnerConfig(
        url=url,
        registration_code="code-1",
        certificate=tmp_path / "runner.pem",
        state_directory=tmp_path / "state",
        execution_directory=tmp_path / "exec",
        executable=(sys.executable, str(SCRIPTED)),
        max_concurrent_executors=1,
        status_poll_interval_s=0.1,
        min_free_disk_bytes=0,
        max_executions=2,
        max_claim_bytes=max_claim_bytes,
    )
    return fast_agent(config, AgentTuning(fast_empty_poll_s=0.0, claim_backoff_s=(0.05, 0.2)))


@pytest.mark.parametrize(
    ("padding_bytes", "gzip", "declare_length"),
    [
        pytest.param(256 * MIB, True, False, id="gzip-bomb"),
        pytest.param(8 * MIB, False, True, id="declared-length"),
        pytest.param(8 * MIB, False, False, id="chunked"),
    ],
)
async def test_oversize_claim_answer_fails_that_execution_only(
    fake: FakeControlPlane, tmp_path: Path, padding_bytes: int, gzip: bool, declare_length: bool
) -> None:
    """A claim answer over max_claim_bytes (inflated, declared or streamed) fails that execution
    with an error naming the limit, and the runner then runs the next execution."""
    hostile = pending_execution()
    fake.hostile_claims.append(HostileClaim(hostile, padding_bytes, gzip, declare_length))
    agent = _agent(tmp_path, fake.url, max_claim_bytes=2 * MIB)
    task = asyncio.create_task(agent.run())
    failed = await fake.wait_for_result(hostile["execution"]["id"])
    assert failed["has_errored"] is True
    assert "max_claim_bytes (2097152 bytes)" in failed["state"]["error"]
    following = fake.enqueue(pending_execution())
    assert (await fake.wait_for_result(following))["has_errored"] is False
    assert await asyncio.wait_for(task, 20) == EXIT_OK
