"""common/smtp against an aiosmtpd server on 127.0.0.1: plain, STARTTLS and AUTH PLAIN.

Upstream behaviour pinned here is flomation-co/executor: actions/common/smtp/action.go (Go's
net/smtp: STARTTLS whenever offered, AUTH PLAIN always, credentials never in the clear to a host
other than localhost).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from executor.engine_harness import edge, flow_document, node, run_engine, value
from fixtures.authority import LocalAuthority
from flomation.executor.actions.base import HardError
from flomation.executor.actions.common import smtp

MakeContext = Callable[..., Any]
USER, PASSWORD = "mailer", "s3cret-Pa55"


@dataclass
class _Inbox:
    """What the server received, and who authenticated."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    starttls: list[bool] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("reject"):
            return f"550 5.1.1 <{address}> rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.starttls.append(session.ssl is not None)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == (USER, PASSWORD), handled=False)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextmanager
def _smtp_server(host: str = "127.0.0.1", **options: Any) -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = _free_port(host)
    controller = Controller(
        inbox,
        hostname=host,
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
        **options,
    )
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def _inputs(port: int, host: str = "127.0.0.1", **changes: Any) -> list[tuple[str, str, Any]]:
    rows = {
        "to": ("string", "ops@example.com"),
        "from": ("string", "flo@example.com"),
        "subject": ("string", "Build ✓"),
        "message": ("string", "<b>done</b>\n.hidden dot line"),
        "smtp_host": ("string", host),
        "smtp_username": ("string", USER),
        "smtp_password": ("string", PASSWORD),
        "smtp_port": ("integer", port),
        "smtp_secure": ("boolean", True),
    }
    for name, replacement in changes.items():
        rows[name] = (rows[name][0], replacement)
    return [(name, kind, raw) for name, (kind, raw) in rows.items()]


def test_plain_session_on_localhost(make_ctx: MakeContext) -> None:
    """Without STARTTLS on offer, localhost still authenticates and the message is delivered."""
    with _smtp_server() as (port, inbox):
        out = smtp.run(make_ctx(*_inputs(port)))
    expected = (
        "From: flo@example.com\nTo: ops@example.com\nSubject: Build ✓\nMIME-version: 1.0;\n"
        'Content-Type: text/html; charset="UTF-8";\n\n<b>done</b>\n.hidden dot line\n\n'
    )
    assert out == {"length": len(expected.encode()), "result": 0}
    assert inbox.logins == [(USER, PASSWORD)]
    ((sender, recipients, content),) = inbox.messages
    assert (sender, recipients) == ("flo@example.com", ["ops@example.com"])
    assert content == expected.replace("\n", "\r\n").encode()
    assert inbox.starttls == [False]


def test_starttls_is_used_when_offered(
    make_ctx: MakeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server offering STARTTLS gets a verified TLS upgrade before AUTH."""
    authority = LocalAuthority(tmp_path)
    authority.trust(monkeypatch)
    context = authority.issue().server_context()
    with _smtp_server(tls_context=context, require_starttls=True) as (port, inbox):
        out = smtp.run(make_ctx(*_inputs(port)))
    assert out["result"] == 0
    assert inbox.starttls == [True] and inbox.logins == [(USER, PASSWORD)]


def test_starttls_with_an_untrusted_certificate_fails(
    make_ctx: MakeContext, tmp_path: Path
) -> None:
    """The server certificate is verified: an unknown CA stops the session before AUTH."""
    context = LocalAuthority(tmp_path).issue().server_context()
    with (
        _smtp_server(tls_context=context, require_starttls=True) as (port, inbox),
        pytest.raises(HardError) as caught,
    ):
        smtp.run(make_ctx(*_inputs(port)))
    assert caught.value.message.startswith("tls: ")
    assert inbox.logins == [] and inbox.messages == []


def test_wrong_password_is_an_smtp_error(make_ctx: MakeContext) -> None:
    """A rejected AUTH is a hard error carrying the server's reply; nothing is sent."""
    with _smtp_server() as (port, inbox), pytest.raises(HardError) as caught:
        smtp.run(make_ctx(*_inputs(port, smtp_password="wrong")))
    assert caught.value.message == "535 5.7.8 Authentication credentials invalid"
    assert inbox.messages == []


def test_no_credentials_in_the_clear_to_a_remote_host(make_ctx: MakeContext) -> None:
    """A host other than localhost without TLS: 'unencrypted connection', AUTH never sent."""
    with _smtp_server(host="127.0.0.2") as (port, inbox), pytest.raises(HardError) as caught:
        smtp.run(make_ctx(*_inputs(port, host="127.0.0.2")))
    assert caught.value.message == "unencrypted connection"
    assert inbox.logins == []


def test_connection_refused_and_missing_inputs(make_ctx: MakeContext) -> None:
    """Dial failures read like Go's; a missing input names itself."""
    port = _free_port("127.0.0.1")
    with pytest.raises(HardError) as caught:
        smtp.run(make_ctx(*_inputs(port)))
    assert caught.value.message == f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    rows = [row for row in _inputs(port) if row[0] != "subject"]
    with pytest.raises(HardError) as missing:
        smtp.run(make_ctx(*rows))
    assert missing.value.message == "subject is required"


def test_password_is_masked_in_events_results_and_errors(tmp_path: Path) -> None:
    """The password never appears in events, node results or the error, even when echoed."""
    with _smtp_server() as (port, _inbox):
        inputs = [value(name, raw, kind) for name, kind, raw in _inputs(port)]
        inputs = [
            value("to", f"reject-{PASSWORD}@example.com") if row["name"] == "to" else row
            for row in inputs
        ]
        document = flow_document(
            [node("t", "trigger/manual", 1), node("x", "common/smtp", inputs=inputs)],
            [edge("t", "x")],
        )
        run = run_engine(tmp_path, document)
    record = run.result.records["x"]
    assert record.status == "failed"
    assert record.error == "550 5.1.1 <reject-********@example.com> rejected"
    assert (record.inputs or {})["smtp_password"] == "********"
    everything = str(run.events) + str(run.logs) + record.to_json()
    assert PASSWORD not in everything
