"""Several server instances on one database (docs/protocol.md §8.4): wake-ups, nonces, restarts."""

from __future__ import annotations

import asyncio
import base64
import time

import aiohttp

from flomation.server.admin_client import AdminClient
from flomation.server.embedded import running_server
from flomation.wire.signing import SIGNATURE_V2_HEADER, sign_v1, sign_v2

from .conftest import SettingsFactory
from .runner_client import FLOW, SigningRunner


async def test_execution_created_on_one_instance_wakes_a_poll_on_another(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """A poll held by instance A is woken by an execution created through instance B."""
    settings = make_settings(poll_hold_s=20, shared_wakeup_interval_s=0.2)
    async with (
        running_server(settings) as first,
        running_server(settings) as second,
        AdminClient(second.url, second.admin_token) as admin,
    ):
        queue = await admin.create_queue("q")
        flo = await admin.create_flo("f", FLOW)
        runner = SigningRunner(first.url, http)
        assert (await runner.register(queue["registration_code"])).status == 200
        poll = asyncio.create_task(runner.poll())
        await asyncio.sleep(0.3)
        started = time.monotonic()
        execution_id = await admin.execute(flo["id"])
        answer = await poll
        assert answer.status == 200 and answer.json["execution"]["id"] == execution_id
        assert time.monotonic() - started < 5

        path = f"/api/v1/execution/{execution_id}/status"
        header = sign_v2(runner.key, "GET", path, b"")
        on_first = await runner.get(execution_id, "/status", headers={SIGNATURE_V2_HEADER: header})
        replayed = await SigningRunner(second.url, http, key=runner.key).get(
            execution_id, "/status", headers={SIGNATURE_V2_HEADER: header}
        )
        assert on_first.status == 200
        assert replayed.status == 403


async def test_secrets_survive_restart_and_a_wrong_key_is_a_clear_500(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """Secrets decrypt after a restart with the same key; with another key the GET is a JSON 500."""
    async with (
        running_server(make_settings()) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        queue = await admin.create_queue("q")
        environment = await admin.create_environment("prod")
        await admin.put_secret(environment["id"], "token", "value-1")
        flo = await admin.create_flo("f", FLOW, environment_id=environment["id"])
        runner = SigningRunner(server.url, http)
        await runner.register(queue["registration_code"])
        execution_id = await admin.execute(flo["id"])
        assert (await runner.poll()).status == 200

    token = sign_v1(runner.key, execution_id.encode())
    path = f"/api/v1/execution/{execution_id}/environment/prod/secret/token?token={token}"
    async with running_server(make_settings()) as server:
        runner.base_url = server.url
        answer = await runner.send("GET", path, v1=False)
        assert answer.status == 200 and answer.json["value"] == "value-1"

    other_key = base64.b64encode(b"k" * 32).decode()
    async with running_server(make_settings(secret_key=other_key)) as server:
        runner.base_url = server.url
        answer = await runner.send("GET", path, v1=False)
        assert answer.status == 500
        assert answer.json == {"error": "stored secret 'token' cannot be decrypted"}
        async with http.get(server.url + "/healthz") as response:
            assert response.status == 200
