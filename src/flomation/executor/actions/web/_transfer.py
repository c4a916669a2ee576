"""One HTTP exchange for the web actions, standard library only, abortable within a second.

The exchange (connect, send, redirects, read) runs in a daemon thread while the calling thread
waits on the cancel event and the deadline in short steps. On cancellation or timeout the live
socket is shut down, which unblocks the worker, and the caller gets ActionCancelled or a
TransferError at once. Redirects follow Go's ``net/http`` client (max 10; 301/302 turn POST into
GET, 303 turns anything but HEAD into GET, 307/308 resend the body). Header names are sent and
returned in Go's canonical form, and error texts follow Go's ``url.Error`` layout
(``Get "<url>": <reason>``) because users see them in node errors. Connections go through the
network guard (executor/network_guard.py).
"""

from __future__ import annotations

import functools
import http.client
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from flomation.executor.actions.base import ActionCancelled
from flomation.executor.network_guard import guarded_connection

__all__ = ["Response", "TransferError", "canonical_header_name", "transfer"]

_MAX_REDIRECTS = 10
_POLL_S = 0.1
_READ_CHUNK_BYTES = 64 * 1024
_DEADLINE_EXCEEDED = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers Go drops when a redirect leaves the original host.
_SENSITIVE_HEADERS = frozenset({"Authorization", "Www-Authenticate", "Cookie", "Cookie2"})
_TARGET_SAFE = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


class TransferError(Exception):
    """The exchange failed (connection, protocol, redirect limit or timeout); Go-style text."""


@dataclass(frozen=True)
class Response:
    """The final response: status, headers (canonical names, received order) and capped body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def canonical_header_name(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``content-type`` -> ``Content-Type``.

    Names holding a byte that is not an HTTP token character are returned unchanged, as in Go.
    """
    if not name or any(char not in _TOKEN_CHARS for char in name):
        return name
    chars: list[str] = []
    upper = True
    for char in name:
        chars.append(char.upper() if upper else char.lower())
        upper = char == "-"
    return "".join(chars)


def _escape(text: str) -> str:
    """Percent-encode spaces, controls and non-ASCII; existing escapes and punctuation stay."""
    return quote(text, safe=_TARGET_SAFE)


def _go_op(method: str) -> str:
    return method[:1].upper() + method[1:].lower()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return _DEADLINE_EXCEEDED
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    text = str(exc)
    return text if text else type(exc).__name__


