"""Several server instances on one database (docs/protocol.md §8.4): wake-ups, nonces, restarts."""

from __future__ import annotations

import base64
import re
import time

import aiohttp

from flomation.server.admin_client import AdminClient
from flomation.server.dashboard import sign_in_url
from flomation.server.embedded import running_server
from flomation.wire.signing import SIGNATURE_V2_HEADER, sign_v1, sign_v2

from .conftest import SettingsFactory
from .runner_client import FLOW, SigningRunner, held_poll_woken_across


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
        # The shared polling pass (every 0.2 s) or NOTIFY, whichever the database offers.
        runner, execution_id = await held_poll_woken_across(first.url, admin, http)

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


async def test_a_dashboard_sign_in_on_one_instance_holds_on_another(
    make_settings: SettingsFactory,
) -> None:
    """A session made by instance A opens B's pages and forms; signed out on B, A refuses it;
    a sign-in link opened on A is refused on B."""
    settings = make_settings()
    async with running_server(settings) as first, running_server(settings) as second:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            form = await browser.get(first.url + "/signin")
            nonce = re.search(r'name="nonce" value="([^"]+)"', await form.text())
            assert nonce is not None
            signed_in = await browser.post(
                first.url + "/signin",
                data={"nonce": nonce.group(1), "token": first.admin_token},
                allow_redirects=False,
            )
            assert signed_in.status == 303
            cookie = next(c for c in jar if c.key == "flomation_session")
            headers = {"Cookie": f"flomation_session={cookie.value}"}
        async with aiohttp.ClientSession() as plain:
            page = await plain.get(second.url + "/", headers=headers, allow_redirects=False)
            assert page.status == 200
            csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())
            assert csrf is not None
            signed_out = await plain.post(
                second.url + "/signout",
                data={"csrf": csrf.group(1)},
                headers=headers,
                allow_redirects=False,
            )
            assert signed_out.status == 303
            refused = await plain.get(first.url + "/", headers=headers, allow_redirects=False)
            assert refused.status == 303 and refused.headers["location"].startswith("/signin")

            link = sign_in_url("", first.admin_token, time.time())
            opened = await plain.get(first.url + link, allow_redirects=False)
            assert opened.status == 303 and opened.headers["location"] == "/"
            again = await plain.get(second.url + link, allow_redirects=False)
            assert again.status == 401
