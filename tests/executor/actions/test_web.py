"""web/request and web/fetch against a real HTTP server on 127.0.0.1 (docs/flows.md §10.6, §9)."""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fixtures.http_peer import Recorded, Reply, http_peer
from flomation.executor.actions.base import ActionCancelled, HardError
from flomation.executor.actions.web import fetch, request
from flomation.executor.actions.web._transfer import canonical_header_name

PAGE = (
    "<html><head><title> My <b>Page</b> </title><style>p {color: red}</style></head>"
    "<body><script>var x = '<p>';</script><h1>Hello</h1>\n\n\n\n<p>World &amp; all</p>"
    "</body></html>"
)

# The ``make_ctx`` fixture (tests/executor/actions/conftest.py) builds an ActionContext.
MakeContext = Callable[..., Any]


def _route(release: threading.Event, request: Recorded) -> Reply:
    """The routes the tests use; the stalling one waits for ``release``."""
    path = request.path
    if path.startswith("/echo"):
        echo = {
            "method": request.method,
            "path": path,
            "headers": request.headers,
            "body": request.body.decode(),
        }
        headers = [
            ("x-lower-case", "1"),
            ("X-Utf8", "Zoë".encode().decode("latin-1")),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
        ]
        return 200, headers, json.dumps(echo).encode()
    if path.startswith("/status/"):
        return int(path.rsplit("/", 1)[1]), {}, b"status body"
    if path.startswith("/redirect/"):
        remaining = int(path.rsplit("/", 1)[1])
        if remaining == 0:
            return 200, {}, b"arrived"
        return 302, {"Location": f"/redirect/{remaining - 1}"}, b""
    if path.startswith("/see-other"):
        return 303, {"Location": "/echo/after"}, b""
    if path.startswith("/temporary"):
        return 307, {"Location": "/echo/kept"}, b""
    if path == "/big":
        return 200, {}, b"x" * (3 << 20)
    if path == "/page":
        return 200, {"Content-Type": "text/html"}, PAGE.encode()
    if path == "/stall":
        release.wait(30)
        return 200, {}, b"late"
    return 404, {}, b"no route"


@pytest.fixture
def base_url() -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 with an OS-chosen port."""
    release = threading.Event()
    with http_peer(functools.partial(_route, release)) as peer:
        try:
            yield f"http://127.0.0.1:{peer.port}"
        finally:
            release.set()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 whose port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


# --- web/request -------------------------------------------------------------------------------


def test_request_sends_method_headers_body(make_ctx: MakeContext, base_url: str) -> None:
    """Method is upper-cased; headers are set in canonical form; the body is sent."""
    ctx = make_ctx(
        ("method", "string", "post"),
        ("url", "string", f"{base_url}/echo?q=1"),
        (
            "headers",
            "text",
            "content-type: application/json\nno colon here\nX-Twice: a\nx-twice: b",
        ),
        ("body", "text", '{"a":1}'),
    )
    out = request.run(ctx)
    assert set(out) == {"status_code", "response_body", "response_headers", "success"}
    assert out["status_code"] == 200 and out["success"] is True
    echo = json.loads(out["response_body"])
    assert echo["method"] == "POST" and echo["path"] == "/echo?q=1" and echo["body"] == '{"a":1}'
    assert echo["headers"]["Content-Type"] == "application/json"
    assert echo["headers"]["X-Twice"] == "b"
    assert echo["headers"]["User-Agent"] == "Go-http-client/1.1"


def test_request_response_headers_canonical_and_sorted(
    make_ctx: MakeContext, base_url: str
) -> None:
    """Response headers are `Name: value` lines, canonical names, sorted, repeated values kept."""
    out = request.run(make_ctx(("method", "string", "GET"), ("url", "string", f"{base_url}/echo")))
    lines = out["response_headers"].split("\n")
    names = [line.split(":", 1)[0] for line in lines]
    assert names == sorted(names)
    assert "X-Lower-Case: 1" in lines
    assert "X-Utf8: Zoë" in lines
    assert lines.index("Set-Cookie: a=1") + 1 == lines.index("Set-Cookie: b=2")


def test_request_non_2xx_is_soft_failure(make_ctx: MakeContext, base_url: str) -> None:
    """A 404 returns success false without an error key (the flow continues)."""
    out = request.run(
        make_ctx(("method", "string", "GET"), ("url", "string", f"{base_url}/status/404"))
    )
    assert out["status_code"] == 404 and out["success"] is False
    assert out["response_body"] == "status body" and "error" not in out


def test_request_missing_method_or_url(make_ctx: MakeContext) -> None:
    """A missing method or URL is a hard error with the exact message."""
    with pytest.raises(HardError, match=r"^HTTP method is required$"):
        request.run(make_ctx(("url", "string", "http://127.0.0.1/")))
    with pytest.raises(HardError, match=r"^URL is required$"):
        request.run(make_ctx(("method", "string", "GET"), ("url", "string", "")))


def test_request_transport_error_is_hard(make_ctx: MakeContext) -> None:
    """A refused connection is a hard error `request failed: Get "<url>": ...`."""
    url = closed_port_url()
    with pytest.raises(HardError) as info:
        request.run(make_ctx(("method", "string", "GET"), ("url", "string", url)))
    assert info.value.message == f'request failed: Get "{url}": connection refused'


def test_request_unsupported_scheme(make_ctx: MakeContext) -> None:
    """A URL without an http(s) scheme fails like Go: unsupported protocol scheme."""
    with pytest.raises(HardError) as info:
        request.run(make_ctx(("method", "string", "GET"), ("url", "string", "example.com/x")))
    assert (
        info.value.message == 'request failed: Get "example.com/x": unsupported protocol scheme ""'
    )


def test_request_follows_ten_redirects_not_eleven(make_ctx: MakeContext, base_url: str) -> None:
    """Ten redirects are followed; the eleventh stops with Go's message."""
    out = request.run(
        make_ctx(("method", "string", "GET"), ("url", "string", f"{base_url}/redirect/10"))
    )
    assert out["status_code"] == 200 and out["response_body"] == "arrived"
    with pytest.raises(HardError, match=r"stopped after 10 redirects$"):
        request.run(
            make_ctx(("method", "string", "GET"), ("url", "string", f"{base_url}/redirect/11"))
        )


