"""The agent (agent.py) against a real HTTP fake, real executors, a real outbox file."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import os
import time
from pathlib import Path

import pytest

from fixtures.agents import FAST_AGENT, fast_agent, scripted_config, until
from fixtures.fake_control_plane import FakeControlPlane, pending_execution
from flomation.runner.agent import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, AgentTuning
from flomation.runner.identity import load_or_create_identifier
from flomation.runner.outbox import Outbox


async def test_registers_with_version_manifest_and_key(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """Registration carries identifier, name, versions, the executor manifest and the key."""
    config = scripted_config(tmp_path, fake.url, once=True)
    agent = fast_agent(config)
    fake.enqueue(pending_execution())
    assert await asyncio.wait_for(agent.run(), 20) == EXIT_OK
    (request,) = fake.requests_to("/api/v1/runner")
    body = request.json()
    assert body["identifier"] == load_or_create_identifier(config.state_file)
    assert body["name"] == "Flo Runner" and body["registration_code"] == "code-1"
    assert body["executor_version"] == "0.0.scripted"
    assert list(body["manifest"]) == ["scripted/run"]
    assert body["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert request.signature_ok


async def test_unknown_registration_code_exits_without_polling(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """A 404 at registration is a configuration error: exit code 2 and no claim."""
    fake.register_status = 404
    code = await asyncio.wait_for(fast_agent(scripted_config(tmp_path, fake.url)).run(), 20)
    assert code == EXIT_CONFIG
    assert fake.requests_to("/execution") == []


async def test_registration_is_retried_until_accepted(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """5xx answers at registration are retried; polling starts only afterwards."""
    fake.register_status = 503
    agent = fast_agent(scripted_config(tmp_path, fake.url, once=True))
    task = asyncio.create_task(agent.run())
    await until(lambda: len(fake.requests_to("/api/v1/runner")) >= 3)
    assert fake.requests_to("/execution") == []
    fake.register_status = 200
    fake.enqueue(pending_execution())
    assert await asyncio.wait_for(task, 20) == EXIT_OK


async def test_never_more_running_than_slots(fake: FakeControlPlane, tmp_path: Path) -> None:
    """With 2 slots, at most 2 executions run at once and all 5 complete."""
    ids = [fake.enqueue(pending_execution(script={"sleep_s": 0.4})) for _ in range(5)]
    agent = fast_agent(scripted_config(tmp_path, fake.url, max_executions=5))
    peak = 0

    async def sample() -> None:
        nonlocal peak
        while True:
            claimed = len(fake.requests_to("/state"))
            peak = max(peak, claimed - len(fake.state.results))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        assert await asyncio.wait_for(agent.run(), 30) == EXIT_OK
    finally:
        sampler.cancel()
    assert peak <= 2
    assert all(fake.state.results[i]["has_errored"] is False for i in ids)


async def test_fast_empty_answers_are_not_hot_looped(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """An instant 204 is followed by a 2-5 s pause, so one slot polls about once in 1.5 s."""
    fake.hold_s = 0.0
    agent = fast_agent(
        scripted_config(tmp_path, fake.url, max_concurrent_executors=1),
        AgentTuning(fast_empty_poll_s=2.0),
    )
    task = asyncio.create_task(agent.run())
    await asyncio.sleep(1.5)
    agent.request_stop()
    assert await asyncio.wait_for(task, 10) == EXIT_OK
    assert len(fake.requests_to("/execution")) == 1


async def test_refused_claims_back_off(fake: FakeControlPlane, tmp_path: Path) -> None:
    """403 answers to claims are retried with growing delays, not in a loop."""
    fake.claim_status = 403
    tuning = AgentTuning(claim_backoff_s=(0.2, 5.0))
    agent = fast_agent(scripted_config(tmp_path, fake.url, max_concurrent_executors=1), tuning)
    task = asyncio.create_task(agent.run())
    await asyncio.sleep(2.0)
    agent.request_stop()
    await asyncio.wait_for(task, 10)
    assert 1 <= len(fake.requests_to("/execution")) <= 8


async def test_drain_lets_running_execution_finish(fake: FakeControlPlane, tmp_path: Path) -> None:
    """After a stop request nothing is claimed; the running execution finishes; exit 0."""
    execution_id = fake.enqueue(pending_execution(script={"sleep_s": 1.0}))
    agent = fast_agent(scripted_config(tmp_path, fake.url))
    task = asyncio.create_task(agent.run())
    await until(lambda: fake.requests_to("/state"))
    agent.request_stop()
    claims_at_stop = len(fake.requests_to("/execution"))
    fake.enqueue(pending_execution())
    assert await asyncio.wait_for(task, 15) == EXIT_OK
    assert fake.state.results[execution_id]["has_errored"] is False
    assert len(fake.requests_to("/execution")) == claims_at_stop


async def test_drain_timeout_stops_long_execution(fake: FakeControlPlane, tmp_path: Path) -> None:
    """An execution still running at the drain deadline is stopped and reported failed."""
    execution_id = fake.enqueue(pending_execution(script={"sleep_s": 60, "ignore_sigterm": True}))
    agent = fast_agent(scripted_config(tmp_path, fake.url, drain_timeout_s=0.5, kill_grace_s=0.5))
    task = asyncio.create_task(agent.run())
    await until(lambda: fake.requests_to("/state"))
    started = time.monotonic()
    agent.request_stop()
    assert await asyncio.wait_for(task, 15) == EXIT_OK
    assert time.monotonic() - started < 0.5 + 0.5 + 4
    result = fake.state.results[execution_id]
    assert result["has_errored"] is True
    assert result["state"]["cancel_reason"] == "runner shutting down"


async def test_second_stop_skips_the_drain_wait(fake: FakeControlPlane, tmp_path: Path) -> None:
    """A second stop request stops running executions without waiting for the drain timeout."""
    fake.enqueue(pending_execution(script={"sleep_s": 60}))
    agent = fast_agent(scripted_config(tmp_path, fake.url, drain_timeout_s=60))
    task = asyncio.create_task(agent.run())
    await until(lambda: fake.requests_to("/state"))
    agent.request_stop()
    agent.request_stop()
    assert await asyncio.wait_for(task, 10) == EXIT_OK


async def test_drain_with_api_down_exits_in_time(fake: FakeControlPlane, tmp_path: Path) -> None:
    """With the API unreachable, a drain still exits within drain + grace + a few seconds."""
    execution_id = fake.enqueue(pending_execution(script={"sleep_s": 60, "ignore_sigterm": True}))
    config = scripted_config(tmp_path, fake.url, drain_timeout_s=1.0, kill_grace_s=1.0)
    agent = fast_agent(
        config, dataclasses.replace(FAST_AGENT, exit_flush_s=AgentTuning().exit_flush_s)
    )
    task = asyncio.create_task(agent.run())
    # Its first log line: the claim was confirmed and the executor runs.
    await until(lambda: fake.requests_to("/logs"))
    await fake.stop()
    started = time.monotonic()
    agent.request_stop()
    assert await asyncio.wait_for(task, 30) == EXIT_OK
    assert time.monotonic() - started < 1.0 + 1.0 + 8.0
    outbox = Outbox.open(config.outbox_file)
    try:
        assert [entry.execution_id for entry in outbox.pending()] == [execution_id]
    finally:
        outbox.close()


async def test_once_exit_code_is_the_outcome(fake: FakeControlPlane, tmp_path: Path) -> None:
    """--once exits 1 when its execution failed."""
    fake.enqueue(pending_execution(script={"status": 1}))
    code = await asyncio.wait_for(
        fast_agent(scripted_config(tmp_path, fake.url, once=True)).run(), 20
    )
    assert code == EXIT_FAILURE


async def test_idle_timeout_exits(fake: FakeControlPlane, tmp_path: Path) -> None:
    """With idle_timeout_s and no work the agent exits 0 on its own."""
    agent = fast_agent(scripted_config(tmp_path, fake.url, idle_timeout_s=0.5))
    assert await asyncio.wait_for(agent.run(), 10) == EXIT_OK


async def test_low_disk_stops_claiming(fake: FakeControlPlane, tmp_path: Path) -> None:
    """Below min_free_disk_bytes no claim is made and readiness says why."""
    agent = fast_agent(scripted_config(tmp_path, fake.url, min_free_disk_bytes=1 << 62))
    task = asyncio.create_task(agent.run())
    await until(lambda: agent.status.registered)
    await asyncio.sleep(0.5)
    assert fake.requests_to("/execution") == []
    assert agent.status.disk_ok is False
    assert any("disk" in r for r in agent.status.not_ready_reasons(60))
    agent.request_stop()
    await asyncio.wait_for(task, 10)


async def test_health_listener_and_metrics(fake: FakeControlPlane, tmp_path: Path) -> None:
    """The health listener serves /readyz and /metrics with the agent's figures."""
    import aiohttp

    fake.enqueue(pending_execution(script={"lines": 4}))
    agent = fast_agent(scripted_config(tmp_path, fake.url, health_addr="127.0.0.1:0"))
    task = asyncio.create_task(agent.run())
    await until(lambda: b'outcome="success"' in agent.metrics.render())
    assert agent.health_port is not None
    base = f"http://127.0.0.1:{agent.health_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/readyz") as response:
            assert response.status == 200
        async with session.get(f"{base}/metrics") as response:
            text = await response.text()
    agent.request_stop()
    await asyncio.wait_for(task, 10)
    assert 'flomation_runner_results_total{outcome="success"} 1.0' in text
    assert "flomation_runner_slots 2.0" in text
    assert "flomation_runner_log_lines_shipped_total" in text
    assert json.loads(fake.requests_to("/state")[0].body) == {"state": "running"}


