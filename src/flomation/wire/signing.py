"""RSA-PSS request signatures: v1 (upstream) and the v2 binding extension (docs/protocol.md §3, §9).

v1 signs the exact body bytes of a POST, or the UTF-8 execution id of a GET, with RSASSA-PSS,
SHA-256, MGF1-SHA-256 and the maximum salt length (what Go's signer produces). Verification
auto-detects the salt length so that Go runners and FIPS-mode signers are both accepted.

v2 signs ``FLOMATION-RUNNER-V2\\n<METHOD>\\n<path?query>\\n<t>\\n<nonce>\\n<sha256(body)>``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "SIGNATURE_HEADER",
    "SIGNATURE_V2_HEADER",
    "V2_ACCEPTED_HEADER",
    "KeyFormatError",
    "V2Header",
    "V2HeaderError",
    "generate_private_key",
    "load_private_key_pem",
    "load_public_key_pem",
    "parse_v2_header",
    "private_key_pem_pkcs1",
    "public_key_pem",
    "sign_v1",
    "sign_v2",
    "v2_message",
    "verify_v1",
    "verify_v2",
]

SIGNATURE_HEADER = "X-Flomation-Runner-Signature"
SIGNATURE_V2_HEADER = "X-Flomation-Runner-Signature-V2"
# On claim answers of a server that verifies v2 and accepts it without v1 (docs/protocol.md §9.4).
V2_ACCEPTED_HEADER = "X-Flomation-Signature-V2-Accepted"
V2_PREFIX = "FLOMATION-RUNNER-V2"
MIN_KEY_BITS = 2048


class KeyFormatError(ValueError):
    """A PEM file or string that is not a usable RSA key."""


def generate_private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A fresh RSA key with public exponent 65537."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_key_pem_pkcs1(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#1 PEM (``-----BEGIN RSA PRIVATE KEY-----``), unencrypted, as the Go runner writes it."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def load_private_key_pem(data: bytes) -> rsa.RSAPrivateKey:
    """Load an unencrypted PKCS#1 or PKCS#8 RSA private key; anything else is a KeyFormatError."""
    text = data.lstrip()
    if text.startswith(b"-----BEGIN RSA PRIVATE KEY-----"):
        kind = "PKCS#1"
    elif text.startswith(b"-----BEGIN PRIVATE KEY-----"):
        kind = "PKCS#8"
    elif text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"):
        raise KeyFormatError("the key is encrypted; an unencrypted RSA key is required")
    else:
        first = text.split(b"\n", 1)[0][:60].decode("ascii", "replace")
        raise KeyFormatError(
            f"expected an 'RSA PRIVATE KEY' or 'PRIVATE KEY' PEM block, found {first!r}"
        )
    try:
        key = serialization.load_pem_private_key(text, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"unreadable {kind} key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError(f"the {kind} key is not an RSA key")
    return key


def load_public_key_pem(data: str | bytes) -> rsa.RSAPublicKey:
    """Load a ``PUBLIC KEY`` (SPKI) or ``RSA PUBLIC KEY`` (PKCS#1) PEM; RSA of 2048 bits or more."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        key = serialization.load_pem_public_key(raw.strip())
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"unreadable public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFormatError("the public key is not an RSA key")
    if key.key_size < MIN_KEY_BITS:
        raise KeyFormatError(f"the RSA key has {key.key_size} bits; {MIN_KEY_BITS} is the minimum")
    return key


def public_key_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """SPKI PEM (``-----BEGIN PUBLIC KEY-----``, 64-character lines, trailing newline)."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    signature = key.sign(
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
        hashes.SHA256(),
    )
    return signature.hex()


def _verify(key: rsa.RSAPublicKey, message: bytes, signature_hex: str) -> bool:
    try:
        signature = bytes.fromhex(signature_hex.strip())
    except ValueError:
        return False
    if not signature:
        return False
    try:
        key.verify(
            signature,
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return False
    return True


def sign_v1(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Lower-case hex v1 signature of ``message`` (a POST body, or a GET's execution id)."""
    return _sign(key, message)


def verify_v1(key: rsa.RSAPublicKey, message: bytes, signature_hex: str) -> bool:
    """True when ``signature_hex`` (either case) is a valid v1 signature of ``message``."""
    return _verify(key, message, signature_hex)


def v2_message(method: str, target: str, timestamp_s: int, nonce: str, body: bytes) -> bytes:
    """The exact bytes a v2 signature covers (docs/protocol.md §9.2)."""
    return "\n".join(
        (
            V2_PREFIX,
            method.upper(),
            target,
            str(timestamp_s),
            nonce,
            hashlib.sha256(body).hexdigest(),
        )
    ).encode("utf-8")


def sign_v2(
    key: rsa.RSAPrivateKey,
    method: str,
    target: str,
    body: bytes,
    *,
    timestamp_s: int | None = None,
    nonce: str | None = None,
) -> str:
    """The full ``X-Flomation-Runner-Signature-V2`` header value for one request.

    ``target`` is the request path with its query, exactly as sent on the wire.
    """
    t = int(time.time()) if timestamp_s is None else timestamp_s
    n = secrets.token_hex(16) if nonce is None else nonce
    signature = _sign(key, v2_message(method, target, t, n, body))
    return f"t={t},n={n},s={signature}"


class V2HeaderError(ValueError):
    """A v2 header with a missing, duplicated or malformed part."""


@dataclass(frozen=True)
class V2Header:
    """The parsed parts of a v2 signature header."""

    timestamp_s: int
    nonce: str
    signature_hex: str


def parse_v2_header(value: str) -> V2Header:
    """Parse ``t=..,n=..,s=..`` (any order); raise V2HeaderError on anything malformed."""
    parts: dict[str, str] = {}
    for item in value.split(","):
        name, sep, part = item.strip().partition("=")
        if not sep or name not in ("t", "n", "s") or not part:
            raise V2HeaderError(f"malformed signature part {item.strip()!r}")
        if name in parts:
            raise V2HeaderError(f"duplicated signature part {name!r}")
        parts[name] = part
    missing = {"t", "n", "s"} - parts.keys()
    if missing:
        raise V2HeaderError(f"missing signature part(s) {sorted(missing)}")
    if not parts["t"].isdigit():
        raise V2HeaderError("signature timestamp 't' is not a whole number of seconds")
    if len(parts["n"]) != 32 or any(c not in "0123456789abcdef" for c in parts["n"]):
        raise V2HeaderError("signature nonce 'n' must be 32 lower-case hex characters")
    return V2Header(int(parts["t"]), parts["n"], parts["s"])


def verify_v2(
    key: rsa.RSAPublicKey, header: V2Header, method: str, target: str, body: bytes
) -> bool:
    """True when the v2 signature covers this method, target, body, timestamp and nonce."""
    message = v2_message(method, target, header.timestamp_s, header.nonce, body)
    return _verify(key, message, header.signature_hex)