def test_request_redirect_method_rules(make_ctx: MakeContext, base_url: str) -> None:
    """303 turns POST into a body-less GET; 307 resends method and body."""
    ctx = make_ctx(
        ("method", "string", "POST"),
        ("url", "string", f"{base_url}/see-other"),
        ("body", "text", "x"),
    )
    echo = json.loads(request.run(ctx)["response_body"])
    assert echo["method"] == "GET" and echo["path"] == "/echo/after" and echo["body"] == ""
    ctx = make_ctx(
        ("method", "string", "PUT"),
        ("url", "string", f"{base_url}/temporary"),
        ("body", "text", "y"),
    )
    echo = json.loads(request.run(ctx)["response_body"])
    assert echo["method"] == "PUT" and echo["path"] == "/echo/kept" and echo["body"] == "y"


def test_request_body_capped_and_head(make_ctx: MakeContext, base_url: str) -> None:
    """The response body is cut at 1 MiB; HEAD returns an empty body."""
    out = request.run(make_ctx(("method", "string", "GET"), ("url", "string", f"{base_url}/big")))
    assert out["response_body"] == "x" * (1 << 20)
    out = request.run(make_ctx(("method", "string", "head"), ("url", "string", f"{base_url}/echo")))
    assert out["status_code"] == 200 and out["response_body"] == ""


def test_request_timeout(make_ctx: MakeContext, base_url: str) -> None:
    """A server that does not answer within timeout_seconds gives a hard `request failed`."""
    ctx = make_ctx(
        ("method", "string", "GET"),
        ("url", "string", f"{base_url}/stall"),
        ("timeout_seconds", "integer", 1),
    )
    started = time.monotonic()
    with pytest.raises(HardError, match=r"^request failed: Get .*Client\.Timeout exceeded"):
        request.run(ctx)
    assert time.monotonic() - started < 5


def test_request_cancellation_aborts_transfer(make_ctx: MakeContext, base_url: str) -> None:
    """Setting the cancel event while the server stalls ends the action with ActionCancelled."""
    ctx = make_ctx(("method", "string", "GET"), ("url", "string", f"{base_url}/stall"))
    threading.Timer(0.3, ctx.cancel_event.set).start()
    started = time.monotonic()
    with pytest.raises(ActionCancelled):
        request.run(ctx)
    assert time.monotonic() - started < 2


