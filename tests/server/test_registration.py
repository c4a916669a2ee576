"""Registration (docs/protocol.md §4.1, §8.1 A3/A5/A7)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from flomation.runner.api import RunnerApi, registration_body
from flomation.runner.backoff import Backoff
from flomation.runner.retry import RegistrationRejectedError, register_until_accepted
from flomation.server.admin_answers import QueueAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.embedded import EmbeddedServer, running_server
from flomation.wire.jsontext import JsonObject
from flomation.wire.signing import generate_private_key, public_key_pem

from .conftest import SettingsFactory
from .runner_client import SigningRunner, compact, new_identifier, raw_exchange


async def test_new_identifier_gets_runner_json(
    server: EmbeddedServer, http: aiohttp.ClientSession, queue: QueueAnswer
) -> None:
    """A new identifier with a valid code and RSA key is enrolled: 200 with the Runner JSON."""
    runner = SigningRunner(server.url, http)
    answer = await runner.register(queue["registration_code"])
    assert answer.status == 200
    body = answer.json
    assert set(body) == {
        "id", "identifier", "name", "registration_code", "enrolled_at", "last_contact_at",
        "ip_address", "state", "active", "version", "executor_version", "manifest",
        "public_key", "verified",
    }  # fmt: skip
    assert body["identifier"] == runner.identifier
    assert body["state"] == "active" and body["active"] is True and body["verified"] is True
    assert body["ip_address"] == "127.0.0.1"
    assert body["manifest"] is None
    assert body["enrolled_at"].endswith("Z")


async def test_known_identifier_gets_201_and_key_is_kept(
    server: EmbeddedServer,
    http: aiohttp.ClientSession,
    queue: QueueAnswer,
    runner: SigningRunner,
    admin: AdminClient,
) -> None:
    """Re-registering a known identifier answers 201, empty, and never changes the stored key."""
    impostor = SigningRunner(server.url, http, identifier=runner.identifier)
    answer = await impostor.register(queue["registration_code"], version="9.9.9")
    assert (answer.status, answer.body) == (201, b"")
    (listed,) = await admin.runners()
    assert listed["public_key"] == runner.registration_body("")["public_key"]
    assert listed["version"] == "9.9.9"
    assert (await impostor.poll()).status == 403
    assert (await runner.poll()).status == 204


async def test_unknown_code_is_404(server: EmbeddedServer, http: aiohttp.ClientSession) -> None:
    """A new identifier with an unknown registration code is refused with 404."""
    answer = await SigningRunner(server.url, http).register("0" * 32)
    assert answer.status == 404
    assert answer.json == {"error": "unknown registration code"}


async def test_non_rsa_short_or_missing_keys_are_400(
    server: EmbeddedServer, http: aiohttp.ClientSession, queue: QueueAnswer
) -> None:
    """EC keys, RSA keys under 2048 bits, garbage and missing keys are rejected with 400."""
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    short_pem = (
        rsa.generate_private_key(65537, 1024)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    code = queue["registration_code"]
    for public_key in (ec_pem, short_pem, "not a key", None, ""):
        answer = await SigningRunner(server.url, http).register(code, public_key=public_key)
        assert answer.status == 400, public_key
        assert "public_key" in answer.json["error"]


async def test_pkcs1_public_key_is_accepted(
    server: EmbeddedServer, http: aiohttp.ClientSession, queue: QueueAnswer
) -> None:
    """A public key sent as ``RSA PUBLIC KEY`` (PKCS#1) PEM is accepted (§3.4)."""
    runner = SigningRunner(server.url, http)
    pkcs1 = (
        runner.key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        .decode()
    )
    answer = await runner.register(queue["registration_code"], public_key=pkcs1)
    assert answer.status == 200
    assert (await runner.poll()).status == 204


async def test_bad_field_types_are_400(
    server: EmbeddedServer, http: aiohttp.ClientSession, queue: QueueAnswer
) -> None:
    """A non-RFC 3339 ``enrolled_at`` or a non-string name is a 400 naming the field."""
    runner = SigningRunner(server.url, http)
    answer = await runner.register(queue["registration_code"], enrolled_at="yesterday")
    assert answer.status == 400 and "enrolled_at" in answer.json["error"]
    answer = await runner.register(queue["registration_code"], name=7)
    assert answer.status == 400 and "name" in answer.json["error"]


async def test_signed_registration_must_verify(
    server: EmbeddedServer, http: aiohttp.ClientSession, queue: QueueAnswer
) -> None:
    """A registration carrying a signature that does not verify with the body's key is 403."""
    runner = SigningRunner(server.url, http)
    body = compact(runner.registration_body(queue["registration_code"]))
    answer = await runner.send(
        "POST",
        "/api/v1/runner",
        body,
        headers={"X-Flomation-Runner-Signature": "ab" * 256},
        v1=False,
    )
    assert answer.status == 403
    assert (await runner.register(queue["registration_code"], signed=True)).status == 200


async def test_default_name_and_no_code_in_listing(
    server: EmbeddedServer, http: aiohttp.ClientSession, queue: QueueAnswer, admin: AdminClient
) -> None:
    """An empty name becomes ``Flo Runner``; admin listings never show codes or manifests."""
    runner = SigningRunner(server.url, http)
    assert (await runner.register(queue["registration_code"], name="")).status == 200
    (listed,) = await admin.runners()
    assert listed["name"] == "Flo Runner"
    assert "registration_code" not in listed and "manifest" not in listed
    assert listed["queue_ids"] == [queue["id"]]


async def test_forwarded_for_only_from_trusted_proxies(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """``X-Forwarded-For`` is ignored unless the peer is a configured trusted proxy."""
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    for trusted, expected in (((), "127.0.0.1"), (("127.0.0.0/8",), "203.0.113.7")):
        async with (
            running_server(make_settings(trusted_proxies=trusted)) as server,
            AdminClient(server.url, server.admin_token) as admin,
        ):
            queue = await admin.create_queue(f"q{len(trusted)}")
            runner = SigningRunner(server.url, http)
            body = compact(runner.registration_body(queue["registration_code"]))
            answer = await runner.send("POST", "/api/v1/runner", body, v1=False, headers=forwarded)
            assert answer.status == 200
            assert answer.json["ip_address"] == expected


async def test_concurrent_enrolment_of_one_identifier(
    server: EmbeddedServer, http: aiohttp.ClientSession, queue: QueueAnswer, admin: AdminClient
) -> None:
    """Simultaneous registrations of one new identifier enrol it once; the others get 201."""
    first = SigningRunner(server.url, http)
    copies = [first] + [
        SigningRunner(server.url, http, key=first.key, identifier=first.identifier)
        for _ in range(4)
    ]
    answers = await asyncio.gather(*(copy.register(queue["registration_code"]) for copy in copies))
    assert sorted(answer.status for answer in answers) == [200, 201, 201, 201, 201]
    assert len(await admin.runners()) == 1


def _start_of_registration(code: str, identifier: str, size_bytes: int) -> bytes:
    """The first ``size_bytes`` of a registration whose manifest makes it 60 MiB."""
    start = f'{{"identifier":"{identifier}","registration_code":"{code}","manifest":"'
    return (start.encode() + b"x" * size_bytes)[:size_bytes]


async def test_unauthenticated_registration_over_16_kib_is_413_before_the_rest_is_read(
    server: EmbeddedServer, http: aiohttp.ClientSession, queue: QueueAnswer
) -> None:
    """60 MiB announced (or streamed) with an unknown code: 413 after 16 KiB, nothing more read."""
    sent = _start_of_registration("not-a-code", "floodfloodfloodx", 17 * 1024)
    head = "POST /api/v1/runner HTTP/1.1\r\nHost: t\r\n"
    sized = f"{head}Content-Length: {60 * 1024 * 1024}\r\n\r\n".encode() + sent
    chunked = f"{head}Transfer-Encoding: chunked\r\n\r\n".encode()
    chunked += b"".join(
        b"%x\r\n%b\r\n" % (1024, sent[i : i + 1024]) for i in range(0, len(sent), 1024)
    )
    for request in (sized, chunked):
        # The body is never finished: an answer proves the server did not wait for the rest.
        status, body = await raw_exchange(server.url, request)
        assert status == 413
        assert "must carry a known registration_code" in json.loads(body)["error"]
    async with http.get(server.url + "/healthz") as response:
        assert response.status == 200
    # A known code in the same place lets the server read on (here: until the client stops).
    known = _start_of_registration(queue["registration_code"], "floodfloodfloodx", 17 * 1024)
    with pytest.raises(TimeoutError):
        await raw_exchange(server.url, sized.replace(sent, known), timeout_s=1)


async def test_registration_over_64_mib_is_413_whatever_it_carries(
    server: EmbeddedServer, queue: QueueAnswer
) -> None:
    """A declared length over the registration limit is refused from the headers alone."""
    head = f"POST /api/v1/runner HTTP/1.1\r\nHost: t\r\nContent-Length: {64 * 1024 * 1024 + 1}"
    status, body = await raw_exchange(server.url, f"{head}\r\n\r\n".encode())
    assert status == 413 and json.loads(body) == {"error": "request body too large"}


async def test_large_manifests_are_read_for_a_known_code_or_a_signed_known_runner(
    server: EmbeddedServer, http: aiohttp.ClientSession, queue: QueueAnswer
) -> None:
    """A 2 MiB manifest enrols with a valid code; a signed known runner may resend it codeless."""
    manifest = {f"action/{index}": {"label": "x" * 200} for index in range(10_000)}
    runner = SigningRunner(server.url, http)
    assert (
        len(compact(runner.registration_body(queue["registration_code"], manifest=manifest)))
        > 2 * 1024 * 1024
    )
    assert (await runner.register(queue["registration_code"], manifest=manifest)).status == 200
    assert (await runner.register("", manifest=manifest, signed=True)).status == 201
    unsigned = await runner.register("", manifest=manifest)
    assert unsigned.status == 413
    stranger = SigningRunner(server.url, http)
    assert (await stranger.register("", manifest=manifest, signed=True)).status == 413


async def test_the_project_runner_stops_on_a_413_registration_naming_the_code(
    server: EmbeddedServer,
) -> None:
    """A wrong code with a manifest over 16 KiB (ours is ~68 KiB) ends registration at once."""
    key = generate_private_key()
    identifier = new_identifier()
    manifest: JsonObject = {f"action/{index}": {"label": "x" * 100} for index in range(200)}
    body = registration_body(
        identifier=identifier,
        name="py",
        registration_code="not-the-code",
        version="1",
        executor_version="1",
        manifest=manifest,
        public_key_pem=public_key_pem(key),
    )
    async with RunnerApi(server.url, identifier, key) as api:
        with pytest.raises(RegistrationRejectedError) as rejected:
            await register_until_accepted(
                lambda: api.register(body), backoff=Backoff(0.05, 0.1), log=structlog.get_logger()
            )
    message = str(rejected.value)
    assert "(413)" in message and "known registration_code" in message
    assert "FLOMATION_REGISTRATION_CODE" in message
