"""The runner's HTTP/1.1 client: one origin, a keep-alive pool, capped answers.

The runner talks to one control plane, so this client does only what that needs
(docs/architecture.md, "The runner's HTTP client"): kept-alive connections to one origin (no
limit on their number), requests written by hand and answers parsed by httptools (llhttp),
answers read up to a cap counted after gzip/deflate decompression, TLS created only for an
``https`` origin, and the proxy the environment names (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, the
proxy's netrc credentials): absolute-form requests for an ``http`` origin, a CONNECT tunnel
for an ``https`` one. It replaces aiohttp on the runner's start path, whose import alone costs
~15 MiB and ~0.12 s of CPU (docs/benchmarks.md, runner start-up).
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httptools

__all__ = [
    "HttpAnswer",
    "HttpClient",
    "HttpError",
    "Origin",
    "Proxy",
    "environment_proxy",
    "parse_origin",
]

# What every request accepts: the encodings decompressed here (what aiohttp sent).
_ACCEPT_ENCODING = "gzip, deflate"
# A body above this goes out in slices, awaiting the socket between them, so the transport's
# buffer never holds a second full copy of a multi-megabyte result.
_SLICED_ABOVE_BYTES = 1024 * 1024
_SLICE_BYTES = 256 * 1024
# Of an over-size answer this much is kept, so that a claim's ids can still be read.
OVERSIZE_HEAD_BYTES = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


class HttpError(Exception):
    """No usable HTTP answer: the connection closed early, the answer was not HTTP, a body did
    not decompress, or the proxy refused the tunnel."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where requests go: scheme, host, port and the base URL's path (no trailing slash)."""

    scheme: str
    host: str
    port: int
    path_prefix: str

    @property
    def authority(self) -> str:
        """``host[:port]`` as the Host header and an absolute-form target write it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy and the Proxy-Authorization value to send it (None: no credentials)."""

    host: str
    port: int
    authorization: str | None = None


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """An answer's status and body; ``too_large``: longer than the cap, ``body`` is its head.

    ``headers``: the answer's header fields by lower-case name (the last of a repeated one).
    """

    status: int
    body: bytes
    too_large: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


