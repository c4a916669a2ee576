"""Replicas on one PostgreSQL database: wake-ups and live streams cross over LISTEN/NOTIFY, one
reaper at a time, and concurrent claims take each execution exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import aiohttp
import pytest

from flomation.server.admin_client import AdminClient
from flomation.server.config import ServerSettings
from flomation.server.embedded import running_server
from flomation.server.store.database import Database

from .databases import empty_database
from .runner_client import (
    FLOW,
    SigningRunner,
    claim_new,
    held_poll_woken_across,
    wait_for_field,
)

# Periodic cross-replica passes slower than any test: only NOTIFY can be what wakes a replica.
_NO_POLLING = {"shared_wakeup_interval_s": 3600.0, "sse_recheck_s": 3600.0, "poll_hold_s": 20.0}


@pytest.fixture
def postgres_url(emptied_databases: None) -> Iterator[str]:
    """An empty PostgreSQL database (these tests are about replicas, which need one)."""
    with empty_database() as url:
        yield url


def _replica(postgres_url: str, **overrides: Any) -> ServerSettings:
    values: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "database": postgres_url,
        "admin_token": "test-admin-token",
        "secret_key": "A" * 43 + "=",
        **_NO_POLLING,
    }
    return ServerSettings(**(values | overrides))


@pytest.fixture
def replica_settings(postgres_url: str) -> ServerSettings:
    """Settings of a replica on the test's PostgreSQL database, with no periodic passes."""
    return _replica(postgres_url)


async def _log_lines(admin: AdminClient, execution_id: str) -> AsyncGenerator[str, None]:
    """The execution's log lines as a live stream (through ``admin``'s replica) shows them."""
    async for event in admin.stream(execution_id):
        if event.id:
            yield event.data


async def test_execution_created_on_one_replica_wakes_a_poll_held_by_another(
    replica_settings: ServerSettings, http: aiohttp.ClientSession
) -> None:
    """A poll held by replica A answers at once when replica B creates an execution (NOTIFY)."""
    async with (
        running_server(replica_settings) as first,
        running_server(replica_settings) as second,
        AdminClient(second.url, second.admin_token) as admin,
    ):
        # A 20 s hold and 3600 s between passes: only NOTIFY can answer it in time.
        await held_poll_woken_across(first.url, admin, http)


async def test_a_replica_checks_calls_on_an_execution_claimed_again_through_another(
    postgres_url: str, http: aiohttp.ClientSession
) -> None:
    """Replica A saw runner X claim an execution; once X's claim lapsed and runner Y claimed it
    through replica B, A refuses X's calls and accepts Y's, though A last saw X holding it."""
    lease = {"claim_lease_s": 0.5, "reaper_interval_s": 0.1, "runner_lost_after_s": 0.3}
    settings = _replica(postgres_url, **lease)
    async with (
        running_server(settings) as first,
        running_server(settings) as second,
        AdminClient(first.url, first.admin_token) as admin,
    ):
        queue = await admin.create_queue("q")
        flo = await admin.create_flo("f", FLOW)
        x, y = SigningRunner(first.url, http), SigningRunner(second.url, http)
        for runner in (x, y):
            assert (await runner.register(queue["registration_code"])).status == 200
        execution_id = await claim_new(x, admin, flo["id"])
        await wait_for_field(admin, execution_id, "execution_status", "created")
        claim = await y.poll()
        assert claim.status == 200 and claim.json["execution"]["id"] == execution_id
        y.base_url = first.url
        assert (await x.set_running(execution_id)).status == 409
        assert (await x.logs(execution_id, ["from x"])).status == 403
        assert (await x.result(execution_id, state={"by": "x"})).status == 403
        assert (await x.status(execution_id)).status == 403
        assert (await y.set_running(execution_id)).status == 200
        status = await y.status(execution_id)
        assert status.json == {"execution_status": "running", "completion_status": "pending"}
        assert (await y.logs(execution_id, ["from y"])).status == 200
        assert (await y.result(execution_id, state={"by": "y"})).status == 200
        execution = await admin.get_execution(execution_id)
        assert execution["runner_id"] == y.runner_id
        assert (execution["completion_status"], execution["result"]) == ("success", {"by": "y"})
        assert [event.data async for event in admin.stream(execution_id) if event.id] == ["from y"]


async def test_log_posted_to_one_replica_reaches_a_stream_served_by_another(
    replica_settings: ServerSettings, http: aiohttp.ClientSession
) -> None:
    """A live stream on replica B shows a line that the runner posted to replica A."""
    async with (
        running_server(replica_settings) as first,
        running_server(replica_settings) as second,
        AdminClient(first.url, first.admin_token) as admin_a,
        AdminClient(second.url, second.admin_token) as admin_b,
    ):
        queue = await admin_a.create_queue("q")
        flo = await admin_a.create_flo("f", FLOW)
        runner = SigningRunner(first.url, http)
        assert (await runner.register(queue["registration_code"])).status == 200
        execution_id = await claim_new(runner, admin_a, flo["id"])
        lines = _log_lines(admin_b, execution_id)
        first_line = asyncio.create_task(anext(lines))
        await asyncio.sleep(0.5)
        assert (await runner.logs(execution_id, ["crossed over"])).status == 200
        async with asyncio.timeout(10):
            assert await first_line == "crossed over"
        await lines.aclose()


async def test_concurrent_claims_through_two_replicas_take_each_execution_once(
    postgres_url: str, http: aiohttp.ClientSession
) -> None:
    """Eight runners polling two replicas at once claim 60 executions, each exactly once."""
    replica_settings = _replica(postgres_url, poll_hold_s=0.5)
    async with (
        running_server(replica_settings) as first,
        running_server(replica_settings) as second,
        AdminClient(first.url, first.admin_token) as admin,
    ):
        queue = await admin.create_queue("q")
        flo = await admin.create_flo("f", FLOW)
        created = {await admin.execute(flo["id"]) for _ in range(60)}
        runners = [SigningRunner((first, second)[n % 2].url, http) for n in range(8)]
        for runner in runners:
            assert (await runner.register(queue["registration_code"])).status == 200
        claimed: list[str] = []

        async def drain(runner: SigningRunner) -> None:
            while True:
                answer = await runner.poll()
                if answer.status != 200:
                    return
                claimed.append(answer.json["execution"]["id"])

        async with asyncio.timeout(60):
            await asyncio.gather(*(drain(runner) for runner in runners))
    assert sorted(claimed) == sorted(created)


async def test_only_one_replica_reaps_at_a_time(postgres_url: str) -> None:
    """While one server's reaping transaction holds the turn, another's is told to skip."""
    first, second = Database.open(postgres_url), Database.open(postgres_url)
    try:
        with first.write() as holding:
            assert first.only_one(holding, "reap")
            with second.write() as other:
                assert not second.only_one(other, "reap")
                assert second.only_one(other, "prune")
        with second.write() as later:
            assert second.only_one(later, "reap")
    finally:
        first.close()
        second.close()
