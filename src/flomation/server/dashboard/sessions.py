"""Dashboard sign-in: server-side sessions with a CSRF token each, and one-time sign-in links.

Sessions live in the server's memory (the server runs as one process per database): a restart
signs everybody out, and signing out really ends the session rather than only dropping a cookie.
A sign-in link carries ``expiry.nonce.mac`` where the MAC is an HMAC-SHA256 keyed with the admin
token, so whoever holds the token (``flomation-runner dev``) can mint one without talking to the
server; the server accepts each nonce once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

__all__ = [
    "LINK_TTL_S",
    "SESSION_IDLE_S",
    "Session",
    "SessionStore",
    "SignInLinks",
    "sign_in_code",
    "sign_in_url",
    "tokens_equal",
]

SESSION_IDLE_S = 12 * 3600.0
LINK_TTL_S = 15 * 60.0
_SESSION_LIMIT = 10_000
_USED_NONCE_LIMIT = 10_000
_LINK_PURPOSE = b"flomation-dashboard-sign-in:"


def tokens_equal(supplied: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (any text, never raises)."""
    return hmac.compare_digest(
        supplied.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


@dataclass
class Session:
    """One signed-in browser: its cookie value and the CSRF token of its forms."""

    id: str
    csrf: str
    last_seen_s: float


class SessionStore:
    """Sessions by id, the least recently used dropped beyond a bound."""

    def __init__(self, *, idle_s: float = SESSION_IDLE_S, limit: int = _SESSION_LIMIT) -> None:
        self._idle_s = idle_s
        self._limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(self, now_s: float) -> Session:
        """A new session with fresh random id and CSRF token."""
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now_s)
        self._sessions[session.id] = session
        while len(self._sessions) > self._limit:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str, now_s: float) -> Session | None:
        """The live session with this id (its idle clock restarts), else None."""
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if now_s - session.last_seen_s > self._idle_s:
            del self._sessions[session_id]
            return None
        session.last_seen_s = now_s
        self._sessions.move_to_end(session_id)
        return session

    def end(self, session_id: str) -> None:
        """Sign out: the id no longer opens anything."""
        self._sessions.pop(session_id, None)


def _mac(admin_token: str, payload: str) -> str:
    return hmac.new(
        admin_token.encode("utf-8"), _LINK_PURPOSE + payload.encode("ascii"), hashlib.sha256
    ).hexdigest()


def sign_in_code(admin_token: str, now_s: float, ttl_s: float = LINK_TTL_S) -> str:
    """A one-time sign-in code valid for ``ttl_s`` seconds."""
    payload = f"{int(now_s + ttl_s)}.{secrets.token_hex(16)}"
    return f"{payload}.{_mac(admin_token, payload)}"


def sign_in_url(base_url: str, admin_token: str, now_s: float) -> str:
    """The dashboard link that signs its opener in once (printed by ``flomation-runner dev``)."""
    code = sign_in_code(admin_token, now_s)
    return f"{base_url.rstrip('/')}/signin/link?code={quote(code)}"


class SignInLinks:
    """Checks sign-in codes and remembers the nonces already used until they expire."""

    def __init__(self, admin_token: str) -> None:
        self._admin_token = admin_token
        self._used: dict[str, float] = {}

    def redeem(self, code: str, now_s: float) -> bool:
        """True once for a genuine, unexpired code; False for anything else."""
        expiry_text, _, rest = code.partition(".")
        nonce, _, mac = rest.partition(".")
        if not expiry_text.isdigit() or len(nonce) != 32 or len(mac) != 64:
            return False
        expiry_s = int(expiry_text)
        if not now_s < expiry_s <= now_s + LINK_TTL_S + 1:
            return False
        if not tokens_equal(mac, _mac(self._admin_token, f"{expiry_text}.{nonce}")):
            return False
        self._used = {n: e for n, e in self._used.items() if e > now_s}
        if nonce in self._used or len(self._used) >= _USED_NONCE_LIMIT:
            return False
        self._used[nonce] = float(expiry_s)
        return True
