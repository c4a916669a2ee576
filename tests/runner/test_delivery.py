"""Result delivery (runner/delivery.py) through a real agent, scripted executor and fake API."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from fixtures.agents import FAST_AGENT, fast_agent, scripted_config, until
from fixtures.fake_control_plane import FakeControlPlane, pending_execution
from flomation.runner.agent import EXIT_OK
from flomation.runner.outbox import Outbox


async def test_result_survives_api_outage(fake: FakeControlPlane, tmp_path: Path) -> None:
    """A result produced while the API is down is delivered once it is back."""
    execution_id = fake.enqueue(pending_execution(script={"sleep_s": 0.5, "lines": 5}))
    agent = fast_agent(scripted_config(tmp_path, fake.url, max_concurrent_executors=1))
    task = asyncio.create_task(agent.run())
    # Its first log line: the claim was confirmed and the executor runs.
    await until(lambda: fake.requests_to("/logs"))
    await fake.stop()
    await asyncio.sleep(1.5)
    assert execution_id not in fake.state.results
    await fake.start()
    await fake.wait_for_result(execution_id, 15)
    agent.request_stop()
    await asyncio.wait_for(task, 15)
    assert fake.state.results[execution_id]["state"]["logs"].count("__NODE__:") == 5
    assert fake.state.result_posts[execution_id] == 1


async def test_result_answered_5xx_is_redelivered_until_accepted(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """A result answered 500, 502 and 503 is posted again, unchanged, until the API takes it."""
    fake.result_failures = [500, 502, 503]
    execution_id = fake.enqueue(pending_execution(script={"lines": 3}))
    config = scripted_config(tmp_path, fake.url, once=True)
    assert await asyncio.wait_for(fast_agent(config).run(), 30) == EXIT_OK
    posts = fake.requests_to(f"/execution/{execution_id}")
    assert len(posts) == 4
    assert all(post.signature_ok for post in posts)
    assert len({post.body for post in posts}) == 1  # the same result every time
    assert fake.state.results[execution_id]["state"]["logs"].count("__NODE__:") == 3
    outbox = Outbox.open(config.outbox_file)
    try:
        assert outbox.pending() == []
    finally:
        outbox.close()


async def test_undelivered_results_are_sent_at_next_start(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """Results still in the outbox at exit are replayed by the next run."""
    execution_id = fake.enqueue(pending_execution())
    config = scripted_config(tmp_path, fake.url, once=True)
    fake.result_status = 503
    # Every post is refused, so the exit flush could only wait in vain: skip it.
    no_flush = dataclasses.replace(FAST_AGENT, exit_flush_s=0.0)
    assert await asyncio.wait_for(fast_agent(config, no_flush).run(), 20) == EXIT_OK
    assert execution_id not in fake.state.results
    fake.result_status = None
    agent = fast_agent(dataclasses.replace(config, once=False))
    task = asyncio.create_task(agent.run())
    await fake.wait_for_result(execution_id, 15)
    agent.request_stop()
    await asyncio.wait_for(task, 10)


async def test_oversized_result_is_shrunk_until_accepted(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """A 413 on the result makes the runner cut state.logs (head and tail kept) and resend."""
    fake.max_result_bytes = 40_000
    execution_id = fake.enqueue(pending_execution(script={"lines": 2000}))
    agent = fast_agent(scripted_config(tmp_path, fake.url, once=True))
    assert await asyncio.wait_for(agent.run(), 20) == EXIT_OK
    logs = fake.state.results[execution_id]["state"]["logs"]
    assert "[flomation-runner] output truncated" in logs
    assert '"node-1999"' in logs  # the tail survives


async def test_unknown_execution_result_is_dead_lettered(
    fake: FakeControlPlane, tmp_path: Path
) -> None:
    """A 404 answer to a result ends the outbox entry with a reason instead of retrying."""
    fake.result_status = 404
    fake.enqueue(pending_execution())
    config = scripted_config(tmp_path, fake.url, once=True)
    assert await asyncio.wait_for(fast_agent(config).run(), 20) == EXIT_OK
    outbox = Outbox.open(config.outbox_file)
    try:
        assert outbox.pending() == []
        entry = outbox.get(1)
        assert entry is not None and entry.dead and "404" in (entry.done_reason or "")
    finally:
        outbox.close()