@dataclass
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class _Exchange:
    """The worker side: performs the request chain and records the outcome."""

    def __init__(
        self,
        request: _Request,
        timeout_s: float,
        max_body_bytes: int,
        guard_minimum: str,
    ) -> None:
        self._request = request
        self._guard_minimum = guard_minimum
        self._timeout_s = timeout_s
        self._max_body_bytes = max_body_bytes
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._aborted = False
        self._current = request  # the request in flight (a redirect target after redirects)
        self.done = threading.Event()
        self.response: Response | None = None
        self.error: TransferError | None = None

    def run(self) -> None:
        try:
            self.response = self._follow()
        except TransferError as exc:
            self.error = exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.error = TransferError(
                f'{_go_op(self._current.method)} "{self._current.url}": {_describe(exc)}'
            )
        finally:
            self._close()
            self.done.set()

    def abort(self) -> None:
        """Shut the live socket down so a blocked read or write returns at once."""
        with self._lock:
            self._aborted = True
            connection = self._connection
        if connection is not None and connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def _close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _open(self, url: str) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise TransferError(
                f'{_go_op(self._request.method)} "{url}": unsupported protocol scheme "{scheme}"'
            )
        if not parts.hostname:
            raise TransferError(f'{_go_op(self._request.method)} "{url}": http: no Host in URL')
        connection: http.client.HTTPConnection
        if scheme == "https":
            import ssl  # only TLS requests pay for the ssl module

            connection = http.client.HTTPSConnection(
                parts.netloc, timeout=self._timeout_s, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(parts.netloc, timeout=self._timeout_s)
        # Every connection, the first and each redirect's, goes through the network guard: it
        # checks the address actually connected to, after DNS (executor/network_guard.py).
        # http.client opens its socket with this attribute (Lib/http/client.py, connect()).
        connection._create_connection = functools.partial(  # type: ignore[attr-defined]
            guarded_connection, minimum=self._guard_minimum
        )
        with self._lock:
            if self._aborted:
                raise TransferError("aborted")
            self._connection = connection
        target = _escape(parts.path) or "/"
        if parts.query:
            target += "?" + _escape(parts.query)
        return connection, target

    def _exchange(self, request: _Request) -> tuple[int, list[tuple[str, str]], bytes]:
        connection, target = self._open(request.url)
        # Values go out as UTF-8 bytes, as Go sends them (http.client would insist on Latin-1).
        wire_headers = {name: value.encode("utf-8") for name, value in request.headers.items()}
        connection.request(request.method, target, body=request.body, headers=wire_headers)
        reply = connection.getresponse()
        # http.client decodes header bytes as Latin-1; Go keeps the bytes, so recover them.
        headers = [
            (canonical_header_name(name), value.encode("latin-1").decode("utf-8", "replace"))
            for name, value in reply.getheaders()
        ]
        chunks: list[bytes] = []
        remaining = self._max_body_bytes
        if request.method != "HEAD":
            while remaining > 0 and (chunk := reply.read(min(_READ_CHUNK_BYTES, remaining))):
                chunks.append(chunk)
                remaining -= len(chunk)
        self._close()
        return reply.status, headers, b"".join(chunks)

    def _follow(self) -> Response:
        request = self._request
        original_host = urlsplit(request.url).hostname
        redirects = 0
        while True:
            self._current = request
            status, headers, body = self._exchange(request)
            location = next((value for name, value in headers if name == "Location"), None)
            if status not in _REDIRECT_STATUSES or location is None:
                return Response(status, headers, body)
            redirects += 1
            target = urljoin(request.url, location)
            if redirects > _MAX_REDIRECTS:
                raise TransferError(
                    f'{_go_op(request.method)} "{target}": stopped after {_MAX_REDIRECTS} redirects'
                )
            request = _redirected(request, status, target, original_host)


def _redirected(request: _Request, status: int, target: str, original_host: str | None) -> _Request:
    method, body = request.method, request.body
    headers = dict(request.headers)
    if (status in (301, 302) and method == "POST") or (status == 303 and method != "HEAD"):
        method, body = "GET", None
        headers.pop("Content-Type", None)
        headers.pop("Content-Length", None)
    new_host = urlsplit(target).hostname
    if new_host != original_host and not (
        new_host and original_host and new_host.endswith("." + original_host)
    ):
        for name in _SENSITIVE_HEADERS:
            headers.pop(name, None)
    return _Request(method, target, headers, body)


def transfer(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout_s: float,
    max_body_bytes: int,
    cancel_event: threading.Event,
    guard_minimum: str = "off",
) -> Response:
    """Perform the exchange; raise ActionCancelled on cancellation, TransferError on failure.

    ``timeout_s`` bounds the whole exchange including redirects and reading the body (Go's
    ``http.Client.Timeout``); the body is read up to ``max_body_bytes`` and the rest discarded.
    Every connection (redirect targets too) goes through the network guard at its configured
    level, or at ``guard_minimum`` when that is stricter (executor/network_guard.py).
    """
    request = _Request(
        method,
        url,
        {canonical_header_name(name): value for name, value in headers.items()},
        body,
    )
    exchange = _Exchange(request, timeout_s, max_body_bytes, guard_minimum)
    worker = threading.Thread(target=exchange.run, name="web-transfer", daemon=True)
    deadline = time.monotonic() + timeout_s
    worker.start()
    while not exchange.done.wait(_POLL_S):
        if cancel_event.is_set():
            exchange.abort()
            raise ActionCancelled("request cancelled")
        if time.monotonic() >= deadline:
            exchange.abort()
            raise TransferError(f'{_go_op(method)} "{url}": {_DEADLINE_EXCEEDED}')
    if exchange.error is not None:
        raise exchange.error
    assert exchange.response is not None
    return exchange.response
