"""``common/smtp``: send an HTML email through an SMTP server.

Matches flomation-co/executor: actions/common/smtp/action.go, which uses Go's ``net/smtp``:
connect to ``smtp_host:smtp_port``, ``EHLO flomation.app``, upgrade with STARTTLS whenever the
server offers it (certificate verified for ``smtp_host``, TLS 1.2 or later), then always
``AUTH PLAIN`` with the username and password; Go's ``PlainAuth`` refuses to send them over an
unencrypted connection unless the host is ``localhost``, ``127.0.0.1`` or ``::1`` (error
``unencrypted connection``). The message is upstream's fixed header block
(From/To/Subject/MIME-version/``Content-Type: text/html``) and the body; outputs are the
message's length in bytes and ``result: 0``. ``smtp_secure`` is accepted and, as upstream,
not used.

Deliberate differences: a missing input is the hard error ``<name> is required`` (upstream
dereferences it and crashes); the session is bounded by a 60 s socket timeout (upstream has
none) and aborted within a second on cancellation.
"""

from __future__ import annotations

import base64
import re
import smtplib
import ssl
import threading
from dataclasses import dataclass

from flomation.executor.accessors import read_number, read_string
from flomation.executor.actions.base import (
    ActionCancelled,
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)

__all__ = ["SPEC", "run"]

_SOCKET_TIMEOUT_S = 60
_POLL_S = 0.1
_LOCAL_NAME = "flomation.app"
_LOCALHOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_BARE_LF = re.compile(rb"(?<!\r)\n")

SPEC = ActionSpec(
    id="common/smtp",
    name="Send SMTP Email",
    description="Send an HTML email via SMTP",
    icon="envelope",
    inputs=(
        Connection("to", "string", "To (Email Address)", placeholder="Email Address"),
        Connection("from", "string", "From (Email Address)", placeholder="Email Address"),
        Connection("subject", "string", "Subject", placeholder="Subject"),
        Connection("message", "string", "Message", placeholder="Message"),
        Connection("smtp_host", "string", "SMTP Host", placeholder="SMTP Host"),
        Connection("smtp_username", "string", "SMTP Username", placeholder="SMTP Username"),
        Connection(
            "smtp_password", "string", "SMTP Password", placeholder="SMTP Password", secret=True
        ),
        Connection("smtp_port", "integer", "SMTP Port", placeholder="SMTP Port"),
        Connection("smtp_secure", "boolean", "SMTP Secure", placeholder="SMTP Secure"),
    ),
    outputs=(
        Connection("length", "integer", "Output Length"),
        Connection("result", "integer", "Result"),
    ),
    extra={
        "differences": [
            'a missing input is the hard error "<name> is required" (upstream crashes)',
            "the session is bounded by a 60 s socket timeout and ends on cancellation",
        ]
    },
)


@dataclass(frozen=True)
class _Mail:
    host: str
    port: int
    username: str
    password: str
    sender: str
    recipient: str
    message: str


class _SmtpFailure(Exception):
    """A step of the session failed; the text is what upstream's error would say."""


