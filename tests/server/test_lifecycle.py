"""An execution's life after the claim: state, logs, status, result.

See docs/protocol.md §4.3-4.6, §8.2.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from flomation.server.admin_answers import FloAnswer, QueueAnswer
from flomation.server.admin_client import AdminApiError, AdminClient
from flomation.server.embedded import EmbeddedServer
from flomation.server.store import LogBatch, NotAssignedError
from flomation.wire.signing import sign_v1

from .runner_client import SigningRunner, claim_new, raw_exchange


async def test_whole_lifecycle(runner: SigningRunner, admin: AdminClient, flo: FloAnswer) -> None:
    """state -> logs -> status -> result moves the execution to executed/success with its result."""
    execution_id = await claim_new(runner, admin, flo["id"])
    assert (await runner.set_running(execution_id)).status == 200
    assert (await admin.get_execution(execution_id))["execution_status"] == "running"
    assert (await runner.logs(execution_id, ["one", "__NODE__:{}", "two"])).status == 200
    status = await runner.status(execution_id)
    assert status.status == 200
    assert status.json == {"execution_status": "running", "completion_status": "pending"}
    state = {"status": 0, "outputs": {"a": 1}, "logs": "one\ntwo"}
    answer = await runner.result(execution_id, state=state)
    assert (answer.status, answer.body) == (200, b"")
    stored = await admin.get_execution(execution_id)
    assert stored["execution_status"] == "executed"
    assert stored["completion_status"] == "success"
    assert stored["result"] == state
    assert stored["started_at"] and stored["completed_at"] and stored["last_contact_at"]
    assert stored["log_bytes"] == len("one\n__NODE__:{}\ntwo\n")
    assert (await runner.status(execution_id)).json["completion_status"] == "success"


async def test_result_flags_choose_the_completion(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """``cancelled`` wins over ``has_errored``, which gives ``fail`` (T6)."""
    first = await claim_new(runner, admin, flo["id"])
    await runner.result(first, has_errored=True, cancelled=True)
    assert (await admin.get_execution(first))["completion_status"] == "cancel"
    second = await claim_new(runner, admin, flo["id"])
    await runner.result(second, has_errored=True)
    assert (await admin.get_execution(second))["completion_status"] == "fail"


async def test_only_running_state_is_accepted(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """``/state`` with any value other than ``running`` is 400 ``invalid state``."""
    execution_id = await claim_new(runner, admin, flo["id"])
    answer = await runner.post(execution_id, "/state", {"state": "executed"})
    assert answer.status == 400 and answer.json == {"error": "invalid state"}
    assert (await admin.get_execution(execution_id))["execution_status"] == "allocated"


async def test_cancel_is_seen_through_status(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """An operator cancel shows up as ``completion_status`` ``cancel`` on the runner's poll."""
    execution_id = await claim_new(runner, admin, flo["id"])
    await runner.set_running(execution_id)
    cancelled = await admin.cancel(execution_id)
    assert cancelled["completion_status"] == "cancel"
    assert (await runner.status(execution_id)).json == {
        "execution_status": "executed",
        "completion_status": "cancel",
    }
    try:
        await admin.cancel(execution_id)
    except AdminApiError as exc:
        assert (exc.status, exc.message) == (409, "execution is not in progress")
    else:
        raise AssertionError("a second cancel must be refused")


