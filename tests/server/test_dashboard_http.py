"""The dashboard over real HTTP on 127.0.0.1: sign-in, sessions, CSRF, escaping, pagination.

The browser tests (tests/e2e/test_dashboard_browser.py) drive the same pages in Chromium with a
real runner; these pin the server's side of each rule without a browser.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from flomation.server.admin_answers import FloAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.dashboard import sign_in_url
from flomation.server.embedded import EmbeddedServer, running_server

from .conftest import SettingsFactory
from .runner_client import FLOW, SigningRunner, claim_new, raw_exchange

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_NONCE = re.compile(r'name="nonce" value="([^"]+)"')
_XSS_NAME = '<script>alert("name")</script>'
_XSS_ATTRIBUTE = '" autofocus onfocus="alert(1)'


@pytest.fixture
async def browser(server: EmbeddedServer) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session that keeps cookies for 127.0.0.1 and does not follow redirects."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=jar) as session:
        yield session


async def _sign_in(browser: aiohttp.ClientSession, token: str) -> aiohttp.ClientResponse:
    form = await browser.get("/signin")
    nonce = _NONCE.search(await form.text())
    assert nonce is not None
    return await browser.post(
        "/signin",
        data={"nonce": nonce.group(1), "token": token, "next": "/executions"},
        allow_redirects=False,
    )


async def _csrf(browser: aiohttp.ClientSession, path: str = "/") -> str:
    page = await browser.get(path)
    match = _CSRF.search(await page.text())
    assert match is not None, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
async def signed_in(
    browser: aiohttp.ClientSession, server: EmbeddedServer
) -> aiohttp.ClientSession:
    """``browser`` after signing in with the admin token."""
    answer = await _sign_in(browser, server.admin_token)
    assert answer.status == 303
    return browser


async def test_pages_send_strangers_to_the_sign_in_page(browser: aiohttp.ClientSession) -> None:
    """Without a session every page redirects to /signin, remembering where it was going."""
    for path in ("/", "/executions?status=fail", "/flows", "/environments"):
        answer = await browser.get(path, allow_redirects=False)
        assert answer.status == 303, path
        assert answer.headers["location"].startswith("/signin?next=%2F"), path


async def test_admin_token_gives_a_strict_http_only_session_cookie(
    browser: aiohttp.ClientSession, server: EmbeddedServer
) -> None:
    """The admin token gives an HttpOnly SameSite=Strict cookie (not Secure over plain http)."""
    answer = await _sign_in(browser, server.admin_token)
    assert answer.status == 303
    assert answer.headers["location"] == "/executions"
    cookie = next(
        value
        for value in answer.headers.getall("set-cookie")
        if value.startswith("flomation_session=")
    )
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes and "samesite=strict" in attributes
    assert "secure" not in attributes
    page = await browser.get("/executions")
    assert page.status == 200 and "Sign out" in await page.text()
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_a_wrong_token_is_refused(browser: aiohttp.ClientSession) -> None:
    """A wrong admin token answers 401 with the form again and no session."""
    answer = await _sign_in(browser, "not-the-token")
    assert answer.status == 401
    assert "not the admin token" in await answer.text()
    assert (await browser.get("/", allow_redirects=False)).status == 303


async def test_the_sign_in_form_needs_its_own_nonce(browser: aiohttp.ClientSession) -> None:
    """A sign-in posted without the form's nonce cookie (login CSRF) is refused."""
    answer = await browser.post(
        "/signin", data={"nonce": "forged", "token": "test-admin-token"}, allow_redirects=False
    )
    assert answer.status == 403


async def test_the_sign_in_form_is_read_only_up_to_16_kib(server: EmbeddedServer) -> None:
    """The unauthenticated sign-in POST is refused with 413 from a Content-Length over 16 KiB,
    before the body is read (only its start is sent here)."""
    head = (
        "POST /signin HTTP/1.1\r\nHost: t\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {16 * 1024 + 1}\r\n\r\n"
    )
    status, body = await raw_exchange(server.url, head.encode() + b"token=" + b"x" * 100)
    assert status == 413 and json.loads(body) == {"error": "request body too large"}


async def test_a_sign_in_link_works_once(
    browser: aiohttp.ClientSession, server: EmbeddedServer
) -> None:
    """The link printed by ``dev`` signs in once; opened again it is refused."""
    link = sign_in_url(server.url, server.admin_token, time.time()).removeprefix(server.url)
    first = await browser.get(link, allow_redirects=False)
    assert first.status == 303 and first.headers["location"] == "/"
    assert (await browser.get("/", allow_redirects=False)).status == 200
    browser.cookie_jar.clear()
    again = await browser.get(link, allow_redirects=False)
    assert again.status == 401
    tampered = link[:-1] + ("0" if link[-1] != "0" else "1")
    assert (await browser.get(tampered, allow_redirects=False)).status == 401


