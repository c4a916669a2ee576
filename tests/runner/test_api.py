"""The signed API client against a real HTTP server on loopback (docs/protocol.md §3, §4, §9)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from fixtures.fake_control_plane import (
    RUNNER_IDENTIFIER,
    FakeControlPlane,
    pending_execution,
    runner_registration,
)
from fixtures.http_peer import http_peer
from flomation.runner.api import ApiError, RunnerApi, execution_path
from flomation.wire.jsontext import JsonObject
from flomation.wire.models import LOG_BATCH_KEY_HEADER
from flomation.wire.signing import (
    SIGNATURE_HEADER,
    SIGNATURE_V2_HEADER,
    generate_private_key,
    load_public_key_pem,
    parse_v2_header,
    public_key_pem,
    sign_v2,
    verify_v1,
    verify_v2,
)

KEY = generate_private_key()


class _Observer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float, int | None]] = []

    def observe_request(self, endpoint: str, latency_s: float, status: int | None) -> None:
        self.calls.append((endpoint, latency_s, status))


def _registration() -> JsonObject:
    return runner_registration(KEY, manifest={"a/b": {}})


async def test_registration_is_compact_json_signed_v1_and_v2() -> None:
    """Registration sends compact JSON whose exact bytes carry valid v1 and v2 signatures."""
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        response = await api.register(_registration())
        assert response.status == 200
        (request,) = fake.requests_to("/api/v1/runner")
        assert request.signature_ok
        assert request.body == json.dumps(_registration(), separators=(",", ":")).encode()
        public = load_public_key_pem(public_key_pem(KEY))
        assert verify_v1(public, request.body, request.headers[SIGNATURE_HEADER])
        header = parse_v2_header(request.headers[SIGNATURE_V2_HEADER])
        assert verify_v2(public, header, "POST", "/api/v1/runner", request.body)


async def test_claim_uses_identifier_path_and_timestamp_body() -> None:
    """A claim posts {"requested_at": RFC 3339 UTC} to the identifier's path; 200 carries work."""
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        await api.register(_registration())
        pending = pending_execution()
        fake.enqueue(pending)
        response = await api.claim()
        assert response.status == 200
        assert response.json() == pending
        (request,) = fake.requests_to(f"/api/v1/runner/{RUNNER_IDENTIFIER}/execution")
        body = request.json()
        assert list(body) == ["requested_at"]
        assert body["requested_at"].endswith("Z") and "." in body["requested_at"]
        assert request.signature_ok
        empty = await api.claim()
        assert empty.status == 204


async def test_status_get_signs_the_execution_id() -> None:
    """GET /status is signed over the execution id (v1) and over method+path (v2)."""
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        await api.register(_registration())
        execution_id = fake.enqueue(pending_execution())
        fake.set_completion(execution_id, "cancel")
        result = await api.get_status(execution_id)
        assert result.status == 200
        assert result.body is not None and result.body.completion_status == "cancel"
        (request,) = fake.requests_to("/status", method="GET")
        public = load_public_key_pem(public_key_pem(KEY))
        assert verify_v1(public, execution_id.encode(), request.headers[SIGNATURE_HEADER])
        assert request.signature_ok


async def test_state_logs_and_result_bodies() -> None:
    """State, logs and result bodies are exactly the documented JSON, each signed."""
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        await api.register(_registration())
        execution_id = fake.enqueue(pending_execution())
        assert (await api.set_state(execution_id)).status == 200
        logs = await api.prepare_logs(execution_id, ["a", "é"])
        assert (await api.send_prepared(logs)).status == 200
        result = b'{"has_errored":false,"state":{"logs":"a"}}'
        assert (await api.post_result(execution_id, result)).status == 200
        assert fake.requests_to("/state")[0].body == b'{"state":"running"}'
        assert fake.requests_to("/logs")[0].body == '{"lines":["a","é"]}'.encode()
        assert fake.requests_to(f"/execution/{execution_id}")[0].body == result
        assert all(r.signature_ok for r in fake.state.requests)


async def test_repeated_status_polls_reuse_a_valid_v1_signature_with_fresh_v2() -> None:
    """Two status polls carry the same (valid) v1 signature and different, valid v2 headers."""
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        await api.register(_registration())
        execution_id = fake.enqueue(pending_execution())
        for _ in range(2):
            assert (await api.get_status(execution_id)).status == 200
        first, second = fake.requests_to("/status", method="GET")
        public = load_public_key_pem(public_key_pem(KEY))
        assert first.headers[SIGNATURE_HEADER] == second.headers[SIGNATURE_HEADER]
        assert verify_v1(public, execution_id.encode(), second.headers[SIGNATURE_HEADER])
        assert first.headers[SIGNATURE_V2_HEADER] != second.headers[SIGNATURE_V2_HEADER]
        assert first.signature_ok and second.signature_ok


async def test_a_prepared_request_sent_again_carries_a_fresh_v2_signature() -> None:
    """Sending a prepared request twice (a retry) keeps v1 and signs v2 afresh; both verify."""
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        await api.register(_registration())
        execution_id = fake.enqueue(pending_execution())
        logs = await api.prepare_logs(execution_id, ["one", "two"])
        for _ in range(2):
            assert (await api.send_prepared(logs)).status == 200
        first, second = fake.requests_to("/logs")
        assert first.body == second.body == b'{"lines":["one","two"]}'
        assert first.headers[SIGNATURE_HEADER] == second.headers[SIGNATURE_HEADER]
        assert first.headers[SIGNATURE_V2_HEADER] != second.headers[SIGNATURE_V2_HEADER]
        assert first.signature_ok and second.signature_ok


