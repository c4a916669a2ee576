"""Who may call what: runner signatures (docs/protocol.md §3, §9) and the admin bearer token (§10).

Key lookup (§3.4) is the caller's job; this module checks a request against a given key.
Parsed keys are cached per PEM because a runner's key never changes.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request

from flomation.server.store import SignatureNonce, Store
from flomation.wire.models import ClaimRequest
from flomation.wire.signing import (
    SIGNATURE_HEADER,
    SIGNATURE_V2_HEADER,
    V2HeaderError,
    load_public_key_pem,
    parse_v2_header,
    verify_v1,
    verify_v2,
)

__all__ = [
    "RequestVerifier",
    "SignatureError",
    "VerifiedKey",
    "admin_authorised",
    "bearer_token",
    "client_ip",
    "served_over_tls",
    "tokens_equal",
    "v1_claim_staleness",
]

_KEY_CACHE_LIMIT = 10_000


class SignatureError(Exception):
    """A runner request that must be answered 403; the message says why."""


@dataclass(frozen=True)
class VerifiedKey:
    """A parsed runner key and its fingerprint (the scope of v2 nonces)."""

    key: rsa.RSAPublicKey
    fingerprint: str


def _fingerprint(key: rsa.RSAPublicKey) -> str:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _request_target(request: Request) -> str:
    """The path and query exactly as sent on the wire (§9.2)."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _v1_nonce(signature_hex: str) -> str:
    """The key under which an accepted v1 signature is remembered in the v2 nonce store.

    RSA-PSS signing is randomised (a fresh salt each time: the upstream Go runner's
    ``rsa.SignPSS(rand.Reader, ...)`` in flomation-co/runner: internal/runner/service.go), so
    a runner never sends the same v1 signature twice; a repeat is a replay of a captured
    request (§8.1 A4). The decoded bytes are hashed so that another spelling of
    the same signature (upper case hex) is the same entry; the prefix keeps these apart from
    v2 nonces, which are 32 hex characters.
    """
    decoded = bytes.fromhex(signature_hex.strip())  # verify_v1 accepted it, so it decodes
    return "v1:" + hashlib.sha256(decoded).hexdigest()


def v1_claim_staleness(body: bytes, now_s: float, window_s: int) -> str | None:
    """Why a claim signed with v1 only is not current, or None when it is.

    A v1 signature covers only the body, and the store forgets an accepted signature after the
    nonce retention (at least twice ``window_s``, see ``ServerSettings``), so a claim captured
    on the wire could otherwise take another execution later. The body's ``requested_at``
    (the time the runner made it, docs/protocol.md §4.2; the Go runner sends
    ``time.Now().UTC()``, flomation-co/runner: internal/runner/service.go) bounds that: a claim
    is accepted only within ``window_s`` of the server's clock, as a v2 ``t`` is (§9.3).
    """
    try:
        requested_at = ClaimRequest.model_validate_json(body).requested_at
        moment = datetime.fromisoformat(requested_at)
    except ValueError:
        return "a claim signed with v1 only needs an RFC 3339 requested_at"
    if moment.tzinfo is None:
        return "a claim signed with v1 only needs requested_at with a time zone"
    if abs(moment.timestamp() - now_s) > window_s:
        return "requested_at of a claim signed with v1 only is outside the allowed window"
    return None


