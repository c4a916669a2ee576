"""Files kept beside the database: the generated admin token and the secret-value key.

Both are created once with mode 0600 and reused on later starts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flomation.server.crypto_box import SecretBox, decode_secret_key, encode_secret_key

__all__ = ["ADMIN_TOKEN_FILE", "SECRET_KEY_FILE", "admin_token", "secret_key"]

ADMIN_TOKEN_FILE = "admin-token"
SECRET_KEY_FILE = "secret-key"


def _read_or_create(path: Path, make: str) -> tuple[str, bool]:
    """The file's stripped text, creating it (0600, exclusively) with ``make`` if missing."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise ValueError(f"{path} is empty; delete it to generate a new one") from None
        return text, False
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(make + "\n")
    return make, True


def admin_token(configured: str | None, directory: Path) -> tuple[str, bool]:
    """The configured token, else the one stored in ``directory`` (generated on first start).

    Returns the token and whether it was generated just now (so the caller prints it once).
    """
    if configured:
        return configured, False
    directory.mkdir(parents=True, exist_ok=True)
    return _read_or_create(directory / ADMIN_TOKEN_FILE, secrets.token_urlsafe(32))


def secret_key(configured: str | None, directory: Path) -> bytes:
    """The configured base64 key, else the key file in ``directory`` (generated if missing)."""
    if configured:
        return decode_secret_key(configured)
    directory.mkdir(parents=True, exist_ok=True)
    text, _ = _read_or_create(
        directory / SECRET_KEY_FILE, encode_secret_key(SecretBox.generate_key())
    )
    return decode_secret_key(text)
