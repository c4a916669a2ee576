"""v1-only signatures (docs/protocol.md §3, §8.1 A4): accepted once, so the Go runner keeps working.

The upstream Go runner signs every request afresh with randomised RSA-PSS and sends v1 only
(flomation-co/runner: internal/runner/service.go, ``rsa.SignPSS(rand.Reader, ...)`` before each
request); a repeated v1 signature can only be a captured request sent again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp

from flomation.runner.api import RunnerApi, registration_body
from flomation.server.admin_answers import FloAnswer, QueueAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.embedded import EmbeddedServer
from flomation.wire.signing import (
    SIGNATURE_HEADER,
    generate_private_key,
    public_key_pem,
    sign_v1,
)

from .runner_client import (
    FLOW,
    SigningRunner,
    claim_new,
    compact,
    new_identifier,
    requested_at_now,
)


async def test_a_repeated_v1_signature_is_refused(
    server: EmbeddedServer, runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A claim, a status poll and a log batch sent again with the same v1 signature get 403."""
    claim_path = f"/api/v1/runner/{runner.identifier}/execution"
    claim_body = compact({"requested_at": requested_at_now()})
    claim_signature = sign_v1(runner.key, claim_body)
    first = await runner.send(
        "POST", claim_path, claim_body, v1=False, headers={SIGNATURE_HEADER: claim_signature}
    )
    assert first.status == 204
    execution_id = await admin.execute(flo["id"])
    for spelling in (claim_signature, claim_signature.upper()):
        replay = await runner.send(
            "POST", claim_path, claim_body, v1=False, headers={SIGNATURE_HEADER: spelling}
        )
        assert replay.status == 403 and replay.json == {"error": "replayed v1 signature"}
    assert (await admin.get_execution(execution_id))["execution_status"] == "created"

    assert (await runner.poll()).json["execution"]["id"] == execution_id
    status_signature = sign_v1(runner.key, execution_id.encode())
    status = {SIGNATURE_HEADER: status_signature}
    assert (await runner.get(execution_id, "/status", v1=False, headers=status)).status == 200
    assert (await runner.get(execution_id, "/status", v1=False, headers=status)).status == 403
    logs_body = compact({"lines": ["once"]})
    logs = {SIGNATURE_HEADER: sign_v1(runner.key, logs_body)}
    assert (
        await runner.post(execution_id, "/logs", logs_body, v1=False, headers=logs)
    ).status == 200
    assert (
        await runner.post(execution_id, "/logs", logs_body, v1=False, headers=logs)
    ).status == 403
    assert (await admin.get_execution(execution_id))["log_bytes"] == len("once\n")


async def test_the_executor_may_reuse_its_token_while_the_execution_runs(
    server: EmbeddedServer, runner: SigningRunner, admin: AdminClient
) -> None:
    """The executor's ``?token=`` is one v1 signature reused for every look-up: all answered."""
    environment = await admin.create_environment("prod")
    await admin.put_property(environment["id"], "region", "eu-west-1")
    flo = await admin.create_flo("f", FLOW, environment_id=environment["id"])
    execution_id = await claim_new(runner, admin, flo["id"])
    token = sign_v1(runner.key, execution_id.encode())
    base = f"/api/v1/execution/{execution_id}/environment"
    for suffix in ("/prod", f"/{environment['id']}/property/region", "/prod/property/region"):
        answer = await runner.send("GET", f"{base}{suffix}?token={token}", v1=False)
        assert answer.status == 200, suffix


async def test_a_go_runner_signing_v1_only_registers_claims_runs_and_reports(
    server: EmbeddedServer, http: aiohttp.ClientSession, admin: AdminClient, queue: QueueAnswer
) -> None:
    """Like the Go runner: unsigned registration, then v1-only claim, state, logs, polls, result."""
    go_runner = SigningRunner(server.url, http, v2=False)
    assert (await go_runner.register(queue["registration_code"])).status == 200
    flo = await admin.create_flo("f", FLOW)
    execution_id = await claim_new(go_runner, admin, flo["id"])
    assert (await go_runner.set_running(execution_id)).status == 200
    for number in range(5):  # one log line per request, as the Go runner streams them
        assert (await go_runner.logs(execution_id, [f"line {number}"])).status == 200
        assert (await go_runner.status(execution_id)).status == 200
    assert (await go_runner.set_running(execution_id)).status == 200  # the same body again
    assert (await go_runner.result(execution_id, state={"ok": True})).status == 200
    execution = await admin.get_execution(execution_id)
    assert execution["completion_status"] == "success"
    lines = [event.data async for event in admin.stream(execution_id) if event.id]
    assert lines == [f"line {number}" for number in range(5)]
    # Registering again on the next start, still unsigned, is a refresh (201).
    assert (await go_runner.register(queue["registration_code"])).status == 201


async def test_the_project_runner_without_v2_signs_every_request_and_retry_afresh(
    server: EmbeddedServer, admin: AdminClient, queue: QueueAnswer
) -> None:
    """With signing_v2 off the project runner's repeated polls and retried sends are accepted."""
    key, identifier = generate_private_key(), new_identifier()
    async with RunnerApi(server.url, identifier, key, signing_v2=False) as api:
        body = registration_body(
            identifier=identifier,
            name="py",
            registration_code=queue["registration_code"],
            version="1",
            executor_version="1",
            manifest={},
            public_key_pem=public_key_pem(key),
        )
        assert (await api.register(body)).status == 200
        flo = await admin.create_flo("f", FLOW)
        execution_id = await admin.execute(flo["id"])
        assert (await api.claim()).status == 200
        for _ in range(3):
            assert (await api.get_status(execution_id)).status == 200
        logs = await api.prepare_logs(execution_id, ["sent", "twice"])
        assert (await api.send_prepared(logs)).status == 200
        assert (await api.send_prepared(logs)).status == 200


async def test_a_v1_claim_is_accepted_only_while_its_requested_at_is_current(
    server: EmbeddedServer, runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A v1-only claim more than the window (300 s) from the server's clock, or without a
    timestamp, is 403, so one captured earlier cannot take work once the store forgot it."""
    path = f"/api/v1/runner/{runner.identifier}/execution"
    await admin.execute(flo["id"])
    now = datetime.now(UTC)
    for requested_at in (now - timedelta(seconds=400), now + timedelta(seconds=400)):
        body = compact({"requested_at": requested_at.isoformat().replace("+00:00", "Z")})
        answer = await runner.send("POST", path, body)
        assert answer.status == 403
        assert answer.json == {
            "error": "requested_at of a claim signed with v1 only is outside the allowed window"
        }
    for body in (b'{"requested_at":"bench"}', b'{"requested_at":"2026-12-06T21:00:00"}', b"{}"):
        assert (await runner.send("POST", path, body)).status == 403
    # Go's time.Time JSON has nanoseconds; a v2 claim is bound by its own timestamp instead.
    go_style = now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
    assert (await runner.send("POST", path, compact({"requested_at": go_style}))).status == 200
    await admin.execute(flo["id"])
    old = compact({"requested_at": "2026-11-27T08:00:00.123456Z"})
    assert (await runner.send("POST", path, old, v1=True, v2=True)).status == 200