def test_canonical_header_name_matches_go() -> None:
    """Names are canonicalised as Go's textproto does; names with invalid bytes stay as is."""
    assert canonical_header_name("content-type") == "Content-Type"
    assert canonical_header_name("X-CUSTOM-thing") == "X-Custom-Thing"
    assert canonical_header_name("www-authenticate") == "Www-Authenticate"
    assert canonical_header_name("bad header") == "bad header"
    assert canonical_header_name("") == ""


# --- web/fetch ---------------------------------------------------------------------------------


def test_fetch_extracts_title_and_text(make_ctx: MakeContext, base_url: str) -> None:
    """Title is the first <title> without tags; text drops scripts/styles and collapses lines."""
    out = fetch.run(make_ctx(("url", "string", f"{base_url}/page")))
    assert out["title"] == "My Page"
    assert out["content"] == out["tool_result"] == "My \nPage\n \n\nHello\n\nWorld &amp; all"
    assert out["status_code"] == 200 and out["success"] is True and out["error"] == ""


def test_fetch_sends_user_agent(make_ctx: MakeContext, base_url: str) -> None:
    """The request carries the Flomation tool User-Agent."""
    out = fetch.run(make_ctx(("url", "string", f"{base_url}/echo")))
    assert json.loads(out["content"])["headers"]["User-Agent"] == "Flomation/1.0 (AI Agent Tool)"


def test_fetch_truncates_on_character_boundary() -> None:
    """Text longer than max_length bytes is cut without splitting a character, plus a marker."""
    assert fetch.html_text("<p>ééé</p>", 3) == "é\n\n[Content truncated]"
    assert fetch.html_text("<p>abc</p>", 3) == "abc"


def test_fetch_max_length_input(make_ctx: MakeContext, base_url: str) -> None:
    """max_length limits the text; zero or missing means 10000."""
    out = fetch.run(make_ctx(("url", "string", f"{base_url}/page"), ("max_length", "integer", 5)))
    assert out["content"] == "My \nP\n\n[Content truncated]"
    out = fetch.run(make_ctx(("url", "string", f"{base_url}/big"), ("max_length", "integer", 0)))
    assert len(out["content"]) == 10000 + len("\n\n[Content truncated]")


def test_fetch_non_200_is_soft(make_ctx: MakeContext, base_url: str) -> None:
    """Any status other than 200 is a soft failure naming the code and URL."""
    url = f"{base_url}/status/201"
    assert fetch.run(make_ctx(("url", "string", url))) == {
        "tool_result": f"HTTP 201 from {url}",
        "content": "",
        "title": "",
        "status_code": 201,
        "success": False,
        "error": "HTTP 201",
    }


def test_fetch_transport_error_is_soft(make_ctx: MakeContext) -> None:
    """A refused connection returns success false with `Failed to fetch URL: ...`."""
    url = closed_port_url()
    out = fetch.run(make_ctx(("url", "string", url)))
    error = f'Get "{url}": connection refused'
    assert out == {
        "tool_result": f"Failed to fetch URL: {error}",
        "content": "",
        "title": "",
        "status_code": 0,
        "success": False,
        "error": error,
    }


def test_fetch_url_required(make_ctx: MakeContext) -> None:
    """An empty url is a hard error."""
    with pytest.raises(HardError, match=r"^url is required$"):
        fetch.run(make_ctx(("url", "string", "")))


def test_fetch_cancellation(make_ctx: MakeContext, base_url: str) -> None:
    """Cancelling while the server stalls aborts the fetch promptly."""
    ctx = make_ctx(("url", "string", f"{base_url}/stall"))
    threading.Timer(0.3, ctx.cancel_event.set).start()
    started = time.monotonic()
    with pytest.raises(ActionCancelled):
        fetch.run(ctx)
    assert time.monotonic() - started < 2


def test_request_escapes_target_and_sends_utf8_headers(
    make_ctx: MakeContext, base_url: str
) -> None:
    """Spaces and non-ASCII in the URL are percent-encoded; header values go out as UTF-8."""
    ctx = make_ctx(
        ("method", "string", "GET"),
        ("url", "string", f"{base_url}/echo/ä b?q=ü"),
        ("headers", "text", "X-Name: Zoë"),
    )
    echo = json.loads(request.run(ctx)["response_body"])
    assert echo["path"] == "/echo/%C3%A4%20b?q=%C3%BC"
    # http.server decodes header bytes as Latin-1.
    assert echo["headers"]["X-Name"] == "Zoë".encode().decode("latin-1")
