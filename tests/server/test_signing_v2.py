"""v2 request signatures (docs/protocol.md §9): binding, time window, nonce replay, require_v2."""

from __future__ import annotations

import time

import aiohttp

from flomation.server.admin_answers import FloAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.embedded import running_server
from flomation.wire.signing import SIGNATURE_V2_HEADER, sign_v2

from .conftest import SettingsFactory
from .runner_client import FLOW, SigningRunner, claim_new, compact, requested_at_now


async def test_v2_signed_lifecycle_is_accepted(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """Requests carrying both v1 and v2 signatures are accepted along the whole lifecycle."""
    runner.v2 = True
    execution_id = await claim_new(runner, admin, flo["id"])
    assert (await runner.set_running(execution_id)).status == 200
    assert (await runner.status(execution_id)).status == 200
    assert (await runner.result(execution_id)).status == 200


async def test_v2_signature_for_one_execution_fails_on_another(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A v2 header made for execution A's path is rejected on execution B (v2 binds the path)."""
    first = await claim_new(runner, admin, flo["id"])
    second = await claim_new(runner, admin, flo["id"])
    header = sign_v2(runner.key, "GET", f"/api/v1/execution/{first}/status", b"")
    answer = await runner.get(second, "/status", v1=False, headers={SIGNATURE_V2_HEADER: header})
    assert answer.status == 403 and answer.json == {"error": "invalid v2 signature"}
    ok = await runner.get(first, "/status", v1=False, headers={SIGNATURE_V2_HEADER: header})
    assert ok.status == 200


async def test_replayed_nonce_is_403(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """Sending the same v2 header twice is refused the second time."""
    execution_id = await claim_new(runner, admin, flo["id"])
    header = sign_v2(runner.key, "GET", f"/api/v1/execution/{execution_id}/status", b"")
    first = await runner.get(execution_id, "/status", headers={SIGNATURE_V2_HEADER: header})
    replay = await runner.get(execution_id, "/status", headers={SIGNATURE_V2_HEADER: header})
    assert first.status == 200
    assert replay.status == 403 and replay.json == {"error": "replayed v2 signature nonce"}


async def test_replayed_nonce_on_state_logs_and_result_is_403_and_writes_nothing(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A v2 header sent again on state, logs or result is refused, and the batch is not stored
    twice (the nonce is recorded by the call's own write)."""
    execution_id = await claim_new(runner, admin, flo["id"])
    base = f"/api/v1/execution/{execution_id}"
    for suffix, payload in (
        ("/state", {"state": "running"}),
        ("/logs", {"lines": ["once"]}),
        ("", {"has_errored": False, "state": {}}),
    ):
        body = compact(payload)
        header = {SIGNATURE_V2_HEADER: sign_v2(runner.key, "POST", base + suffix, body)}
        first = await runner.post(execution_id, suffix, body, headers=header)
        replay = await runner.post(execution_id, suffix, body, headers=header)
        assert first.status == 200, suffix
        assert replay.status == 403 and replay.json == {"error": "replayed v2 signature nonce"}
    execution = await admin.get_execution(execution_id)
    assert execution["log_bytes"] == len("once\n")
    assert execution["completion_status"] == "success"


async def test_a_replayed_poll_is_403_and_neither_beats_nor_claims(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A poll whose v2 header was seen before is refused with work queued: the execution stays
    queued for the next poll and the runner's last contact is not moved (the heartbeat and
    the claim are one statement on PostgreSQL, both conditioned on the nonce)."""
    path = f"/api/v1/runner/{runner.identifier}/execution"
    body = compact({"requested_at": requested_at_now()})
    header = {SIGNATURE_V2_HEADER: sign_v2(runner.key, "POST", path, body)}
    first = await runner.send("POST", path, body, headers=header)
    assert first.status == 204
    runners = {r["id"]: r["last_contact_at"] for r in await admin.runners()}
    execution_id = await admin.execute(flo["id"])
    replay = await runner.send("POST", path, body, headers=header)
    assert replay.status == 403 and replay.json == {"error": "replayed v2 signature nonce"}
    assert (await admin.get_execution(execution_id))["execution_status"] == "created"
    assert {r["id"]: r["last_contact_at"] for r in await admin.runners()} == runners
    claim = await runner.poll()
    assert claim.status == 200 and claim.json["execution"]["id"] == execution_id


async def test_stale_timestamp_and_malformed_header_are_403(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A v2 timestamp more than 300 s off, or a header with a missing part, is refused."""
    execution_id = await claim_new(runner, admin, flo["id"])
    path = f"/api/v1/execution/{execution_id}/status"
    stale = sign_v2(runner.key, "GET", path, b"", timestamp_s=int(time.time()) - 301)
    answer = await runner.get(execution_id, "/status", headers={SIGNATURE_V2_HEADER: stale})
    assert answer.status == 403 and "window" in answer.json["error"]
    broken = ",".join(sign_v2(runner.key, "GET", path, b"").split(",")[:2])
    answer = await runner.get(execution_id, "/status", headers={SIGNATURE_V2_HEADER: broken})
    assert answer.status == 403 and "malformed" in answer.json["error"]


async def test_future_timestamp_outside_the_window_is_403(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """The window is two-sided: a v2 timestamp 330 s ahead is refused, 240 s ahead accepted."""
    execution_id = await claim_new(runner, admin, flo["id"])
    path = f"/api/v1/execution/{execution_id}/status"
    # 30 s beyond the 300 s window: a slow request on a loaded machine cannot bring it inside.
    ahead = sign_v2(runner.key, "GET", path, b"", timestamp_s=int(time.time()) + 330)
    answer = await runner.get(execution_id, "/status", headers={SIGNATURE_V2_HEADER: ahead})
    assert answer.status == 403 and "window" in answer.json["error"]
    inside = sign_v2(runner.key, "GET", path, b"", timestamp_s=int(time.time()) + 240)
    answer = await runner.get(execution_id, "/status", headers={SIGNATURE_V2_HEADER: inside})
    assert answer.status == 200


async def test_v1_must_also_verify_when_both_are_sent(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """With a valid v2 header, a wrong v1 header still makes the request fail."""
    execution_id = await claim_new(runner, admin, flo["id"])
    answer = await runner.get(
        execution_id,
        "/status",
        v1=False,
        v2=True,
        headers={"X-Flomation-Runner-Signature": "00" * 256},
    )
    assert answer.status == 403


async def test_require_v2_rejects_v1_only(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """With ``require_v2`` on, v1-only requests get 403 and v2 requests work."""
    async with (
        running_server(make_settings(require_v2=True)) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        queue = await admin.create_queue("q")
        runner = SigningRunner(server.url, http, v2=True)
        assert (await runner.register(queue["registration_code"], signed=True)).status == 200
        flo = await admin.create_flo("f", FLOW)
        execution_id = await claim_new(runner, admin, flo["id"])
        answer = await runner.get(execution_id, "/status", v2=False)
        assert answer.status == 403 and answer.json == {"error": "a v2 signature is required"}
        assert (await runner.status(execution_id)).status == 200
        unsigned = SigningRunner(server.url, http)
        assert (await unsigned.register(queue["registration_code"])).status == 403


async def test_claim_answers_advertise_v2_alone_and_v2_alone_is_accepted(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """Claim answers (200 and 204) say v2 alone is accepted; the lifecycle then works without
    v1, and a v2 alone that does not verify is refused."""
    runner.v2 = True
    empty = await runner.poll(timeout_s=5)
    assert empty.status == 204 and empty.accepts_v2_alone
    execution_id = await admin.execute(flo["id"])
    claimed = await runner.send(
        "POST",
        f"/api/v1/runner/{runner.identifier}/execution",
        compact({"requested_at": requested_at_now()}),
        v1=False,
    )
    assert claimed.status == 200 and claimed.accepts_v2_alone
    assert claimed.json["execution"]["id"] == execution_id
    assert (await runner.post(execution_id, "/state", {"state": "running"}, v1=False)).status == 200
    assert (await runner.post(execution_id, "/logs", {"lines": ["a"]}, v1=False)).status == 200
    assert (await runner.get(execution_id, "/status", v1=False)).status == 200
    other_path = sign_v2(runner.key, "POST", f"/api/v1/execution/{execution_id}/logs", b"{}")
    refused = await runner.post(
        execution_id, "", {}, v1=False, v2=False, headers={SIGNATURE_V2_HEADER: other_path}
    )
    assert refused.status == 403 and refused.json == {"error": "invalid v2 signature"}
    result = {"has_errored": False, "state": {}}
    assert (await runner.post(execution_id, "", result, v1=False)).status == 200
