"""Bad input gets a 4xx JSON error naming the problem, and the server keeps serving (§8.4)."""

from __future__ import annotations

import aiohttp

from flomation.server.admin_answers import FloAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.embedded import EmbeddedServer

from .conftest import SettingsFactory, claimed_execution
from .runner_client import FLOW, SigningRunner, claim_new


async def _healthy(server: EmbeddedServer, http: aiohttp.ClientSession) -> bool:
    async with http.get(server.url + "/healthz") as response:
        return response.status == 200


async def test_runner_bodies_with_bad_json_types_or_encoding(
    server: EmbeddedServer,
    http: aiohttp.ClientSession,
    runner: SigningRunner,
    admin: AdminClient,
    flo: FloAnswer,
) -> None:
    """Invalid JSON, wrong types, non-UTF-8 bytes and lone surrogates are 400s with a message."""
    execution_id = await claim_new(runner, admin, flo["id"])
    cases: list[tuple[str, bytes, str]] = [
        ("/logs", b'{"lines": ["a", ', "invalid JSON"),
        ("/logs", b'{"lines": "not a list"}', "'lines'"),
        ("/logs", b'{"lines": [1, 2]}', "'lines.0'"),
        ("/logs", b'{"lines": ["ok"], "extra": 1}', "unknown field 'extra'"),
        ("/logs", b'{"lines": ["caf\xe9"]}', "not valid UTF-8"),
        ("/logs", b'{"lines": ["\\ud800"]}', "invalid JSON"),
        ("/logs", b"", "empty"),
        ("/logs", b'{"lines": ["a"], "lines": ["b", "c"]}', "more than one 'lines'"),
        ("", b'{"has_errored": "yes", "state": {}}', "'has_errored'"),
        ("", b'{"state": {}}', "missing field 'has_errored'"),
        ("", b"[]", "request body"),
        ("/state", b'{"state": 1}', "'state'"),
    ]
    for suffix, body, expected in cases:
        answer = await runner.post(execution_id, suffix, body)
        assert answer.status == 400, (suffix, body, answer.body)
        assert answer.content_type == "application/json"
        assert expected in answer.json["error"], (body, answer.json)
    assert (await admin.get_execution(execution_id))["log_bytes"] == 0
    assert await _healthy(server, http)
    assert (await runner.result(execution_id)).status == 200


async def test_admin_bodies_are_strict(
    server: EmbeddedServer, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    """Admin bodies reject unknown fields, wrong types, missing names and non-object data."""
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    cases: list[tuple[str, bytes, str]] = [
        ("/api/v1/queue", b'{"name": "q", "colour": "red"}', "unknown field 'colour'"),
        ("/api/v1/queue", b'{"name": 5}', "'name'"),
        ("/api/v1/queue", b"{}", "missing field 'name'"),
        ("/api/v1/flo", b'{"name": "f", "data": []}', "'data'"),
        ("/api/v1/flo", b'{"name": "f", "data": {}, "queue_id": "nope"}', "queue 'nope'"),
        ("/api/v1/environment", b"\xff\xfe", "not valid UTF-8"),
    ]
    for path, body, expected in cases:
        async with http.post(server.url + path, data=body, headers=headers) as response:
            assert response.status == 400, (path, body)
            assert expected in (await response.json())["error"], body
    flo = await admin.create_flo("f", FLOW)
    execute = f"{server.url}/api/v1/flo/{flo['id']}/execute"
    async with http.post(execute, data=b'{"data": "text"}', headers=headers) as response:
        assert response.status == 400
    async with http.post(execute, headers=headers) as response:
        assert response.status == 201
    async with http.get(server.url + "/api/v1/execution?status=bogus", headers=headers) as resp:
        assert resp.status == 400 and "bogus" in (await resp.json())["error"]
    assert await _healthy(server, http)


async def test_unknown_routes_and_methods_answer_json(
    server: EmbeddedServer, http: aiohttp.ClientSession
) -> None:
    """Unknown paths are 404 and wrong methods 405, both with a JSON error body."""
    async with http.get(server.url + "/nope") as response:
        assert response.status == 404 and await response.json() == {"error": "not found"}
    async with http.delete(server.url + "/api/v1/runner") as response:
        assert response.status == 405 and "error" in await response.json()


async def test_log_cap_appends_one_marker(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """Past ``max_log_bytes`` one truncation marker is stored and later lines are dropped."""
    settings = make_settings(max_log_bytes=2048)
    async with claimed_execution(settings, http) as (_, admin, runner, execution_id):
        for _ in range(5):
            assert (await runner.logs(execution_id, ["y" * 999])).status == 200
        await runner.result(execution_id)
        stored = await admin.get_execution(execution_id)
        assert stored["log_truncated"] is True and stored["log_bytes"] == 2000
        lines = [event.data async for event in admin.stream(execution_id) if event.id]
        assert lines == [
            "y" * 999,
            "y" * 999,
            "[flomation-server] log truncated: limit of 2048 bytes reached",
        ]
