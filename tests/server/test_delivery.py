"""Delivery guarantees (docs/protocol.md §11): the claim lease, the refusal of a
late confirmation, log batch keys and the live log completed from the result."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from flomation.server.admin_answers import FloAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.config import load_settings
from flomation.server.embedded import running_server
from flomation.server.store.delivery import tail_fill_marker
from flomation.wire.models import LOG_BATCH_KEY_HEADER

from .conftest import SettingsFactory, claimed_execution
from .runner_client import FLOW, SigningRunner, wait_for_field


async def _live_log(admin: AdminClient, execution_id: str) -> list[str]:
    return [event.data async for event in admin.stream(execution_id) if event.id]


async def _logs(runner: SigningRunner, execution_id: str, lines: list[str], key: str) -> int:
    answer = await runner.post(
        execution_id, "/logs", {"lines": lines}, headers={LOG_BATCH_KEY_HEADER: key}
    )
    return answer.status


async def test_unconfirmed_claim_is_offered_again_and_late_confirmation_refused(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """A claim never confirmed within the lease goes to another runner; the first gets 409."""
    settings = make_settings(claim_lease_s=0.5, reaper_interval_s=0.1, runner_lost_after_s=0.3)
    async with claimed_execution(settings, http) as (server, admin, first, execution_id):
        queue = (await admin.queues())[0]
        second = SigningRunner(server.url, http)
        await second.register(queue["registration_code"])
        # Not failed as "runner lost" (0.3 s) although silent: the lease decides.
        await wait_for_field(admin, execution_id, "execution_status", "created")
        claim = await second.poll()
        assert claim.status == 200 and claim.json["execution"]["id"] == execution_id
        late = await first.set_running(execution_id)
        assert late.status == 409 and b"offered again" in late.body
        assert (await second.set_running(execution_id)).status == 200
        execution = await admin.get_execution(execution_id)
        assert execution["execution_status"] == "running"
        assert execution["runner_id"] == second.runner_id
        assert execution["completion_status"] == "pending"
        # The first runner has no business with it any more.
        assert (await first.logs(execution_id, ["stray"])).status == 403


async def test_late_confirmation_before_anyone_claims_again_is_refused(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """Back in the queue, the execution refuses its first runner's confirmation with 409."""
    settings = make_settings(claim_lease_s=0.3, reaper_interval_s=0.05)
    async with claimed_execution(settings, http) as (_, admin, runner, execution_id):
        await wait_for_field(admin, execution_id, "execution_status", "created")
        assert (await runner.set_running(execution_id)).status == 409
        execution = await admin.get_execution(execution_id)
        assert execution["execution_status"] == "created" and execution["runner_id"] is None
        # Offered again: the same runner may claim it anew and then confirm it.
        claim = await runner.poll()
        assert claim.json["execution"]["id"] == execution_id
        assert (await runner.set_running(execution_id)).status == 200


