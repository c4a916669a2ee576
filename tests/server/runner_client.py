"""A signing runner client for the server tests, built on flomation.wire.signing and aiohttp.

It sends exact bytes (what it signs is what goes on the wire) and, like the Go runner, no
Content-Type header.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
from cryptography.hazmat.primitives.asymmetric import rsa

from flomation.server.admin_client import AdminClient
from flomation.wire.jsontext import JsonObject
from flomation.wire.signing import (
    SIGNATURE_HEADER,
    SIGNATURE_V2_HEADER,
    V2_ACCEPTED_HEADER,
    generate_private_key,
    public_key_pem,
    sign_v1,
    sign_v2,
)

__all__ = [
    "FLOW",
    "Answer",
    "SigningRunner",
    "claim_new",
    "compact",
    "held_poll_woken_across",
    "new_identifier",
    "raw_exchange",
    "requested_at_now",
]

FLOW: JsonObject = {
    "nodes": [{"id": "t1", "type": "trigger/manual", "data": {"id": "t1", "label": "t"}}],
    "edges": [],
}

_LETTERS = string.ascii_letters


def new_identifier() -> str:
    """A 16-letter runner identifier like the Go runner's flo.state."""
    return "".join(secrets.choice(_LETTERS) for _ in range(16))


async def raw_exchange(url: str, request: bytes, timeout_s: float = 10) -> tuple[int, bytes]:
    """Send ``request`` (possibly an unfinished body) and read one answer within ``timeout_s``."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(timeout_s):
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next(
                int(line.split(":", 1)[1])
                for line in lines
                if line.lower().startswith("content-length:")
            )
            return int(lines[0].split()[1]), await reader.readexactly(length)
    finally:
        writer.close()


def requested_at_now() -> str:
    """The current time as the Go runner writes a claim's ``requested_at`` (RFC 3339, UTC)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def compact(payload: Any) -> bytes:
    """Compact JSON bytes, as runners send them."""
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Answer:
    """Status and body of one answer; ``json`` is None for an empty body."""

    status: int
    body: bytes
    content_type: str | None
    accepts_v2_alone: bool = False  # the claim answer's advertisement (protocol.md §9.4)

    @property
    def json(self) -> Any:
        """The parsed body, or None when empty."""
        return json.loads(self.body) if self.body else None