async def test_stop_during_registration_leaves_no_executor(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """A stop while the executor's --version runs kills it and exits cleanly (nothing leaks)."""
    pid_file = tmp_path / "version.pid"
    slow_executor = tmp_path / "slow-executor"
    slow_executor.write_text(f'#!/bin/sh\necho $$ > "{pid_file}"\nexec sleep 60\n')
    slow_executor.chmod(0o755)
    agent = fast_agent(scripted_config(tmp_path, fake.url, executable=(str(slow_executor),)))
    task = asyncio.create_task(agent.run())
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the executor's --version never started"
        await asyncio.sleep(0.02)
    pid = int(pid_file.read_text())
    agent.request_stop()
    await asyncio.wait_for(task, 10)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_same_execution_claimed_twice_runs_once(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """A second claim answer for an execution already running in another slot is ignored."""
    pending = pending_execution(script={"sleep_s": 1.0, "lines": 2})
    execution_id = fake.enqueue(pending)
    fake.enqueue(pending)  # a claim answer held up past the lease, as the proxy test makes
    records = tmp_path / "records"
    records.mkdir()
    environ = {**os.environ, "SCRIPTED_EXECUTOR_RECORD_DIR": str(records)}
    agent = fast_agent(
        scripted_config(tmp_path, fake.url, max_concurrent_executors=2), environ=environ
    )
    task = asyncio.create_task(agent.run())
    await fake.wait_for_result(execution_id, 15)
    agent.request_stop()
    assert await asyncio.wait_for(task, 15) == EXIT_OK
    assert len(fake.requests_to("/execution")) >= 2
    assert [path.name for path in records.iterdir()] == [f"{execution_id}-1.json"]
    assert fake.state.result_posts[execution_id] == 1


async def test_stale_claim_of_a_finished_run_is_ignored_but_a_resume_runs(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """After a run ended, another answer handing out the same run is ignored; a resume is not."""
    pending = pending_execution(script={"lines": 1})
    execution_id = fake.enqueue(pending)
    fake.enqueue(copy.deepcopy(pending))  # held up past the lease: arrives after the run
    resumed = copy.deepcopy(pending)
    resumed["execution"]["suspend_count"] = 1
    fake.enqueue(resumed)
    records = tmp_path / "records"
    records.mkdir()
    environ = {**os.environ, "SCRIPTED_EXECUTOR_RECORD_DIR": str(records)}
    agent = fast_agent(
        scripted_config(tmp_path, fake.url, max_concurrent_executors=1), environ=environ
    )
    task = asyncio.create_task(agent.run())
    await until(lambda: len(list(records.iterdir())) == 2 and not fake.state.queue)
    await asyncio.sleep(0.5)
    agent.request_stop()
    assert await asyncio.wait_for(task, 15) == EXIT_OK
    assert sorted(path.name for path in records.iterdir()) == [
        f"{execution_id}-1.json",
        f"{execution_id}-2.json",
    ]