async def test_confirmed_claim_keeps_its_runner_and_confirmation_is_idempotent(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """A repeated confirmation (its first answer lost) is 200 and the lease no longer applies."""
    # Long enough for the confirmation to come in time on a loaded machine, short enough that
    # the sleep below outlasts it (the reaper looks every 0.05 s).
    settings = make_settings(claim_lease_s=0.5, reaper_interval_s=0.05)
    async with claimed_execution(settings, http) as (_, admin, runner, execution_id):
        assert (await runner.set_running(execution_id)).status == 200
        assert (await runner.set_running(execution_id)).status == 200
        await asyncio.sleep(1.0)
        execution = await admin.get_execution(execution_id)
        assert execution["execution_status"] == "running"
        assert execution["runner_id"] == runner.runner_id


async def test_runner_lost_reason_says_whether_the_execution_was_confirmed(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """A runner that logged but never confirmed and then vanished is reaped with that reason."""
    # The lease only has to outlast the claim -> logs gap (the logs call is contact and ends it;
    # 0.3 s lapsed under load once): the runner-lost timeout is what this test waits for.
    settings = make_settings(claim_lease_s=5.0, reaper_interval_s=0.05, runner_lost_after_s=0.5)
    async with claimed_execution(settings, http) as (_, admin, runner, execution_id):
        # Like the Go runner when its state call failed: it runs the execution anyway.
        assert (await runner.logs(execution_id, ["working"])).status == 200
        await wait_for_field(admin, execution_id, "completion_status", "fail")
        execution = await admin.get_execution(execution_id)
        assert execution["completion_reason"] == (
            "runner lost: no contact for 0 s (it never confirmed the execution running)"
        )


async def test_retried_log_batch_is_stored_once(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A batch sent again with the same key is stored once; other keys and keyless batches add."""
    execution_id = await admin.execute(flo["id"])
    assert (await runner.poll()).status == 200
    assert await _logs(runner, execution_id, ["one", "two"], "batch-1") == 200
    assert await _logs(runner, execution_id, ["one", "two"], "batch-1") == 200
    assert await _logs(runner, execution_id, ["three"], "batch-2") == 200
    # The Go runner's one line per request has no key: each is stored.
    assert (await runner.logs(execution_id, ["four"])).status == 200
    assert (await runner.logs(execution_id, ["four"])).status == 200
    bad = await _logs(runner, execution_id, ["x"], "../no")
    assert bad == 400
    await runner.result(execution_id, state={})
    assert await _live_log(admin, execution_id) == ["one", "two", "three", "four", "four"]


async def test_live_log_tail_is_filled_from_the_result_and_then_sealed(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """Lines the live stream missed at the end are appended after a marker; late batches are not."""
    execution_id = await admin.execute(flo["id"])
    assert (await runner.poll()).status == 200
    assert await _logs(runner, execution_id, ["a", "b"], "k1") == 200
    answer = await runner.result(execution_id, state={"logs": "a\nb\nc\nd"})
    assert answer.status == 200
    assert await _logs(runner, execution_id, ["c", "d"], "k2") == 200
    assert await _live_log(admin, execution_id) == ["a", "b", tail_fill_marker(2), "c", "d"]


async def test_live_log_differing_in_the_middle_is_left_alone(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A live log that is not the start of the result's output is not completed or sealed."""
    execution_id = await admin.execute(flo["id"])
    assert (await runner.poll()).status == 200
    assert (await runner.logs(execution_id, ["a", "X"])).status == 200
    await runner.result(execution_id, state={"logs": "a\nb\nc"})
    assert (await runner.logs(execution_id, ["late"])).status == 200
    assert await _live_log(admin, execution_id) == ["a", "X", "late"]


async def test_complete_live_log_is_sealed_without_a_marker(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """A live log already holding the whole output gets no marker, and nothing after it."""
    execution_id = await admin.execute(flo["id"])
    assert (await runner.poll()).status == 200
    assert await _logs(runner, execution_id, ["a", "b"], "k1") == 200
    await runner.result(execution_id, state={"logs": "a\nb"})
    assert await _logs(runner, execution_id, ["b"], "k9") == 200
    assert await _live_log(admin, execution_id) == ["a", "b"]


def test_claim_lease_setting_flag_environment_and_help() -> None:
    """The lease is 15 s by default, set by FLOMATION_SERVER_CLAIM_LEASE or --claim-lease."""
    assert load_settings({}, {}).claim_lease_s == 15
    assert load_settings({}, {"FLOMATION_SERVER_CLAIM_LEASE": "4.5"}).claim_lease_s == 4.5
    assert load_settings({"claim_lease_s": 2}, {}).claim_lease_s == 2
    script = Path(sys.executable).parent / "flomation-server"
    help_text = subprocess.run(
        [str(script), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--claim-lease" in help_text and "FLOMATION_SERVER_CLAIM_LEASE" in help_text


async def test_lapsed_claim_wakes_a_waiting_poll(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """A runner already long-polling gets the re-offered execution without polling again."""
    settings = make_settings(claim_lease_s=0.3, reaper_interval_s=0.05, poll_hold_s=5.0)
    async with (
        running_server(settings) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        queue = await admin.create_queue("q")
        first, second = SigningRunner(server.url, http), SigningRunner(server.url, http)
        await first.register(queue["registration_code"])
        await second.register(queue["registration_code"])
        flo = await admin.create_flo("f", FLOW)
        execution_id = await admin.execute(flo["id"])
        assert (await first.poll()).json["execution"]["id"] == execution_id
        started = time.monotonic()
        claim = await second.poll()
        assert claim.status == 200 and claim.json["execution"]["id"] == execution_id
        assert time.monotonic() - started < 4.0


async def test_confirmation_after_a_cancel_is_refused(
    runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """An execution cancelled before its runner confirmed it answers the confirmation 409."""
    execution_id = await admin.execute(flo["id"])
    assert (await runner.poll()).status == 200
    await admin.cancel(execution_id)
    answer = await runner.set_running(execution_id)
    assert answer.status == 409 and b"no longer pending" in answer.body
    assert (await admin.get_execution(execution_id))["completion_status"] == "cancel"