async def test_forms_without_the_csrf_token_are_refused(
    signed_in: aiohttp.ClientSession, admin: AdminClient, flo: FloAnswer
) -> None:
    """Cancel without the session's CSRF token answers 403 and changes nothing; with it, cancels."""
    execution_id = await admin.execute(flo["id"], {})
    path = f"/executions/{execution_id}/cancel"
    for form in ({}, {"csrf": "wrong"}):
        refused = await signed_in.post(path, data=form, allow_redirects=False)
        assert refused.status == 403
        assert "CSRF" in await refused.text()
    assert (await admin.get_execution(execution_id))["completion_status"] == "pending"
    token = await _csrf(signed_in, f"/executions/{execution_id}")
    accepted = await signed_in.post(path, data={"csrf": token}, allow_redirects=False)
    assert accepted.status == 303
    assert (await admin.get_execution(execution_id))["completion_status"] == "cancel"


async def test_sign_out_ends_the_session(
    signed_in: aiohttp.ClientSession, server: EmbeddedServer
) -> None:
    """After sign-out the old session cookie opens nothing, even if replayed."""
    cookie = next(c for c in signed_in.cookie_jar if c.key == "flomation_session")
    token = await _csrf(signed_in)
    answer = await signed_in.post("/signout", data={"csrf": token}, allow_redirects=False)
    assert answer.status == 303 and answer.headers["location"] == "/signin"
    replay = await signed_in.get(
        "/", headers={"Cookie": f"flomation_session={cookie.value}"}, allow_redirects=False
    )
    assert replay.status == 303


async def test_secret_values_are_never_shown_after_save(
    signed_in: aiohttp.ClientSession, admin: AdminClient
) -> None:
    """A secret saved through the dashboard is listed by name; its value appears nowhere."""
    environment = await admin.create_environment("production")
    token = await _csrf(signed_in, "/environments")
    for kind, name, value in (("secret", "api_key", "s3cr3t-v4lue"), ("property", "region", "eu")):
        answer = await signed_in.post(
            f"/environments/{environment['id']}/items",
            data={"csrf": token, "kind": kind, "name": name, "value": value},
            allow_redirects=False,
        )
        assert answer.status == 303
    page = await (await signed_in.get("/environments")).text()
    assert "api_key" in page and "region" in page and ">eu<" in page
    assert "s3cr3t-v4lue" not in page


async def test_html_in_names_and_data_is_shown_as_text(
    signed_in: aiohttp.ClientSession, admin: AdminClient, runner: SigningRunner
) -> None:
    """Flow names, trigger data, properties and log lines holding HTML come back escaped."""
    flo = await admin.create_flo(_XSS_NAME, FLOW)
    execution_id = await claim_new(runner, admin, flo["id"], data={"note": _XSS_ATTRIBUTE})
    environment = await admin.create_environment(_XSS_ATTRIBUTE)
    await admin.put_property(environment["id"], "p", _XSS_NAME)
    assert (await runner.logs(execution_id, [_XSS_NAME, _XSS_ATTRIBUTE])).status == 200
    for path in (
        "/executions",
        f"/executions/{execution_id}",
        f"/flows/{flo['id']}",
        "/flows",
        "/environments",
    ):
        page = await (await signed_in.get(path)).text()
        assert _XSS_NAME not in page, path
        assert _XSS_ATTRIBUTE not in page, path
        assert "&lt;script&gt;" in page or "&#34; autofocus" in page, path


async def test_keyset_pages_list_every_execution_once_newest_first(
    signed_in: aiohttp.ClientSession, admin: AdminClient, flo: FloAnswer
) -> None:
    """Following "Older" from the first page visits each execution exactly once, newest first."""
    created = [await admin.execute(flo["id"], {"n": n}) for n in range(120)]
    seen: list[str] = []
    path: str | None = "/executions"
    while path is not None:
        page = await (await signed_in.get(path)).text()
        seen.extend(re.findall(r'<tr id="row-[^"]+" data-id="([^"]+)"', page))
        older = re.search(r'href="(/executions\?[^"]*after=[^"]+)" rel="next"', page)
        path = older.group(1).replace("&amp;", "&") if older else None
    assert seen == list(reversed(created))
    queued = await (await signed_in.get("/executions?status=success")).text()
    assert "No executions match." in queued