def _reply_error(code: int, reply: bytes | str) -> _SmtpFailure:
    """Go's ``textproto.Error`` text: ``535 5.7.8 Authentication failed``."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return _SmtpFailure(f"{code:03d} {text}")


def _expect(reply: tuple[int, bytes], *accepted: int) -> None:
    code, text = reply
    if code not in accepted:
        raise _reply_error(code, text)


def _no_line_breaks(*values: str) -> None:
    if any("\r" in value or "\n" in value for value in values):
        raise _SmtpFailure("smtp: A line must not contain CR or LF")


class _Session:
    """One SMTP conversation, run in a worker thread so cancellation can cut it short."""

    def __init__(self, mail: _Mail) -> None:
        self._mail = mail
        self._client: smtplib.SMTP | None = None
        self._lock = threading.Lock()
        self._connected = False
        self.done = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        try:
            self._converse()
        except _SmtpFailure as failure:
            self.error = str(failure)
        except smtplib.SMTPResponseException as failure:
            self.error = str(_reply_error(failure.smtp_code, failure.smtp_error))
        except ssl.SSLError as failure:
            self.error = f"tls: {failure.reason or failure}"
        except OSError as failure:  # smtplib.SMTPException is an OSError too
            self.error = self._describe(failure)
        finally:
            self.abort()
            self.done.set()

    def _describe(self, failure: OSError) -> str:
        """Go's texts: ``dial tcp HOST:PORT: connect: ...`` before the connection exists."""
        reason = failure.strerror or str(failure) or type(failure).__name__
        reason = reason[:1].lower() + reason[1:]
        if self._connected:
            return reason
        mail = self._mail
        return f"dial tcp {mail.host}:{mail.port}: connect: {reason}"

    def _converse(self) -> None:
        mail = self._mail
        # Connecting here also records smtp_host as the name STARTTLS verifies.
        client = smtplib.SMTP(
            mail.host, mail.port, local_hostname=_LOCAL_NAME, timeout=_SOCKET_TIMEOUT_S
        )
        self._connected = True
        with self._lock:
            self._client = client
        client.ehlo_or_helo_if_needed()
        encrypted = False
        if client.has_extn("starttls"):
            context = ssl.create_default_context()
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            _expect(client.starttls(context=context), 220)
            encrypted = True
        client.ehlo_or_helo_if_needed()  # after STARTTLS the server forgets the EHLO
        # Go's smtp.PlainAuth: never send credentials in the clear to a remote host.
        if not encrypted and mail.host not in _LOCALHOST_NAMES:
            raise _SmtpFailure("unencrypted connection")
        credentials = f"\0{mail.username}\0{mail.password}".encode()
        _expect(client.docmd("AUTH", "PLAIN " + base64.b64encode(credentials).decode("ascii")), 235)
        _no_line_breaks(mail.sender, mail.recipient)
        _expect(client.mail(mail.sender), 250)
        _expect(client.rcpt(mail.recipient), 250, 251)
        # Go's DotWriter turns each lone LF into CRLF; smtplib dot-stuffs and terminates.
        _expect(client.data(_BARE_LF.sub(b"\r\n", mail.message.encode("utf-8"))), 250)
        _expect(client.quit(), 221)

    def abort(self) -> None:
        """Close the connection (unblocks a worker waiting on the server)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def _required(ctx: ActionContext, name: str) -> str:
    value = read_string(ctx.inputs, name)
    if value is None:
        raise HardError(f"{name} is required")
    return value


def run(ctx: ActionContext) -> Outputs:
    """Send the message; ``{length, result: 0}`` or a hard error with the SMTP failure."""
    sender = _required(ctx, "from")
    recipient = _required(ctx, "to")
    subject = _required(ctx, "subject")
    body = _required(ctx, "message")
    host = _required(ctx, "smtp_host")
    username = _required(ctx, "smtp_username")
    password = _required(ctx, "smtp_password")
    port = read_number(ctx.inputs, "smtp_port")
    if port is None:
        raise HardError("smtp_port is required")
    message = (
        f"From: {sender}\nTo: {recipient}\nSubject: {subject}\nMIME-version: 1.0;\n"
        f'Content-Type: text/html; charset="UTF-8";\n\n{body}\n\n'
    )
    session = _Session(_Mail(host, port, username, password, sender, recipient, message))
    worker = threading.Thread(target=session.run, name="smtp-session", daemon=True)
    worker.start()
    while not session.done.wait(_POLL_S):
        if ctx.cancel_event.is_set():
            session.abort()
            raise ActionCancelled("smtp session cancelled")
    if session.error is not None:
        raise HardError(session.error)
    return {"length": len(message.encode("utf-8")), "result": 0}
