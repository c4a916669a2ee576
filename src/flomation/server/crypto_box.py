"""AES-GCM sealing of secret and credential values at rest (docs/protocol.md §10.5).

The associated data binds a ciphertext to its environment, kind and name, so a sealed value
copied to another row does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["SecretBox", "SecretKeyError", "decode_secret_key", "encode_secret_key"]

_NONCE_BYTES = 12
_KEY_BYTES = 32


class SecretKeyError(ValueError):
    """A secret key that is not base64 of 32 bytes, or a value that fails to decrypt."""


def decode_secret_key(text: str) -> bytes:
    """The 32 raw key bytes of a base64 (standard or URL-safe) key string."""
    cleaned = text.strip()
    try:
        raw = base64.urlsafe_b64decode(cleaned.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError) as exc:
        raise SecretKeyError("the secret key must be base64 of 32 bytes") from exc
    if len(raw) != _KEY_BYTES:
        raise SecretKeyError(f"the secret key must be 32 bytes, got {len(raw)}")
    return raw


def encode_secret_key(raw: bytes) -> str:
    """URL-safe base64 text of a raw key (how key files are written)."""
    return base64.urlsafe_b64encode(raw).decode("ascii")


class SecretBox:
    """Seal and open short strings with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise SecretKeyError(f"the secret key must be 32 bytes, got {len(key)}")
        self._aead = AESGCM(key)

    @staticmethod
    def generate_key() -> bytes:
        """32 fresh random key bytes."""
        return AESGCM.generate_key(bit_length=256)

    def seal(self, plaintext: str, context: str) -> bytes:
        """``nonce || ciphertext+tag`` of ``plaintext``, bound to ``context``."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode())

    def open(self, sealed: bytes, context: str) -> str:
        """The plaintext; SecretKeyError when the key or context does not match."""
        try:
            plain = self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode()
            )
        except InvalidTag as exc:
            raise SecretKeyError("stored value cannot be decrypted with the server key") from exc
        return plain.decode("utf-8")