class SigningRunner:
    """One simulated runner: identity, key and signed calls."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        key: rsa.RSAPrivateKey | None = None,
        identifier: str | None = None,
        v2: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.key = key or generate_private_key()
        self.identifier = identifier or new_identifier()
        self.v2 = v2
        self.runner_id: str | None = None

    async def send(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        v1_message: bytes | None = None,
        v1: bool = True,
        v2: bool | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float = 30.0,
    ) -> Answer:
        """A request to ``path`` (which may carry a query) signed as configured."""
        all_headers = dict(headers or {})
        if v1:
            all_headers[SIGNATURE_HEADER] = sign_v1(
                self.key, body if v1_message is None else v1_message
            )
        if self.v2 if v2 is None else v2:
            all_headers[SIGNATURE_V2_HEADER] = sign_v2(self.key, method, path, body)
        async with self.session.request(
            method,
            self.base_url + path,
            data=body if method != "GET" else None,
            headers=all_headers,
            skip_auto_headers=["Content-Type"],
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            return Answer(
                response.status,
                await response.read(),
                response.content_type,
                response.headers.get(V2_ACCEPTED_HEADER) == "1",
            )

    def registration_body(self, code: str, **overrides: Any) -> dict[str, Any]:
        """The Go runner's registration body, with any field replaced."""
        body: dict[str, Any] = {
            "id": "",
            "identifier": self.identifier,
            "name": "Test Runner",
            "registration_code": code,
            "version": "1.0.0",
            "executor_version": "1.0.1",
            "manifest": {"string/upper_case": {}},
            "public_key": public_key_pem(self.key),
            "enrolled_at": "0001-01-01T00:00:00Z",
            "last_contact_at": None,
            "ip_address": None,
        }
        body.update(overrides)
        return body

    async def register(self, code: str, *, signed: bool = False, **overrides: Any) -> Answer:
        """``POST /api/v1/runner`` (unsigned like the Go runner unless ``signed``)."""
        answer = await self.send(
            "POST",
            "/api/v1/runner",
            compact(self.registration_body(code, **overrides)),
            v1=signed,
            v2=signed and self.v2,
        )
        if answer.status == 200:
            self.runner_id = answer.json["id"]
        return answer

    async def poll(self, timeout_s: float = 30.0) -> Answer:
        """One long-poll for work."""
        body = compact({"requested_at": requested_at_now(), "n": secrets.token_hex(4)})
        return await self.send(
            "POST", f"/api/v1/runner/{self.identifier}/execution", body, timeout_s=timeout_s
        )

    async def post(self, execution_id: str, suffix: str, payload: Any, **options: Any) -> Answer:
        """A signed POST to ``/api/v1/execution/{id}{suffix}`` with a JSON body."""
        body = payload if isinstance(payload, bytes) else compact(payload)
        return await self.send("POST", f"/api/v1/execution/{execution_id}{suffix}", body, **options)

    async def get(self, execution_id: str, suffix: str, **options: Any) -> Answer:
        """A signed GET of ``/api/v1/execution/{id}{suffix}`` (signature over the id)."""
        return await self.send(
            "GET",
            f"/api/v1/execution/{execution_id}{suffix}",
            v1_message=execution_id.encode(),
            **options,
        )

    async def status(self, execution_id: str) -> Answer:
        """The cancellation poll."""
        return await self.get(execution_id, "/status")

    async def set_running(self, execution_id: str) -> Answer:
        """``{"state": "running"}``."""
        return await self.post(execution_id, "/state", {"state": "running"})

    async def logs(self, execution_id: str, lines: list[str]) -> Answer:
        """A batch of log lines."""
        return await self.post(execution_id, "/logs", {"lines": lines})

    async def result(self, execution_id: str, **payload: Any) -> Answer:
        """The final result (``has_errored`` defaults to False, ``state`` to ``{}``)."""
        body = {"has_errored": False, "state": {}, **payload}
        return await self.post(execution_id, "", body)


async def claim_new(
    runner: SigningRunner, admin: AdminClient, flo_id: str, data: JsonObject | None = None
) -> str:
    """Execute the flow (trigger ``data``) and have ``runner`` claim it; returns the execution
    id."""
    execution_id = await admin.execute(flo_id, data)
    answer = await runner.poll()
    assert answer.status == 200, answer.body
    assert answer.json["execution"]["id"] == execution_id
    return execution_id


async def wait_for_field(
    admin: AdminClient,
    execution_id: str,
    field: Literal["execution_status", "completion_status"],
    value: str,
) -> None:
    """Wait up to 10 s for the execution's ``field`` to read ``value`` through ``admin``."""
    deadline = time.monotonic() + 10
    while (await admin.get_execution(execution_id))[field] != value:
        assert time.monotonic() < deadline, f"{field} never became {value!r}"
        await asyncio.sleep(0.05)


async def held_poll_woken_across(
    runner_url: str, admin: AdminClient, http: aiohttp.ClientSession
) -> tuple[SigningRunner, str]:
    """Register a runner on the instance at ``runner_url``, hold its poll there, then create an
    execution through ``admin`` (another instance) and check the held poll answers it at once;
    returns the runner and the execution id.

    What wakes the poll (NOTIFY, or the shared polling pass) is up to the instances' settings.
    """
    queue = await admin.create_queue("q")
    flo = await admin.create_flo("f", FLOW)
    runner = SigningRunner(runner_url, http)
    assert (await runner.register(queue["registration_code"])).status == 200
    poll = asyncio.create_task(runner.poll())
    await asyncio.sleep(0.5)
    started = time.monotonic()
    execution_id = await admin.execute(flo["id"])
    answer = await poll
    assert answer.status == 200 and answer.json["execution"]["id"] == execution_id
    # Callers hold polls for 20 s: a generous bound well under that tells a wake-up from the hold
    # running out, not a speed target.
    assert time.monotonic() - started < 5
    return runner, execution_id