async def test_without_v2_every_send_carries_a_v1_signature_of_its_own() -> None:
    """With signing_v2 off, repeated polls and a resent request each get a fresh, valid v1."""
    async with (
        FakeControlPlane() as fake,
        RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY, signing_v2=False) as api,
    ):
        await api.register(_registration())
        execution_id = fake.enqueue(pending_execution())
        for _ in range(2):
            assert (await api.get_status(execution_id)).status == 200
        logs = await api.prepare_logs(execution_id, ["one"])
        for _ in range(2):
            assert (await api.send_prepared(logs)).status == 200
        for path, method in (("/status", "GET"), ("/logs", "POST")):
            first, second = fake.requests_to(path, method=method)
            assert first.headers[SIGNATURE_HEADER] != second.headers[SIGNATURE_HEADER]
            assert first.signature_ok and second.signature_ok
            assert SIGNATURE_V2_HEADER not in second.headers


async def test_signatures_are_made_on_one_thread_beside_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every signature of concurrent requests is made on the same thread, not the loop's."""
    threads: list[int] = []

    def recording_sign_v2(key: rsa.RSAPrivateKey, method: str, target: str, body: bytes) -> str:
        threads.append(threading.get_ident())
        return sign_v2(key, method, target, body)

    monkeypatch.setattr("flomation.runner.api.sign_v2", recording_sign_v2)
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        await api.register(_registration())
        ids = [fake.enqueue(pending_execution()) for _ in range(4)]
        answers = await asyncio.gather(*(api.set_state(i, "running") for i in ids))
        assert [answer.status for answer in answers] == [200] * 4
        assert len(threads) == 5
        assert len(set(threads)) == 1 and threads[0] != threading.get_ident()
        assert all(request.signature_ok for request in fake.requests_to("/state"))


async def test_v2_can_be_turned_off() -> None:
    """With signing_v2 off only the v1 header is sent."""
    async with (
        FakeControlPlane() as fake,
        RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY, signing_v2=False) as api,
    ):
        await api.register(_registration())
        (request,) = fake.requests_to("/api/v1/runner")
        assert SIGNATURE_V2_HEADER not in request.headers
        assert request.signature_ok


async def test_base_url_prefix_is_part_of_the_v2_path() -> None:
    """A base URL with a path prefix (and trailing slash) is kept, and v2 signs the full path."""
    with http_peer(lambda _request: (200, {}, b"")) as peer:
        async with RunnerApi(f"http://127.0.0.1:{peer.port}/prefix/", "idid", KEY) as api:
            await api.get_status("exec-1")
    (request,) = peer.requests
    assert request.path == "/prefix/api/v1/execution/exec-1/status"
    header = parse_v2_header(request.headers[SIGNATURE_V2_HEADER])
    public = load_public_key_pem(public_key_pem(KEY))
    assert verify_v2(public, header, "GET", request.path, b"")


async def test_network_error_raises_api_error_and_is_observed() -> None:
    """No answer raises ApiError naming the endpoint; the observer sees status None."""
    observer = _Observer()
    fake = FakeControlPlane()
    await fake.start()
    url = fake.url
    await fake.stop()
    async with RunnerApi(url, "idid", KEY, observer=observer) as api:
        with pytest.raises(ApiError, match="claim"):
            await api.claim()
    assert observer.calls[0][0] == "claim"
    assert observer.calls[0][2] is None


def test_execution_path_encodes_unsafe_ids() -> None:
    """An execution id is always one percent-encoded path segment."""
    assert execution_path("a/../b", "/status") == "/api/v1/execution/a%2F..%2Fb/status"


class _DropsFirstRequest:
    """A raw HTTP server on loopback: the first request's connection is closed unanswered, later
    ones get 200. It records each request's head (the client then re-sends a GET by itself)."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> _DropsFirstRequest:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                if len(self.heads) == 1:
                    break
                body = b'{"execution_status":"running","completion_status":"pending"}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def header(self, n: int, name: str) -> str:
        for line in self.heads[n].decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        raise KeyError(name)


@pytest.mark.parametrize("signing_v2", [True, False])
async def test_the_http_clients_own_retry_of_a_get_is_signed_afresh(signing_v2: bool) -> None:
    """The client re-sends a GET whose connection closed unanswered: signed afresh (issue 21)."""
    async with (
        _DropsFirstRequest() as server,
        RunnerApi(server.url, RUNNER_IDENTIFIER, KEY, signing_v2=signing_v2) as api,
    ):
        result = await api.get_status("exec-1")
    assert result.status == 200 and len(server.heads) == 2
    public = load_public_key_pem(public_key_pem(KEY))
    name = SIGNATURE_V2_HEADER if signing_v2 else SIGNATURE_HEADER
    first, second = server.header(0, name), server.header(1, name)
    assert first != second
    if signing_v2:
        for value in (first, second):
            header = parse_v2_header(value)
            assert verify_v2(public, header, "GET", "/api/v1/execution/exec-1/status", b"")
        assert parse_v2_header(first).nonce != parse_v2_header(second).nonce
    else:
        assert verify_v1(public, b"exec-1", second)


async def test_log_batches_carry_their_key_on_every_send() -> None:
    """A prepared log batch carries its X-Flomation-Log-Batch key on the first send and retries."""
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        await api.register(_registration())
        execution_id = fake.enqueue(pending_execution())
        logs = await api.prepare_logs(execution_id, ["one"], batch_key="b-1")
        for _ in range(2):
            assert (await api.send_prepared(logs)).status == 200
        assert [r.headers[LOG_BATCH_KEY_HEADER] for r in fake.requests_to("/logs")] == ["b-1"] * 2
