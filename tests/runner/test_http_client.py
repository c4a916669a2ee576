"""The runner's HTTP client (runner/http_client.py) against real servers and a real proxy.

Through ``RunnerApi``, as the runner uses it: the environment's proxy (proxy.py as a real
forward proxy, absolute-form for http and CONNECT for https, credentials from the proxy URL or
netrc, NO_PROXY), TLS verified against the configured or the system trust, kept-alive
connections, answer framings and encodings, timeouts and header values that could split a head.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from fixtures.authority import LocalAuthority
from fixtures.fake_control_plane import (
    RUNNER_IDENTIFIER,
    FakeControlPlane,
    pending_execution,
    runner_registration,
)
from fixtures.forward_proxy import forward_proxy
from flomation.runner.api import ApiError, RunnerApi, client_ssl_context
from flomation.runner.http_client import Proxy, environment_proxy
from flomation.wire.jsontext import JsonObject
from flomation.wire.signing import generate_private_key

KEY = generate_private_key()
PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "NETRC")


@pytest.fixture(autouse=True)
def _no_proxy_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test starts without proxy variables and with an empty netrc."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def _registration() -> JsonObject:
    return runner_registration(KEY)


async def test_http_goes_through_the_proxy_in_absolute_form_with_the_urls_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With HTTP_PROXY set, requests go through that proxy carrying its URL's credentials."""
    async with (
        forward_proxy(tmp_path, basic_auth="runner:s3cret") as proxy,
        FakeControlPlane() as fake,
    ):
        monkeypatch.setenv("HTTP_PROXY", f"http://runner:s3cret@127.0.0.1:{proxy.port}")
        async with RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
            assert (await api.register(_registration())).status == 200
            execution_id = fake.enqueue(pending_execution())
            assert (await api.get_status(execution_id)).status == 200
        assert [r.signature_ok for r in fake.state.requests] == [True, True]
        assert await proxy.logged(f"POST 127.0.0.1:{fake.port}/api/v1/runner - 200 OK")


async def test_proxy_credentials_come_from_netrc_and_without_them_the_proxy_refuses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A proxy URL without credentials takes them from netrc; without any the proxy says 407."""
    async with (
        forward_proxy(tmp_path, basic_auth="runner:s3cret") as proxy,
        FakeControlPlane() as fake,
    ):
        monkeypatch.setenv("http_proxy", proxy.url)
        async with RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
            assert (await api.register(_registration())).status == 407
        assert fake.state.requests == []
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login runner password s3cret\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        async with RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
            assert (await api.register(_registration())).status == 200
        assert len(fake.requests_to("/api/v1/runner")) == 1


async def test_https_goes_through_a_connect_tunnel_and_verifies_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With HTTPS_PROXY set, an https control plane is reached through a CONNECT tunnel, and
    its certificate is verified against the configured CA (and refused without it)."""
    authority = LocalAuthority(tmp_path)
    certificate = authority.issue()
    async with (
        forward_proxy(tmp_path) as proxy,
        FakeControlPlane(ssl_context=certificate.server_context()) as fake,
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        trusting = client_ssl_context(str(authority.ca_path), None, None)
        async with RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY, ssl_context=trusting) as api:
            assert (await api.register(_registration())).status == 200
            assert (await api.claim()).status == 204
        assert await proxy.logged(f"CONNECT 127.0.0.1:{fake.port}")
        async with RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
            with pytest.raises(ApiError, match="CERTIFICATE_VERIFY_FAILED"):
                await api.register(_registration())
        assert len(fake.requests_to("/api/v1/runner")) == 1