async def test_a_long_log_opens_at_its_tail_and_earlier_lines_load_on_demand(
    signed_in: aiohttp.ClientSession,
    admin: AdminClient,
    flo: FloAnswer,
    runner: SigningRunner,
) -> None:
    """The page holds the last 500 lines; ``/log?before=`` answers the 500 before them and
    ``/log/search`` finds lines anywhere in the log."""
    execution_id = await claim_new(runner, admin, flo["id"])
    lines = [f"line {n}" for n in range(1, 1201)]
    assert (await runner.logs(execution_id, lines)).status == 200
    page = await (await signed_in.get(f"/executions/{execution_id}")).text()
    shown = re.findall(r'data-seq="(\d+)"', page)
    assert shown == [str(n) for n in range(701, 1201)]
    assert 'data-before="701"' in page
    earlier = await (await signed_in.get(f"/executions/{execution_id}/log?before=701")).json()
    assert [seq for seq, _ in earlier["lines"]] == list(range(201, 701))
    assert earlier["first_seq"] == 201
    search = f"/executions/{execution_id}/log/search"
    found = await (await signed_in.get(search, params={"q": "LINE 11"})).json()
    assert [seq for seq, _ in found["lines"]] == [11, *range(110, 120), *range(1100, 1200)]
    assert found["more"] is False
    wildcard = await (await signed_in.get(search, params={"q": "line_1%"})).json()
    assert wildcard["lines"] == []
    many = await (await signed_in.get(search, params={"q": "line"})).json()
    assert many["more"] is True and many["lines"][-1] == [1200, "line 1200"]
    assert len(many["lines"]) == 500


async def test_the_list_stream_sends_new_executions(
    signed_in: aiohttp.ClientSession, admin: AdminClient, flo: FloAnswer
) -> None:
    """``/executions/events`` sends a ``row`` event with a new execution's escaped row."""
    since = time.time()
    async with signed_in.get(f"/executions/events?changed_since={since}") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        execution_id = await admin.execute(flo["id"], {})
        async with asyncio.timeout(10):
            buffer = ""
            while f'data-id="{execution_id}"' not in buffer:
                buffer += (await stream.content.readany()).decode()
    assert "event: row" in buffer


async def test_the_flow_page_shows_the_validators_problems(
    signed_in: aiohttp.ClientSession, admin: AdminClient
) -> None:
    """A flow with an unknown node type lists the validator's error, naming the node."""
    document = json.loads(json.dumps(FLOW))
    document["nodes"] = [
        {"id": "start", "type": "trigger/manual", "data": {"label": "trigger/manual"}},
        {"id": "mystery", "type": "common/no_such_action", "data": {"label": "x"}},
    ]
    document["edges"] = [{"id": "e", "source": "start", "target": "mystery"}]
    flo = await admin.create_flo("broken", document)
    page = await (await signed_in.get(f"/flows/{flo['id']}")).text()
    problems = page.split('id="problems"', 1)[1].split("</ul>", 1)[0]
    assert "<strong>error</strong>" in problems
    assert "mystery" in problems and "common/no_such_action" in problems


async def _session_cookie_attributes(url: str, token: str, headers: dict[str, str]) -> set[str]:
    # Cookies are passed by hand: a cookie marked Secure is (rightly) not sent back over the
    # plain http this test speaks in place of the proxy.
    async with aiohttp.ClientSession(base_url=url, headers=headers) as browser:
        form = await browser.get("/signin")
        nonce = _NONCE.search(await form.text())
        assert nonce is not None
        answer = await browser.post(
            "/signin",
            data={"nonce": nonce.group(1), "token": token},
            headers={"Cookie": f"flomation_signin={nonce.group(1)}"},
            allow_redirects=False,
        )
        assert answer.status == 303
        cookie = next(
            value
            for value in answer.headers.getall("set-cookie")
            if value.startswith("flomation_session=")
        )
    return {part.strip().lower() for part in cookie.split(";")}


async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy_only(
    make_settings: SettingsFactory,
) -> None:
    """X-Forwarded-Proto: https makes the cookie Secure from a trusted proxy, not from anyone."""
    tls = {"X-Forwarded-Proto": "https"}
    async with running_server(make_settings()) as untrusting:
        attributes = await _session_cookie_attributes(untrusting.url, untrusting.admin_token, tls)
        assert "secure" not in attributes
    async with running_server(make_settings(trusted_proxies=("127.0.0.1/32",))) as proxied:
        attributes = await _session_cookie_attributes(proxied.url, proxied.admin_token, tls)
        assert "secure" in attributes and "httponly" in attributes


async def test_odd_line_numbers_and_cursors_are_refused_not_crashed(
    signed_in: aiohttp.ClientSession, admin: AdminClient, flo: FloAnswer
) -> None:
    """Unicode digits, huge numbers and junk in page parameters answer 400, never 500."""
    execution_id = await admin.execute(flo["id"], {})
    for path in (
        f"/executions/{execution_id}/log?before=%C2%B2",
        f"/executions/{execution_id}/log?before=99999999999999999999999",
        f"/executions/{execution_id}/events?after=%C2%B2",
        "/executions?after=1.5_not%20an%20id",
        "/executions?after=nan_1",
        "/executions?status=%3Cscript%3E",
        "/executions?since=forever",
    ):
        answer = await signed_in.get(path)
        assert answer.status == 400, path
        assert "<script>" not in await answer.text()