class RequestVerifier:
    """Checks v1 and v2 signatures; remembers v2 nonces in the shared database."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        *,
        require_v2: bool,
        window_s: int,
    ) -> None:
        self._store = store
        self._clock = clock
        self._require_v2 = require_v2
        self._window_s = window_s
        self._keys: dict[str, VerifiedKey] = {}

    def key(self, pem: str) -> VerifiedKey:
        """The parsed key of a stored PEM (KeyFormatError if unusable)."""
        cached = self._keys.get(pem)
        if cached is None:
            if len(self._keys) >= _KEY_CACHE_LIMIT:
                self._keys.clear()
            public = load_public_key_pem(pem)
            cached = VerifiedKey(public, _fingerprint(public))
            self._keys[pem] = cached
        return cached

    async def verify(
        self,
        request: Request,
        body: bytes,
        v1_message: bytes,
        key: VerifiedKey,
        *,
        v1_single_use: bool = True,
        defer_nonce: bool = False,
    ) -> SignatureNonce | None:
        """Raise SignatureError unless the request is signed with ``key`` (§3.1-§3.3, §9.3).

        A request signed with v1 only is refused when the same signature was already accepted
        within the nonce retention (``v1_single_use``), see :func:`_v1_nonce`. The nonce is
        recorded here, or with ``defer_nonce`` returned for the caller to pass to its store
        operation, which records it with its write and refuses a replay itself.
        """
        v1 = request.headers.get(SIGNATURE_HEADER) or request.query_params.get("token") or ""
        v2_text = request.headers.get(SIGNATURE_V2_HEADER)
        if v2_text:
            try:
                header = parse_v2_header(v2_text)
            except V2HeaderError as exc:
                raise SignatureError(f"malformed v2 signature: {exc}") from exc
            now_s = self._clock()
            if abs(now_s - header.timestamp_s) > self._window_s:
                raise SignatureError("v2 signature timestamp is outside the allowed window")
            target = _request_target(request)
            if not verify_v2(key.key, header, request.method, target, body):
                raise SignatureError("invalid v2 signature")
            if v1 and not verify_v1(key.key, v1_message, v1):
                raise SignatureError("invalid signature")
            nonce = SignatureNonce(
                key.fingerprint, header.nonce, now_s, "replayed v2 signature nonce"
            )
        else:
            if self._require_v2:
                raise SignatureError("a v2 signature is required")
            if not v1:
                raise SignatureError("missing signature")
            if not verify_v1(key.key, v1_message, v1):
                raise SignatureError("invalid signature")
            if not v1_single_use:
                return None
            nonce = SignatureNonce(
                key.fingerprint, _v1_nonce(v1), self._clock(), "replayed v1 signature"
            )
        if defer_nonce:
            return nonce
        if not await self._store.remember_nonce(nonce.key_id, nonce.nonce, nonce.seen_at_s):
            raise SignatureError(nonce.refusal)
        return None

    def is_signed(self, request: Request) -> bool:
        """True when the request carries any signature (header or ``?token=``)."""
        return bool(
            request.headers.get(SIGNATURE_HEADER)
            or request.headers.get(SIGNATURE_V2_HEADER)
            or request.query_params.get("token")
        )


def bearer_token(request: Request) -> str | None:
    """The credentials of ``Authorization: Bearer <token>``, None for any other header.

    The scheme is matched without regard to case (RFC 7235 section 2.1: ``bearer`` and
    ``BEARER`` are ``Bearer``).
    """
    scheme, _, credentials = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def tokens_equal(supplied: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (any text, never raises)."""
    return hmac.compare_digest(
        supplied.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def admin_authorised(request: Request, admin_token: str) -> bool:
    """Constant-time check of ``Authorization: Bearer <admin_token>`` (any case of the scheme)."""
    return tokens_equal(bearer_token(request) or "", admin_token)


def _is_trusted(address: str, trusted_proxies: tuple[str, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies)


def client_ip(request: Request, trusted_proxies: tuple[str, ...]) -> str | None:
    """The peer address; ``X-Forwarded-For`` only when the peer is a trusted proxy (§8.1 A14)."""
    peer = request.client.host if request.client else None
    if peer is None or not trusted_proxies:
        return peer
    if not _is_trusted(peer, trusted_proxies):
        return peer
    forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",")]
    for address in reversed([part for part in forwarded if part]):
        if not _is_trusted(address, trusted_proxies):
            return address
    return peer


def served_over_tls(request: Request, trusted_proxies: tuple[str, ...]) -> bool:
    """True for a request that came over TLS: to this server, or to a trusted proxy that says
    so in ``X-Forwarded-Proto`` (the proxy nearest the server speaks last)."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else None
    if peer is None or not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return False
    protocols = request.headers.get("x-forwarded-proto", "").split(",")
    return protocols[-1].strip().lower() == "https"
