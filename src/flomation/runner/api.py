"""The signed HTTP client of the runner protocol (docs/protocol.md §3, §4, §9).

One pool of kept-alive connections (``runner/http_client.py``); one method per endpoint; no
retries here (see ``retry`` and the outbox). Every body is serialised once to compact JSON, and
exactly those bytes are signed and sent. GETs sign the execution id (v1). When enabled, the v2
header binds each request to its method, path, body and moment.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric import rsa

from flomation.runner.http_client import (
    HttpClient,
    HttpError,
    environment_proxy,
    parse_origin,
)
from flomation.wire.jsontext import JsonObject, JsonValue, compact_json
from flomation.wire.signing import (
    SIGNATURE_HEADER,
    SIGNATURE_V2_HEADER,
    V2_ACCEPTED_HEADER,
    sign_v1,
    sign_v2,
)

if TYPE_CHECKING:
    from flomation.wire.models import StatusResponse

__all__ = [
    "DEFAULT_MAX_CLAIM_BYTES",
    "ApiError",
    "ApiResponse",
    "ApiTimeouts",
    "PreparedRequest",
    "RequestObserver",
    "RunnerApi",
    "StatusResult",
    "client_ssl_context",
    "execution_path",
    "executor_version",
    "registration_body",
    "signs_v1",
    "v2_accepted_after",
]


_T = TypeVar("_T")
# Answers are read up to a cap, counted after decompression (a small gzip body can inflate to
# gigabytes): the claim's is an option (max_claim_bytes), every other answer is small.
DEFAULT_MAX_CLAIM_BYTES = 64 * 1024 * 1024
_MAX_OTHER_ANSWER_BYTES = 1024 * 1024
# Reused v1 signatures: messages up to this size (ids, small fixed bodies), this many at most.
_V1_CACHE_MAX_MESSAGE_BYTES = 128
_V1_CACHE_ENTRIES = 1024


class RequestObserver(Protocol):
    """Receives one call per request: endpoint name, latency and HTTP status (None: no answer)."""

    def observe_request(self, endpoint: str, latency_s: float, status: int | None) -> None: ...


@dataclass(frozen=True)
class ApiTimeouts:
    """Whole-request timeouts per endpoint (docs/protocol.md §4 table, project defaults)."""

    register_s: float = 30.0
    claim_s: float = 35.0
    state_s: float = 30.0
    result_s: float = 30.0
    logs_s: float = 10.0
    status_s: float = 5.0
    connect_s: float = 10.0


@dataclass(frozen=True)
class ApiResponse:
    """An HTTP answer: status code and raw body.

    ``too_large`` is set when the answer was longer than its cap (after decompression); the
    body then holds only its first 64 KiB, and the rest was never read.
    """

    status: int
    body: bytes
    too_large: bool = False

    def json(self) -> JsonValue:
        """The body parsed as JSON, or None when empty or not JSON."""
        if not self.body.strip():
            return None
        try:
            parsed: JsonValue = json.loads(self.body)
        except ValueError:
            return None
        return parsed


@dataclass(slots=True)
class PreparedRequest:
    """A signed request ready to go (:meth:`RunnerApi.prepare`); ``sent`` once it went out.

    ``target`` is the path and query sent, the base URL's path included (what v2 signs).
    """

    method: str
    target: str
    body: bytes
    headers: dict[str, str]
    endpoint: str
    timeout_s: float
    v1_message: bytes
    max_answer_bytes: int = _MAX_OTHER_ANSWER_BYTES
    sent: bool = False


@dataclass(frozen=True)
class StatusResult:
    """``GET /status``: the HTTP status and the parsed body when it was a valid 200."""

    status: int
    body: StatusResponse | None


class ApiError(Exception):
    """No HTTP answer: connection refused or reset, DNS failure, timeout."""

    def __init__(self, endpoint: str, cause: BaseException) -> None:
        detail = str(cause) or type(cause).__name__
        super().__init__(f"{endpoint}: {detail}")
        self.endpoint = endpoint
        self.cause = cause


def signs_v1(*, signing_v2: bool, v2_accepted: bool) -> bool:
    """Whether a request carries a v1 signature.

    Always without v2; beside v2 only until the server's last claim answer said that it
    accepts v2 alone (docs/protocol.md §9.4): each RSA signature costs ~0.4 ms of CPU.
    """
    return not (signing_v2 and v2_accepted)


def v2_accepted_after(
    accepted: bool, *, endpoint: str, status: int, advertised: bool, sent_v1: bool
) -> bool:
    """Whether the server accepts v2 alone, as the runner believes after one answer.

    A claim answered 200 or 204 says it (the advertisement header, docs/protocol.md §9.4, or
    its absence); a refusal (401, 403) of a request sent without v1 brings v1 back, so that a
    server replaced by one that checks only v1 gets it on the retry.
    """
    if endpoint == "claim" and status in (200, 204):
        return advertised
    if status in (401, 403) and not sent_v1:
        return False
    return accepted


def execution_path(execution_id: str, suffix: str = "") -> str:
    """``/api/v1/execution/<id><suffix>`` with the id percent-encoded as one path segment."""
    return f"/api/v1/execution/{quote(execution_id, safe='')}{suffix}"


def executor_version(version_output: str) -> str:
    """``executor_version`` from the executor's ``--version`` output: the last word of its text.

    The upstream executor prints the bare version (``1.0.456``), ours ``flomation-executor 1.0.0``
    and a newline; both register as the version alone (docs/protocol.md §4).
    """
    words = version_output.split()
    return words[-1] if words else ""


def registration_body(
    *,
    identifier: str,
    name: str,
    registration_code: str | None,
    version: str,
    executor_version: str,
    manifest: JsonValue,
    public_key_pem: str,
) -> JsonObject:
    """The registration request of docs/protocol.md §4.1."""
    return {
        "identifier": identifier,
        "name": name,
        "registration_code": registration_code or "",
        "version": version,
        "executor_version": executor_version,
        "manifest": manifest,
        "public_key": public_key_pem,
    }


def client_ssl_context(ca_cert: str | None, cert: str | None, key: str | None) -> ssl.SSLContext:
    """System trust plus an optional extra CA, presenting a client certificate when given."""
    context = ssl.create_default_context()
    if ca_cert:
        context.load_verify_locations(cafile=ca_cert)
    if cert and key:
        context.load_cert_chain(certfile=cert, keyfile=key)
    return context


class RunnerApi:
    """Signed calls to the control plane, sharing one connection pool.

    Use as an async context manager, or call ``close()``.
    """

    def __init__(
        self,
        base_url: str,
        identifier: str,
        key: rsa.RSAPrivateKey,
        *,
        signing_v2: bool = True,
        timeouts: ApiTimeouts | None = None,
        ssl_context: ssl.SSLContext | None = None,
        observer: RequestObserver | None = None,
        user_agent: str = "flomation-runner-python",
        max_claim_bytes: int = DEFAULT_MAX_CLAIM_BYTES,
    ) -> None:
        origin = parse_origin(base_url)
        self._identifier = identifier
        self._key = key
        self._signing_v2 = signing_v2
        # Until a claim answer says the server accepts v2 alone (docs/protocol.md §9.4), every
        # request carries v1 as well: upstream servers check only v1.
        self._v2_accepted = False
        self._max_claim_bytes = max_claim_bytes
        self._v1_cache: dict[bytes, str] = {}
        # One thread of its own signs every request: RSA releases the GIL, so signatures run
        # beside the event loop on the other core, while a single thread keeps the hand-offs
        # (thread wake-ups, GIL changes) and the resident memory of a pool of them away.
        self._signer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flomation-signer")
        self._timeouts = timeouts or ApiTimeouts()
        self._observer = observer
        self._path_prefix = origin.path_prefix
        # The proxy settings of the environment (HTTP(S)_PROXY, NO_PROXY, netrc credentials),
        # looked up once, not for every request (docs/benchmarks.md, runner: ~10 % of the
        # runner's CPU per execution when aiohttp's trust_env did it per request).
        self._http = HttpClient(
            origin,
            headers={"User-Agent": user_agent},
            connect_timeout_s=self._timeouts.connect_s,
            ssl_context=ssl_context,
            proxy=environment_proxy(base_url),
        )

    async def __aenter__(self) -> RunnerApi:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool and stop the signing thread."""
        await self._http.close()
        self._signer.shutdown(wait=False, cancel_futures=True)

    @property
    def timeouts(self) -> ApiTimeouts:
        """The per-endpoint timeouts in use."""
        return self._timeouts

    async def register(self, body: Mapping[str, JsonValue]) -> ApiResponse:
        """``POST /api/v1/runner`` (signed by the body rule, which upstream ignores)."""
        return await self.send(
            "POST",
            "/api/v1/runner",
            compact_json(dict(body)),
            endpoint="register",
            timeout_s=self._timeouts.register_s,
        )

    async def claim(self) -> ApiResponse:
        """``POST /api/v1/runner/{identifier}/execution``: one long-poll."""
        requested_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return await self.send(
            "POST",
            f"/api/v1/runner/{quote(self._identifier, safe='')}/execution",
            compact_json({"requested_at": requested_at}),
            endpoint="claim",
            timeout_s=self._timeouts.claim_s,
            max_answer_bytes=self._max_claim_bytes,
        )

    async def set_state(self, execution_id: str, state: str = "running") -> ApiResponse:
        """``POST /api/v1/execution/{id}/state``."""
        return await self.send(
            "POST",
            execution_path(execution_id, "/state"),
            compact_json({"state": state}),
            endpoint="state",
            timeout_s=self._timeouts.state_s,
        )

    async def prepare_logs(
        self, execution_id: str, lines: Sequence[str], batch_key: str | None = None
    ) -> PreparedRequest:
        """``POST /api/v1/execution/{id}/logs`` with one batch of lines, signed, not yet sent.

        ``batch_key`` goes in the ``X-Flomation-Log-Batch`` header: a server that knows it
        stores a batch sent again once (docs/protocol.md §11.3); others ignore it.
        """
        # The wire models bring pydantic (~10 MiB): imported with the first execution, not at
        # start (docs/benchmarks.md, runner start-up).
        from flomation.wire.models import LOG_BATCH_KEY_HEADER, encode_logs_body

        request = await self.prepare(
            "POST",
            execution_path(execution_id, "/logs"),
            encode_logs_body(lines),
            endpoint="logs",
            timeout_s=self._timeouts.logs_s,
        )
        if batch_key is not None:
            request.headers[LOG_BATCH_KEY_HEADER] = batch_key
        return request

    async def get_status(self, execution_id: str) -> StatusResult:
        """``GET /api/v1/execution/{id}/status``, signed over the execution id."""
        response = await self.send(
            "GET",
            execution_path(execution_id, "/status"),
            b"",
            endpoint="status",
            timeout_s=self._timeouts.status_s,
            v1_message=execution_id.encode("utf-8"),
        )
        from pydantic import ValidationError  # with the first execution (prepare_logs)

        from flomation.wire.models import StatusResponse

        parsed: StatusResponse | None = None
        if response.status == 200:
            try:
                parsed = StatusResponse.model_validate_json(response.body)
            except ValidationError:
                parsed = None
        return StatusResult(response.status, parsed)

    async def post_result(self, execution_id: str, body: bytes) -> ApiResponse:
        """``POST /api/v1/execution/{id}`` with an already serialised result body."""
        return await self.send_prepared(await self.prepare_result(execution_id, body))

    async def prepare_result(self, execution_id: str, body: bytes) -> PreparedRequest:
        """The result request of :meth:`post_result`, signed, not yet sent."""
        return await self.prepare(
            "POST",
            execution_path(execution_id),
            body,
            endpoint="result",
            timeout_s=self._timeouts.result_s,
        )

    async def _sign(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run a signing function on the signing thread."""
        return await asyncio.get_running_loop().run_in_executor(self._signer, function, *args)

    def _signature_headers(
        self, method: str, target: str, body: bytes, v1_message: bytes
    ) -> dict[str, str]:
        headers: dict[str, str] = {}
        if signs_v1(signing_v2=self._signing_v2, v2_accepted=self._v2_accepted):
            headers[SIGNATURE_HEADER] = self._v1_signature(v1_message)
        if self._signing_v2:
            headers[SIGNATURE_V2_HEADER] = sign_v2(self._key, method, target, body)
        return headers

    def _v1_signature(self, message: bytes) -> str:
        """The v1 signature, reused for short messages that repeat while v2 is sent too.

        Beside a v2 header the v1 signature is not what the server checks for replays (the v2
        nonce is), so signing ``{"state":"running"}`` or an execution id (status polls) again
        would cost an RSA operation (~1 ms) and add nothing. Without v2 every request needs a
        v1 signature of its own: the server refuses one it has already seen (docs/protocol.md
        §8.1 A4). Called from worker threads: plain dict operations only (a race signs twice,
        nothing worse).
        """
        if not self._signing_v2 or len(message) > _V1_CACHE_MAX_MESSAGE_BYTES:
            return sign_v1(self._key, message)
        signature = self._v1_cache.get(message)
        if signature is None:
            signature = sign_v1(self._key, message)
            if len(self._v1_cache) >= _V1_CACHE_ENTRIES:
                self._v1_cache.clear()
            self._v1_cache[message] = signature
        return signature

    async def _sign_again(
        self, headers: MutableMapping[str, str], request: PreparedRequest
    ) -> None:
        """Replace the request's signature with a fresh one: the server accepts a v2 nonce once,
        and a v1-only signature once (docs/protocol.md §8.1 A4, §11)."""
        if self._signing_v2:
            headers[SIGNATURE_V2_HEADER] = await self._sign(
                sign_v2, self._key, request.method, request.target, request.body
            )
        else:
            headers[SIGNATURE_HEADER] = await self._sign(sign_v1, self._key, request.v1_message)

    async def send(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        endpoint: str = "replay",
        timeout_s: float | None = None,
        v1_message: bytes | None = None,
        max_answer_bytes: int = _MAX_OTHER_ANSWER_BYTES,
    ) -> ApiResponse:
        """Send ``body`` as-is to ``path`` (below the base URL), signed; no retries.

        ``v1_message`` overrides what the v1 signature covers (GETs sign the execution id);
        by default it is the body. At most ``max_answer_bytes`` of the answer are read.
        Raises ApiError when no HTTP answer arrives.
        """
        request = await self.prepare(
            method,
            path,
            body,
            endpoint=endpoint,
            timeout_s=timeout_s,
            v1_message=v1_message,
            max_answer_bytes=max_answer_bytes,
        )
        return await self.send_prepared(request)

    async def prepare(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        endpoint: str = "replay",
        timeout_s: float | None = None,
        v1_message: bytes | None = None,
        max_answer_bytes: int = _MAX_OTHER_ANSWER_BYTES,
    ) -> PreparedRequest:
        """Sign a request without sending it (see :meth:`send` for the arguments).

        Lets a caller sign the next request while the previous one is still in flight.
        """
        method = method.upper()
        target = self._path_prefix + path
        v1_message = body if v1_message is None else v1_message
        headers = await self._sign(self._signature_headers, method, target, body, v1_message)
        return PreparedRequest(
            method,
            target,
            body,
            headers,
            endpoint,
            timeout_s or self._timeouts.result_s,
            v1_message,
            max_answer_bytes,
        )

    async def send_prepared(self, request: PreparedRequest) -> ApiResponse:
        """Send a request from :meth:`prepare`; again as often as needed (retries).

        A v2 signature's nonce is accepted once: every send after the first signs v2 afresh,
        or v1 when v2 is off (the server accepts a v1-only signature once too).
        """
        if request.sent:
            await self._sign_again(request.headers, request)
        request.sent = True
        headers = dict(request.headers)
        if request.method != "GET":
            headers["Content-Type"] = "application/json"
        started_s = time.monotonic()
        status: int | None = None
        try:
            answer = await self._http.request(
                request.method,
                request.target,
                headers,
                request.body if request.method != "GET" else None,
                timeout_s=request.timeout_s,
                max_answer_bytes=request.max_answer_bytes,
                # A GET whose connection closed unanswered is sent once more by the client:
                # that attempt must not reuse the signature.
                before_resend=lambda resent: self._sign_again(resent, request),
            )
            status = answer.status
            self._v2_accepted = v2_accepted_after(
                self._v2_accepted,
                endpoint=request.endpoint,
                status=status,
                advertised=V2_ACCEPTED_HEADER.lower() in answer.headers,
                sent_v1=SIGNATURE_HEADER in headers,
            )
        except (HttpError, TimeoutError, OSError) as exc:
            raise ApiError(request.endpoint, exc) from exc
        finally:
            if self._observer is not None:
                self._observer.observe_request(
                    request.endpoint, time.monotonic() - started_s, status
                )
        return ApiResponse(answer.status, answer.body, answer.too_large)