async def test_without_a_configured_context_https_verifies_against_the_system_trust(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without an SSL context of its own, the client trusts what the system trusts."""
    authority = LocalAuthority(tmp_path)
    authority.trust(monkeypatch)
    async with FakeControlPlane(ssl_context=authority.issue().server_context()) as fake:
        async with RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
            assert (await api.register(_registration())).status == 200
        assert fake.requests_to("/api/v1/runner")[0].signature_ok


async def test_no_proxy_sends_requests_directly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A host named in NO_PROXY is reached directly, even with HTTP_PROXY set."""
    async with forward_proxy(tmp_path) as proxy, FakeControlPlane() as fake:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        async with RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
            assert (await api.register(_registration())).status == 200
        await asyncio.sleep(0.5)  # time for the proxy to log a connection, had there been one
        assert proxy.access_lines() == []


def test_environment_proxy_reads_the_variables_like_aiohttp_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The proxy is chosen by the URL's scheme; https:// proxies are ignored; credentials are
    percent-decoded; a proxy without a scheme is taken as http."""
    assert environment_proxy("http://control.example") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://us%40er:p%3Ass@proxy.example:3128")
    assert environment_proxy("http://control.example") is None
    credentials = base64.b64encode(b"us@er:p:ss").decode()
    assert environment_proxy("https://control.example/base") == Proxy(
        "proxy.example", 3128, f"Basic {credentials}"
    )
    monkeypatch.setenv("HTTP_PROXY", "proxy.example:8080")
    assert environment_proxy("http://control.example") == Proxy("proxy.example", 8080, None)
    monkeypatch.setenv("HTTP_PROXY", "https://proxy.example")
    assert environment_proxy("http://control.example") is None
    monkeypatch.setenv("NO_PROXY", ".example")
    assert environment_proxy("https://control.example") is None


@asynccontextmanager
async def _app(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    *,
    keepalive_timeout_s: float = 75.0,
) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, keepalive_timeout=keepalive_timeout_s)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_requests_reuse_a_kept_alive_connection_and_survive_its_closing() -> None:
    """Sequential requests share one connection; once the server closes it while idle, the
    next request (a POST, never re-sent) goes out on a new one."""
    peers: list[object] = []

    async def handler(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        await request.read()
        return web.Response(status=200, text="{}")

    async with _app(handler, keepalive_timeout_s=0.3) as url, RunnerApi(url, "idid", KEY) as api:
        for _ in range(3):
            assert (await api.set_state("exec-1")).status == 200
        await asyncio.sleep(0.8)
        assert (await api.set_state("exec-1")).status == 200
    assert len(set(peers[:3])) == 1
    assert peers[3] != peers[0]


async def test_a_large_body_arrives_whole_and_signed() -> None:
    """A result body of several megabytes (sent in slices) reaches the server byte for byte."""
    body = b'{"has_errored":false,"state":{"logs":"' + b"x" * (5 * 1024 * 1024) + b'"}}'
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        await api.register(_registration())
        execution_id = fake.enqueue(pending_execution())
        assert (await api.post_result(execution_id, body)).status == 200
        (request,) = fake.requests_to(f"/execution/{execution_id}")
        assert request.body == body and request.signature_ok


async def test_an_answer_before_the_body_was_sent_is_returned() -> None:
    """A server that answers 413 after the head, never reading the body, gets its answer
    returned (the rest of the body is not sent) and the next request a new connection."""
    connections: list[asyncio.StreamWriter] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        await asyncio.sleep(30)  # reads nothing more: the client must not wait for that

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with RunnerApi(url, "idid", KEY) as api:
            body = b'{"state":"' + b"x" * (16 * 1024 * 1024) + b'"}'
            answer = await api.send("POST", "/x", body, timeout_s=10)
            assert (answer.status, answer.body) == (413, b"{}")
            assert (await api.send("POST", "/x", b"{}", timeout_s=10)).status == 413
        assert len(connections) == 2
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def _serve_raw(answer: bytes) -> tuple[asyncio.Server, str]:
    """A server that reads a request head and writes ``answer`` as-is, then closes."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                await reader.readexactly(int(line.split(b":")[1]))
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


_TEXT = b'{"lines":["' + b"a" * 5000 + b'"]}'
_RAW_DEFLATE = zlib.compressobj(wbits=-zlib.MAX_WBITS)


@pytest.mark.parametrize(
    ("head", "body"),
    [
        pytest.param(b"Content-Encoding: gzip\r\n", gzip.compress(_TEXT), id="gzip"),
        pytest.param(b"Content-Encoding: deflate\r\n", zlib.compress(_TEXT), id="deflate"),
        pytest.param(
            b"Content-Encoding: deflate\r\n",
            _RAW_DEFLATE.compress(_TEXT) + _RAW_DEFLATE.flush(),
            id="raw-deflate",
        ),
        pytest.param(b"", _TEXT, id="identity"),
    ],
)
@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
async def test_answers_are_read_whole_in_every_framing_and_encoding(
    head: bytes, body: bytes, framing: str
) -> None:
    """Length-framed, chunked and close-delimited answers, plain or gzip/deflate-encoded, come
    back whole and decoded."""
    if framing == "length":
        head += b"Content-Length: %d\r\n\r\n" % len(body)
    elif framing == "chunked":
        head += b"Transfer-Encoding: chunked\r\n\r\n"
        half = len(body) // 2
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:]))
        body += b"0\r\n\r\n"
    else:
        head += b"Connection: close\r\n\r\n"
    server, url = await _serve_raw(b"HTTP/1.1 200 OK\r\n" + head + body)
    try:
        async with RunnerApi(url, "idid", KEY) as api:
            answer = await api.send("POST", "/x", b"{}")
        assert (answer.status, answer.body, answer.too_large) == (200, _TEXT, False)
    finally:
        server.close()
        await server.wait_closed()


async def test_an_informational_answer_is_skipped_for_the_one_that_follows() -> None:
    """A 100 Continue before the answer is passed over; the final answer is returned."""
    server, url = await _serve_raw(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"
    )
    try:
        async with RunnerApi(url, "idid", KEY) as api:
            answer = await api.send("POST", "/x", b"{}")
        assert (answer.status, answer.body) == (201, b"{}")
    finally:
        server.close()
        await server.wait_closed()


async def test_an_answer_that_is_not_http_is_an_api_error() -> None:
    """Bytes that are not an HTTP answer raise ApiError naming the endpoint."""
    server, url = await _serve_raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    try:
        async with RunnerApi(url, "idid", KEY) as api:
            with pytest.raises(ApiError, match="state: invalid HTTP answer"):
                await api.set_state("exec-1")
    finally:
        server.close()
        await server.wait_closed()


async def test_a_silent_server_times_out_as_an_api_error() -> None:
    """A server that accepts and never answers ends the request at its timeout."""
    accepted: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with RunnerApi(url, "idid", KEY) as api:
            started_s = asyncio.get_running_loop().time()
            with pytest.raises(ApiError) as raised:
                await api.send("POST", "/x", b"{}", timeout_s=0.3)
            assert isinstance(raised.value.cause, TimeoutError)
            assert asyncio.get_running_loop().time() - started_s < 5
        assert len(accepted) == 1
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_header_value_with_a_line_break_is_refused_before_sending() -> None:
    """A header value that would split the request head raises ApiError; nothing is sent."""
    async with FakeControlPlane() as fake, RunnerApi(fake.url, RUNNER_IDENTIFIER, KEY) as api:
        logs = await api.prepare_logs("exec-1", ["a"], batch_key="b-1\r\nX-Injected: 1")
        with pytest.raises(ApiError, match="line break"):
            await api.send_prepared(logs)
        assert fake.state.requests == []