async def test_late_result_after_cancel_keeps_cancel_and_logs(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A result after a cancel is stored once, answered 200, and never revives the execution."""
    execution_id = await claim_new(runner, admin, flo["id"])
    await runner.set_running(execution_id)
    await runner.logs(execution_id, ["before cancel"])
    await admin.cancel(execution_id)
    await runner.logs(execution_id, ["late flush"])
    assert (await runner.result(execution_id, state={"n": 1})).status == 200
    assert (await runner.result(execution_id, state={"n": 2})).status == 200
    stored = await admin.get_execution(execution_id)
    assert stored["completion_status"] == "cancel"
    assert stored["execution_status"] == "executed"
    assert stored["result"] == {"n": 1}
    lines = [event.data async for event in admin.stream(execution_id) if event.id]
    assert lines == ["before cancel", "late flush"]


async def test_repeated_result_is_idempotent(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A retried result is answered 200 and the first one stays."""
    execution_id = await claim_new(runner, admin, flo["id"])
    assert (await runner.result(execution_id, state={"try": 1})).status == 200
    assert (await runner.result(execution_id, has_errored=True, state={"try": 2})).status == 200
    stored = await admin.get_execution(execution_id)
    assert (stored["completion_status"], stored["result"]) == ("success", {"try": 1})


async def test_suspend_and_resume_carry_the_checkpoint(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A suspended result stores the checkpoint; resume re-queues it with ``resume_data``."""
    execution_id = await claim_new(runner, admin, flo["id"])
    checkpoint = {"suspend_info": {"suspend_reason": "manual"}}
    await runner.result(execution_id, suspended=True, state={"status": 3, "checkpoint": checkpoint})
    stored = await admin.get_execution(execution_id)
    assert (stored["execution_status"], stored["completion_status"]) == ("suspended", "suspended")
    assert stored["suspend_count"] == 1
    resumed = await admin.resume(execution_id, resume_data={"await": {"outcome": "ok"}})
    assert (resumed["execution_status"], resumed["runner_id"]) == ("created", None)
    answer = await runner.poll()
    assert answer.status == 200
    body = answer.json
    assert body["checkpoint"] == {**checkpoint, "resume_data": {"await": {"outcome": "ok"}}}
    assert body["execution"]["suspend_count"] == 1
    try:
        await admin.resume(execution_id)
    except AdminApiError as exc:
        assert exc.status == 409
    else:
        raise AssertionError("resuming a running execution must be refused")


async def test_suspend_without_checkpoint_fails(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """``suspended: true`` without an object checkpoint is stored as fail with a reason."""
    execution_id = await claim_new(runner, admin, flo["id"])
    await runner.result(execution_id, suspended=True, state={"status": 3})
    stored = await admin.get_execution(execution_id)
    assert stored["completion_status"] == "fail"
    assert stored["completion_reason"] == "suspended without checkpoint"


async def test_unknown_execution_is_404(runner: SigningRunner) -> None:
    """Every runner route answers 404 for an unknown or malformed execution id."""
    for execution_id in ("3f1c2d7e-0000-4000-8000-000000000000", "not-an-id"):
        assert (await runner.status(execution_id)).status == 404
        answer = await runner.set_running(execution_id)
        assert answer.status == 404 and answer.json == {"error": "execution not found"}
        assert (await runner.logs(execution_id, ["x"])).status == 404
        assert (await runner.result(execution_id)).status == 404


async def test_other_runners_execution_is_403(
    server: EmbeddedServer,
    http: aiohttp.ClientSession,
    queue: QueueAnswer,
    runner: SigningRunner,
    admin: AdminClient,
    flo: FloAnswer,
) -> None:
    """A correctly signed request for an execution assigned to another runner is refused."""
    execution_id = await claim_new(runner, admin, flo["id"])
    other = SigningRunner(server.url, http)
    assert (await other.register(queue["registration_code"])).status == 200
    assert (await other.status(execution_id)).status == 403
    assert (await other.result(execution_id)).status == 403
    assert (await admin.get_execution(execution_id))["completion_status"] == "pending"


async def test_missing_or_bad_signature_is_403(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """Execution calls without a signature, or signed over other bytes, are refused with 403."""
    execution_id = await claim_new(runner, admin, flo["id"])
    assert (await runner.get(execution_id, "/status", v1=False)).status == 403
    wrong = await runner.send(
        "POST",
        f"/api/v1/execution/{execution_id}/state",
        b'{"state":"running"}',
        v1_message=b'{"state": "running"}',
    )
    assert wrong.status == 403
    bad_token = await runner.send(
        "GET", f"/api/v1/execution/{execution_id}/status?token={'00' * 256}", v1=False
    )
    assert bad_token.status == 403
    good_token = sign_v1(runner.key, execution_id.encode())
    answer = await runner.send(
        "GET", f"/api/v1/execution/{execution_id}/status?token={good_token}", v1=False
    )
    assert answer.status == 200


async def test_go_style_signature_without_content_type(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """Bodies signed like the Go runner (PSS maximum salt, no Content-Type) are accepted."""
    # SigningRunner signs with PSS.MAX_LENGTH (222 bytes of salt for RSA-2048, what Go's
    # rsa.SignPSS produces with default options) and sends no Content-Type at all.
    execution_id = await claim_new(runner, admin, flo["id"])
    assert (await runner.set_running(execution_id)).status == 200
    assert (await runner.logs(execution_id, ["hello"])).status == 200
    assert (await runner.result(execution_id, state={"ok": True})).status == 200
    assert (await admin.get_execution(execution_id))["completion_status"] == "success"


async def test_salt_length_is_auto_detected(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A signature made with a 32-byte salt (Go in FIPS mode) is accepted too."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    execution_id = await claim_new(runner, admin, flo["id"])
    signature = runner.key.sign(
        execution_id.encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    ).hex()
    answer = await runner.get(
        execution_id, "/status", v1=False, headers={"X-Flomation-Runner-Signature": signature}
    )
    assert answer.status == 200


async def test_oversized_bodies_are_413(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer, server: EmbeddedServer
) -> None:
    """Bodies over the limits of 8.4 are answered 413 and the server keeps serving."""
    execution_id = await claim_new(runner, admin, flo["id"])
    big_logs = {"lines": ["x" * (5 * 1024 * 1024)]}
    answer = await runner.logs(execution_id, big_logs["lines"])
    assert answer.status == 413 and answer.json == {"error": "request body too large"}
    state = await runner.post(execution_id, "/state", b"{" + b" " * 70_000 + b"}")
    assert state.status == 413
    assert (await runner.status(execution_id)).status == 200


async def test_chunked_oversized_body_is_413(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer, server: EmbeddedServer
) -> None:
    """A body streamed without Content-Length is cut off with 413 once it passes the limit."""
    execution_id = await claim_new(runner, admin, flo["id"])

    async def endless() -> AsyncIterator[bytes]:
        yield b'{"lines": ["'
        for _ in range(6 * 1024):
            yield b"x" * 1024

    url = f"{server.url}/api/v1/execution/{execution_id}/logs"
    headers = {"X-Flomation-Runner-Signature": "00"}
    async with runner.session.post(url, data=endless(), headers=headers) as response:
        assert response.status == 413
        assert await response.json() == {"error": "request body too large"}
    assert (await runner.status(execution_id)).status == 200


async def test_bodies_for_unknown_or_unassigned_executions_are_refused_unread(
    server: EmbeddedServer, runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A 4 MiB logs or 32 MiB result for an execution without a runner is answered unread."""
    waiting = await admin.execute(flo["id"])  # created, not claimed by anybody
    for execution_id, status in (("no-such-execution", 404), (waiting, 403)):
        for suffix, size in (("/logs", 4 * 1024 * 1024), ("", 32 * 1024 * 1024)):
            head = (
                f"POST /api/v1/execution/{execution_id}{suffix} HTTP/1.1\r\nHost: t\r\n"
                f"Content-Length: {size}\r\nX-Flomation-Runner-Signature: 00\r\n\r\n"
            )
            # Only the start of the body is sent: an answer proves the rest was not awaited.
            answer, _ = await raw_exchange(server.url, head.encode() + b'{"lines":["' + b"x" * 1024)
            assert answer == status, (execution_id, suffix)


async def test_the_store_refuses_writes_from_a_runner_the_execution_is_not_assigned_to(
    runner: SigningRunner,
    admin: AdminClient,
    flo: FloAnswer,
    server: EmbeddedServer,
    http: aiohttp.ClientSession,
    queue: QueueAnswer,
) -> None:
    """Logs and results (final or suspended) from an enrolled runner that does not hold the
    execution raise NotAssignedError and change nothing; its contact does not touch it either
    and answers no status, which the runner holding it gets.

    The runner endpoints may verify a call against the runner a replica last saw holding the
    execution (docs/architecture.md, "Assignment hints"), so the store's own guard is what
    keeps such a runner out.
    """
    execution_id = await claim_new(runner, admin, flo["id"])
    other = SigningRunner(server.url, http)
    assert (await other.register(queue["registration_code"])).status == 200
    assert other.runner_id is not None
    store, later_s = server.services.store, time.time() + 60
    before = await admin.get_execution(execution_id)
    lines = ["stray"]
    with pytest.raises(NotAssignedError):
        batch = LogBatch(lines, json.dumps({"lines": lines}))
        await store.append_logs(execution_id, other.runner_id, batch, 1 << 20, later_s)
    for suspended in (False, True):
        with pytest.raises(NotAssignedError):
            await store.store_result(
                execution_id,
                other.runner_id,
                has_errored=False,
                cancelled=False,
                suspended=suspended,
                state={"checkpoint": {}},
                now_s=later_s,
            )
    assert await store.touch_execution(execution_id, other.runner_id, later_s) is None
    assert await admin.get_execution(execution_id) == before
    assert runner.runner_id is not None
    touched = await store.touch_execution(execution_id, runner.runner_id, later_s)
    assert touched == ("allocated", "pending")
    assert await store.read_logs(execution_id, 0, 10) == []


async def test_a_call_signed_by_another_runner_is_403_and_counted_once(
    runner: SigningRunner,
    admin: AdminClient,
    flo: FloAnswer,
    server: EmbeddedServer,
    http: aiohttp.ClientSession,
    queue: QueueAnswer,
) -> None:
    """State, logs, status and result signed by an enrolled runner that does not hold the
    execution are each refused with 403 and counted once in flomation_rejected_signatures,
    though the server first tries the runner it saw claim the execution, then the database."""
    execution_id = await claim_new(runner, admin, flo["id"])
    stranger = SigningRunner(server.url, http)
    assert (await stranger.register(queue["registration_code"])).status == 200
    refused = [
        await stranger.set_running(execution_id),
        await stranger.logs(execution_id, ["stray"]),
        await stranger.status(execution_id),
        await stranger.result(execution_id),
    ]
    assert [answer.status for answer in refused] == [403, 403, 403, 403]
    async with http.get(server.url + "/metrics") as response:
        assert "flomation_rejected_signatures_total 4.0" in await response.text()
    assert (await admin.get_execution(execution_id))["execution_status"] == "allocated"
