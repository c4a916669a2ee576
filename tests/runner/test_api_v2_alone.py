"""v2 alone once the server says it accepts it, v1 beside it otherwise (docs/protocol.md §9.4)."""

from __future__ import annotations

import pytest

from fixtures.fake_control_plane import (
    RUNNER_IDENTIFIER,
    FakeControlPlane,
    pending_execution,
    runner_registration,
)
from flomation.runner.api import RunnerApi, signs_v1, v2_accepted_after
from flomation.wire.signing import (
    SIGNATURE_HEADER,
    SIGNATURE_V2_HEADER,
    generate_private_key,
)

KEY = generate_private_key()


async def _registered(api: RunnerApi) -> None:
    body = runner_registration(KEY)
    assert (await api.register(body)).status == 200


async def _lifecycle(api: RunnerApi, execution_id: str) -> None:
    assert (await api.set_state(execution_id)).status == 200
    assert (await api.send_prepared(await api.prepare_logs(execution_id, ["a"]))).status == 200
    assert (await api.get_status(execution_id)).status == 200
    assert (await api.post_result(execution_id, b'{"state":{"logs":"a"}}')).status == 200


@pytest.mark.parametrize(
    ("signing_v2", "v2_accepted", "expected"),
    [(True, False, True), (True, True, False), (False, False, True), (False, True, True)],
)
def test_v1_is_left_out_only_beside_v2_a_server_accepts_alone(
    signing_v2: bool, v2_accepted: bool, expected: bool
) -> None:
    """v1 is signed unless v2 is on and the server said it accepts v2 alone."""
    assert signs_v1(signing_v2=signing_v2, v2_accepted=v2_accepted) is expected


async def test_after_an_advertising_claim_answer_requests_carry_v2_alone() -> None:
    """Once a claim answer advertises v2 alone, state, logs, status and result carry no v1."""
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        fake.accepts_v2_alone = True
        await _registered(api)
        execution_id = fake.enqueue(pending_execution())
        assert (await api.claim()).status == 200
        await _lifecycle(api, execution_id)
        (claim,) = fake.requests_to(f"/runner/{RUNNER_IDENTIFIER}/execution")
        assert SIGNATURE_HEADER in claim.headers  # sent before any answer said otherwise
        later = [r for r in fake.state.requests if r.path.startswith("/api/v1/execution/")]
        prefix = f"/api/v1/execution/{execution_id}"
        assert [r.path.removeprefix(prefix) for r in later] == ["/state", "/logs", "/status", ""]
        assert all(SIGNATURE_HEADER not in r.headers for r in later)
        assert all(SIGNATURE_V2_HEADER in r.headers and r.signature_ok for r in later)


async def test_a_server_that_does_not_advertise_gets_v1_beside_v2() -> None:
    """Against a server whose claim answers say nothing (upstream), every request keeps v1."""
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        await _registered(api)
        execution_id = fake.enqueue(pending_execution())
        assert (await api.claim()).status == 200
        await _lifecycle(api, execution_id)
        later = [r for r in fake.state.requests if r.path.startswith("/api/v1/execution/")]
        assert len(later) == 4
        assert all(SIGNATURE_HEADER in r.headers and r.signature_ok for r in later)


@pytest.mark.parametrize(
    ("accepted", "endpoint", "status", "advertised", "sent_v1", "expected"),
    [
        (False, "claim", 200, True, True, True),
        (False, "claim", 204, True, True, True),
        (True, "claim", 204, False, False, False),
        (False, "claim", 503, True, True, False),  # a proxy's answer says nothing
        (True, "claim", 503, False, False, True),
        (True, "state", 200, False, False, True),  # only claim answers advertise
        (True, "result", 403, False, False, False),
        (True, "logs", 401, False, False, False),
        (True, "logs", 403, False, True, True),  # refused with v1: not about v1
    ],
)
def test_what_an_answer_says_about_v2_alone(
    accepted: bool, endpoint: str, status: int, advertised: bool, sent_v1: bool, expected: bool
) -> None:
    """Claim answers 200/204 set it; a refusal of a request without v1 clears it."""
    after = v2_accepted_after(
        accepted, endpoint=endpoint, status=status, advertised=advertised, sent_v1=sent_v1
    )
    assert after is expected


async def test_a_server_replaced_by_one_checking_only_v1_gets_v1_on_the_retry() -> None:
    """After advertising, a 403 to a request without v1 brings v1 back on the next request."""
    async with (
        FakeControlPlane(hold_s=0.05) as fake,
        RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api,
    ):
        fake.accepts_v2_alone = True
        await _registered(api)
        assert (await api.claim()).status == 204
        fake.accepts_v2_alone = False
        assert (await api.claim()).status == 403
        execution_id = fake.enqueue(pending_execution())
        assert (await api.claim()).status == 200
        assert (await api.set_state(execution_id)).status == 200
        refused, claim = fake.requests_to(f"/runner/{RUNNER_IDENTIFIER}/execution")[1:]
        assert SIGNATURE_HEADER not in refused.headers
        assert SIGNATURE_HEADER in claim.headers and claim.signature_ok
        (state,) = fake.requests_to("/state")
        assert SIGNATURE_HEADER in state.headers and state.signature_ok