def parse_origin(url: str) -> Origin:
    """The origin of an ``http://`` or ``https://`` URL; ValueError for anything else."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {url!r}")
    port = parts.port or _DEFAULT_PORTS[scheme]
    return Origin(scheme, parts.hostname, port, parts.path.rstrip("/"))


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _netrc_authorization(host: str) -> str | None:
    """Credentials for ``host`` from the netrc file (``NETRC`` or ``~/.netrc``), if any."""
    import netrc  # only when a proxy is configured

    path = os.environ.get("NETRC") or str(Path("~/.netrc").expanduser())
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    if entry is None:
        return None
    login, account, password = entry
    return _basic(login or account or "", password or "")


def environment_proxy(url: str) -> Proxy | None:
    """The proxy the environment names for ``url`` (HTTP_PROXY / HTTPS_PROXY by its scheme,
    NO_PROXY bypassing it), with credentials from the proxy URL or else from netrc.

    Proxies named by an ``https://`` URL are not supported and ignored, as aiohttp did.
    """
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None  # urllib.request costs ~3.5 MiB to import: only when there is a proxy
    from urllib.request import getproxies, proxy_bypass

    origin = parse_origin(url)
    if proxy_bypass(origin.host):
        return None
    proxy_url = getproxies().get(origin.scheme)
    if not proxy_url:
        return None
    if "://" not in proxy_url:
        proxy_url = "http://" + proxy_url
    parts = urlsplit(proxy_url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        return None
    if parts.username is not None:
        authorization: str | None = _basic(unquote(parts.username), unquote(parts.password or ""))
    else:
        authorization = _netrc_authorization(parts.hostname)
    return Proxy(parts.hostname, parts.port or 80, authorization)


class _Reading:
    """One answer being received: its status, body so far, inflater and cap."""

    __slots__ = (
        "body",
        "done",
        "encoding",
        "framed",
        "head_only",
        "headers",
        "inflater",
        "limit_bytes",
        "status",
    )

    def __init__(self, done: asyncio.Future[HttpAnswer], limit_bytes: int) -> None:
        self.done = done
        self.limit_bytes = limit_bytes
        self.status = 0
        self.body = bytearray()
        self.encoding = b""
        self.inflater: zlib._Decompress | None = None
        self.framed = False  # a Content-Length or Transfer-Encoding says where the body ends
        self.head_only = False  # over the cap: keep the head, stop reading
        self.headers: dict[str, str] = {}


class _Connection(asyncio.Protocol):
    """One connection: writes requests, feeds what arrives to httptools, one answer at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.received_any = False  # a byte of the current answer arrived
        self._parser = httptools.HttpResponseParser(self)
        self._reading: _Reading | None = None
        self._tunnel: asyncio.Future[int] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._reusable = True
        self._lost = False

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        if self._reading is None and self._tunnel is None:
            self._reusable = False  # bytes nobody asked for: never reuse this connection
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"invalid HTTP answer: {exc}"))

    def eof_received(self) -> bool | None:
        self._reusable = False
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._reusable = False
        reading = self._reading
        if reading is not None and reading.status and not reading.framed:
            self._complete(reading)  # the answer's body ran to the end of the connection
            return
        where = "in the middle of the answer" if self.received_any else "before answering"
        self._fail(HttpError(f"the server closed the connection {where}"), exc)
        self.resume_writing()  # a send waiting for the socket sees the loss and stops

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # --- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._reading is None and self._tunnel is None:
            self._reusable = False  # an answer nobody asked for

    def on_header(self, name: bytes, value: bytes) -> None:
        reading = self._reading
        if reading is None:
            return
        lowered = name.lower()
        reading.headers[lowered.decode("latin-1")] = value.decode("latin-1")
        if lowered == b"content-encoding":
            reading.encoding = value.strip().lower()
        elif lowered == b"transfer-encoding":
            reading.framed = True
        elif lowered == b"content-length":
            reading.framed = True
            if value.strip().isdigit() and int(value) > reading.limit_bytes:
                reading.head_only = True

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if self._tunnel is not None:
            if not self._tunnel.done():
                self._tunnel.set_result(status)
            return
        reading = self._reading
        if reading is None:
            return
        reading.status = status
        if status in (204, 304) or 100 <= status < 200:
            reading.framed = True
        if reading.encoding in (b"gzip", b"x-gzip"):
            reading.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def on_body(self, data: bytes) -> None:
        reading = self._reading
        if reading is None or reading.done.done():
            return
        if reading.encoding == b"deflate" and reading.inflater is None:
            # zlib-wrapped as the RFC says, or raw deflate as some servers send it.
            wbits = zlib.MAX_WBITS if data[0] & 0x0F == 8 else -zlib.MAX_WBITS
            reading.inflater = zlib.decompressobj(wbits)
        if reading.inflater is not None:
            room = reading.limit_bytes - len(reading.body) + 1
            try:
                data = reading.inflater.decompress(data, room)
            except zlib.error as exc:
                self._fail(HttpError(f"the answer's body does not decompress: {exc}"))
                return
        reading.body += data
        if reading.head_only and len(reading.body) >= OVERSIZE_HEAD_BYTES:
            self._finish(reading, cut=True)
        elif len(reading.body) > reading.limit_bytes:
            reading.head_only = True
            self._finish(reading, cut=True)

    def on_message_complete(self) -> None:
        reading = self._reading
        if reading is None or reading.done.done():
            return
        if reading.status < 200:  # an informational answer (1xx): the real one follows
            self._reading = _Reading(reading.done, reading.limit_bytes)
            return
        if not self._parser.should_keep_alive():
            self._reusable = False
        self._complete(reading)

    # --- use -------------------------------------------------------------------------------

    def _complete(self, reading: _Reading) -> None:
        """The answer's body has ended: flush the inflater and hand the answer over."""
        if reading.inflater is not None:
            try:
                reading.body += reading.inflater.flush()
            except zlib.error as exc:
                self._fail(HttpError(f"the answer's body does not decompress: {exc}"))
                return
        if len(reading.body) > reading.limit_bytes:
            reading.head_only = True
        self._finish(reading)

    @property
    def reusable(self) -> bool:
        """Idle, open and in a state where the next answer can be read from it: bytes of the last
        request still unsent mean the server answered before reading them all."""
        return (
            self._reusable
            and not self._lost
            and self._reading is None
            and (self.transport is None or self.transport.get_write_buffer_size() == 0)
        )

    def close(self) -> None:
        """Close the connection (what is still being read fails)."""
        self._reusable = False
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection at once."""
        self._reusable = False
        if self.transport is not None:
            self.transport.abort()

    async def send(self, head: bytes, body: bytes | None) -> None:
        """Write a request; a large body in slices, awaiting the socket between them."""
        assert self.transport is not None
        if not body:
            self.transport.write(head)
            return
        if len(body) <= _SLICED_ABOVE_BYTES:
            self.transport.write(head + body)
            return
        assert self._reading is not None
        answered = self._reading.done
        self.transport.write(head)
        view = memoryview(body)
        for start in range(0, len(view), _SLICE_BYTES):
            self.transport.write(view[start : start + _SLICE_BYTES])
            if self._writable is not None:
                await self._writable
            if answered.done():
                # Answered before the body was all sent (a server refuses a body it finds too
                # large with 413 before reading it): the rest is never sent, and the
                # connection, mid-request, is dropped.
                self.abort()
                return
            if self._lost:
                raise HttpError("the connection closed while sending")

    def expect_answer(self, limit_bytes: int) -> asyncio.Future[HttpAnswer]:
        """Get ready for the next answer: a future of it, capped at ``limit_bytes``."""
        self.received_any = False
        done: asyncio.Future[HttpAnswer] = asyncio.get_running_loop().create_future()
        self._reading = _Reading(done, limit_bytes)
        return done

    async def open_tunnel(self, request: bytes) -> int:
        """Send a CONNECT request and return the proxy's status once its head arrived."""
        assert self.transport is not None
        self._tunnel = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            return await self._tunnel
        finally:
            self._tunnel = None
            self._parser = httptools.HttpResponseParser(self)  # the origin's answers follow

    def _finish(self, reading: _Reading, *, cut: bool = False) -> None:
        self._reading = None
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)  # a send waiting for the socket sees the answer
        if cut:
            self.close()  # the rest of the body is never read
        if not reading.done.done():
            body = reading.body[:OVERSIZE_HEAD_BYTES] if reading.head_only else reading.body
            reading.done.set_result(
                HttpAnswer(reading.status, bytes(body), reading.head_only, reading.headers)
            )

    def _fail(self, error: HttpError, cause: BaseException | None = None) -> None:
        self.close()
        error.__cause__ = cause
        for future in (self._reading.done if self._reading else None, self._tunnel):
            if future is not None and not future.done():
                future.set_exception(error)
        self._reading = None


