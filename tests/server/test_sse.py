"""The live stream (docs/protocol.md §10.6): replay, live lines, status and complete."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from flomation.server.admin_answers import FloAnswer
from flomation.server.admin_client import AdminClient, SseEvent
from flomation.server.embedded import EmbeddedServer, running_server

from .conftest import SettingsFactory, claimed_execution
from .runner_client import FLOW, SigningRunner, claim_new


async def test_stream_replays_then_follows_then_completes(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A viewer gets the persisted log, then live lines and status, then ``complete``."""
    execution_id = await claim_new(runner, admin, flo["id"])
    await runner.logs(execution_id, ["first", '__NODE__:{"id":"t1"}'])
    events: list[SseEvent] = []
    seen_first_two = asyncio.Event()

    async def watch() -> None:
        async for event in admin.stream(execution_id):
            events.append(event)
            if len(events) == 2:
                seen_first_two.set()

    viewer = asyncio.create_task(watch())
    async with asyncio.timeout(5):
        await seen_first_two.wait()
    await runner.set_running(execution_id)
    await runner.logs(execution_id, ["__STATUS__:halfway", "__COMPLETE__", "last"])
    # A viewer reports the status it finds when it looks, so a result posted before it looked
    # again would turn "running" straight into "executed": wait until it has seen "running".
    async with asyncio.timeout(5):
        while SseEvent("status", "running", None) not in events:
            await asyncio.sleep(0.01)
    await runner.result(execution_id)
    async with asyncio.timeout(5):
        await viewer
    assert events[0] == SseEvent("message", "first", "1")
    assert events[1] == SseEvent("node", '{"id":"t1"}', "2")
    assert SseEvent("status", "halfway", "3") in events
    assert SseEvent("message", "__COMPLETE__", "4") in events
    assert SseEvent("message", "last", "5") in events
    assert SseEvent("status", "running", None) in events
    assert events[-1] == SseEvent("complete", "success", None)


async def test_finished_execution_replays_and_closes(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """After the end the log is replayed (from Last-Event-ID) before ``complete`` and closing."""
    execution_id = await claim_new(runner, admin, flo["id"])
    await runner.logs(execution_id, ["a", "b", "c"])
    await runner.result(execution_id, has_errored=True)
    async with asyncio.timeout(5):
        everything = [event async for event in admin.stream(execution_id)]
        resumed = [event async for event in admin.stream(execution_id, last_event_id=2)]
    assert [event.data for event in everything] == ["a", "b", "c", "fail"]
    assert [event.data for event in resumed] == ["c", "fail"]


async def test_stream_needs_admin_token_and_known_execution(
    server: EmbeddedServer, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    """The stream is 401 without the admin token and 404 for an unknown execution."""
    async with http.get(f"{server.url}/api/v1/execution/x/stream") as response:
        assert response.status == 401
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    async with http.get(f"{server.url}/api/v1/execution/x/stream", headers=headers) as response:
        assert response.status == 404


async def test_headers_are_event_stream(
    server: EmbeddedServer,
    http: aiohttp.ClientSession,
    runner: SigningRunner,
    admin: AdminClient,
    flo: FloAnswer,
) -> None:
    """The stream is served as ``text/event-stream`` without caching."""
    execution_id = await claim_new(runner, admin, flo["id"])
    await runner.result(execution_id)
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    url = f"{server.url}/api/v1/execution/{execution_id}/stream"
    async with http.get(url, headers=headers) as response:
        assert response.content_type == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache"
        assert b"event: complete\ndata: success\n\n" in await response.read()


async def test_shutdown_ends_open_streams(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """Stopping the server closes a live stream promptly instead of waiting for the execution."""
    received: list[SseEvent] = []
    async with running_server(make_settings()) as server:
        admin = AdminClient(server.url, server.admin_token)
        queue = await admin.create_queue("q")
        runner = SigningRunner(server.url, http)
        await runner.register(queue["registration_code"])
        flo = await admin.create_flo("f", FLOW)
        execution_id = await claim_new(runner, admin, flo["id"])
        await runner.logs(execution_id, ["working"])

        async def watch() -> None:
            async for event in admin.stream(execution_id):
                received.append(event)

        viewer = asyncio.create_task(watch())
        await asyncio.sleep(0.3)
        started = time.monotonic()
    try:
        async with asyncio.timeout(5):
            await viewer
    finally:
        await admin.close()
    assert time.monotonic() - started < 5
    assert [event.data for event in received] == ["working"]


async def test_idle_stream_sends_keepalive_comments(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """A stream with nothing new sends ``: keepalive`` comments at the configured period."""
    settings = make_settings(sse_keepalive_s=0.2, sse_recheck_s=0.05)
    async with claimed_execution(settings, http) as (server, _, _, execution_id):
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        url = f"{server.url}/api/v1/execution/{execution_id}/stream"
        async with http.get(url, headers=headers) as response:
            async with asyncio.timeout(5):
                first = await response.content.readuntil(b"\n\n")
        assert first == b": keepalive\n\n"
