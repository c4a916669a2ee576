"""Dashboard sign-in: server-side sessions with a CSRF token each, and one-time sign-in links.

Sessions live in the database (store/sessions.py), so every replica on it knows every sign-in and
a restart signs nobody out; signing out really ends the session, on every replica, rather than
only dropping a cookie. A sign-in link carries ``expiry.nonce.mac`` where the MAC is an
HMAC-SHA256 keyed with the admin token, so whoever holds the token (``flomation-runner dev``) can
mint one without talking to the server; the server accepts each nonce once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from flomation.server.auth import tokens_equal
from flomation.server.store import Store

__all__ = [
    "LINK_TTL_S",
    "SESSION_IDLE_S",
    "Session",
    "SessionStore",
    "SignInLinks",
    "sign_in_code",
    "sign_in_url",
]

SESSION_IDLE_S = 12 * 3600.0
LINK_TTL_S = 15 * 60.0
# The key under which used sign-in link nonces are remembered beside runners' signature nonces.
_LINK_NONCES = "dashboard-sign-in-link"
_LINK_PURPOSE = b"flomation-dashboard-sign-in:"


@dataclass(frozen=True)
class Session:
    """One signed-in browser: its cookie value and the CSRF token of its forms."""

    id: str
    csrf: str


class SessionStore:
    """Sessions in the database, refused once idle longer than ``idle_s``."""

    def __init__(self, store: Store, *, idle_s: float = SESSION_IDLE_S) -> None:
        self._store = store
        self._idle_s = idle_s

    async def create(self, now_s: float) -> Session:
        """A new session with fresh random id and CSRF token."""
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        await self._store.create_session(session.id, session.csrf, now_s)
        return session

    async def get(self, session_id: str, now_s: float) -> Session | None:
        """The live session with this id (its idle clock restarts), else None."""
        csrf = await self._store.use_session(session_id, now_s, self._idle_s)
        return None if csrf is None else Session(session_id, csrf)

    async def end(self, session_id: str) -> None:
        """Sign out: the id no longer opens anything."""
        await self._store.end_session(session_id)


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
    """Checks sign-in codes; the nonces already used are remembered in the database.

    A used nonce is stored with its link's expiry as its time, so it outlives the link by the
    nonce retention (docs/protocol.md §9.3) and a link opens once across every replica.
    """

    def __init__(self, admin_token: str, store: Store) -> None:
        self._admin_token = admin_token
        self._store = store

    async def redeem(self, code: str, now_s: float) -> bool:
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
        return await self._store.remember_nonce(_LINK_NONCES, nonce, float(expiry_s))