class HttpClient:
    """Requests to one origin over kept-alive connections, directly or through ``proxy``.

    ``ssl_context`` (https only) defaults to the system's trust, made at the first connection.
    """

    def __init__(
        self,
        origin: Origin,
        *,
        headers: Mapping[str, str],
        connect_timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
    ) -> None:
        self._origin = origin
        self._connect_timeout_s = connect_timeout_s
        self._ssl_context = ssl_context
        self._proxy = proxy
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._target_prefix = ""
        fixed = {"Host": origin.authority, "Accept": "*/*", "Accept-Encoding": _ACCEPT_ENCODING}
        if proxy is not None and origin.scheme == "http":
            # Absolute-form through the proxy, which gets its credentials on every request.
            self._target_prefix = f"http://{origin.authority}"
            if proxy.authorization is not None:
                fixed["Proxy-Authorization"] = proxy.authorization
        fixed.update(headers)
        self._fixed_head = _header_block(fixed)

    @property
    def origin(self) -> Origin:
        """Where the requests go."""
        return self._origin

    async def close(self) -> None:
        """Close every connection, idle or in use."""
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()

    async def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        timeout_s: float,
        max_answer_bytes: int,
        before_resend: Callable[[dict[str, str]], Awaitable[None]] | None = None,
    ) -> HttpAnswer:
        """Send one request (``target``: the path and query) and read its answer.

        ``body`` None sends no body (GET). A GET whose connection closes before any byte of the
        answer is sent once more on a new connection, after ``before_resend`` updated its
        headers (RFC 9112 §9.3.1; aiohttp did the same). Raises HttpError, OSError or
        TimeoutError (``timeout_s`` for the whole request) when no answer arrives.
        """
        async with asyncio.timeout(timeout_s):
            resends = 1 if method == "GET" else 0
            while True:
                connection = await self._connection()
                try:
                    answer = await self._exchange(
                        connection, method, target, headers, body, max_answer_bytes
                    )
                except (HttpError, OSError):
                    self._forget(connection)
                    if resends and not connection.received_any:
                        resends -= 1
                        if before_resend is not None:
                            await before_resend(headers)
                        continue
                    raise
                except BaseException:
                    self._forget(connection)
                    raise
                self._release(connection)
                return answer

    async def _exchange(
        self,
        connection: _Connection,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
        max_answer_bytes: int,
    ) -> HttpAnswer:
        if " " in target or "\r" in target or "\n" in target:
            raise HttpError(f"not a request target: {target!r}")
        length = "" if body is None else f"Content-Length: {len(body)}\r\n"
        head = (
            f"{method} {self._target_prefix}{target} HTTP/1.1\r\n"
            f"{self._fixed_head}{_header_block(headers)}{length}\r\n"
        )
        answer = connection.expect_answer(max_answer_bytes)
        try:
            await connection.send(head.encode("latin-1"), body)
        except BaseException:
            if answer.done() and not answer.cancelled():
                answer.exception()  # the send's own error is the one raised
            answer.cancel()
            raise
        return await answer

    async def _connection(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable:
                return connection
            self._forget(connection)
        async with asyncio.timeout(self._connect_timeout_s):
            return await self._connect()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        origin, proxy = self._origin, self._proxy
        tls = self._tls() if origin.scheme == "https" else None
        host, port = (proxy.host, proxy.port) if proxy is not None else (origin.host, origin.port)
        connection = _Connection()
        await loop.create_connection(
            lambda: connection,
            host,
            port,
            ssl=tls if proxy is None else None,
            server_hostname=origin.host if tls is not None and proxy is None else None,
        )
        self._open.add(connection)
        if tls is not None and proxy is not None:
            try:
                await self._tunnel(connection, proxy, tls)
            except BaseException:
                self._forget(connection)
                raise
        return connection

    async def _tunnel(self, connection: _Connection, proxy: Proxy, tls: ssl.SSLContext) -> None:
        """CONNECT through ``proxy`` to the origin, then TLS with the origin over the tunnel."""
        host, port = self._origin.host, self._origin.port
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
        if proxy.authorization is not None:
            request += f"Proxy-Authorization: {proxy.authorization}\r\n"
        status = await connection.open_tunnel((request + "\r\n").encode("latin-1"))
        if status != 200:
            raise HttpError(f"the proxy {proxy.host}:{proxy.port} refused the tunnel: {status}")
        assert connection.transport is not None
        transport = await asyncio.get_running_loop().start_tls(
            connection.transport, connection, tls, server_hostname=self._origin.host
        )
        assert isinstance(transport, asyncio.Transport)
        connection.transport = transport

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()  # ~20 ms: only for https
        return self._ssl_context

    def _release(self, connection: _Connection) -> None:
        if connection.reusable:
            self._idle.append(connection)
        else:
            connection.close()
            self._open.discard(connection)

    def _forget(self, connection: _Connection) -> None:
        """Drop a connection whose exchange failed or was cancelled."""
        connection.abort()
        self._open.discard(connection)


def _header_block(headers: Mapping[str, str]) -> str:
    """Header lines for ``headers``; HttpError when a name or value holds a line break."""
    block = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    if block.count("\r") != len(headers) or block.count("\n") != len(headers):
        raise HttpError("a header name or value holds a line break")
    return block
