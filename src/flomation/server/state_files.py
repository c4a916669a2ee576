"""The database's directory and the files kept in it: the database itself (with SQLite's
``-wal`` and ``-shm``), the generated admin token and the secret-value key.

They hold registration codes, environment properties, results and the keys to the secrets:
the directory is created 0700 and every file 0600, before anything is written to them, and
files found open to other users at start are reported (:func:`exposed_files`).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flomation.server.crypto_box import SecretBox, decode_secret_key, encode_secret_key

__all__ = [
    "ADMIN_TOKEN_FILE",
    "SECRET_KEY_FILE",
    "admin_token",
    "create_private_database",
    "exposed_files",
    "secret_key",
]

ADMIN_TOKEN_FILE = "admin-token"
SECRET_KEY_FILE = "secret-key"
_PRIVATE_DIRECTORY_MODE = 0o700
_PRIVATE_FILE_MODE = 0o600
_OTHERS_BITS = 0o077
# SQLite's companions of a WAL-mode database (https://sqlite.org/wal.html, "files on disk").
_SQLITE_COMPANIONS = ("-wal", "-shm")


def _private_directory(directory: Path) -> None:
    """Create ``directory`` (and missing parents) 0700; an existing one is left as it is."""
    directory.mkdir(parents=True, exist_ok=True, mode=_PRIVATE_DIRECTORY_MODE)


def create_private_database(path: Path) -> None:
    """Create the database's directory (0700) and an empty database file (0600) if missing.

    SQLite creates a new database 0644 and gives its ``-wal`` and ``-shm`` files the mode of
    the database file (``findCreateFileMode`` in SQLite's os_unix.c), so creating the empty
    file 0600 before SQLite opens it makes all three private without touching the process's
    umask, which other threads share.
    """
    _private_directory(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    os.close(descriptor)


def exposed_files(database: Path) -> list[tuple[Path, int]]:
    """The database's directory and files that other users may access, with their modes."""
    candidates = [database.parent, database]
    candidates += [database.with_name(database.name + suffix) for suffix in _SQLITE_COMPANIONS]
    candidates += [database.parent / ADMIN_TOKEN_FILE, database.parent / SECRET_KEY_FILE]
    exposed: list[tuple[Path, int]] = []
    for candidate in candidates:
        try:
            mode = candidate.stat().st_mode & 0o777
        except FileNotFoundError:
            continue
        if mode & _OTHERS_BITS:
            exposed.append((candidate, mode))
    return exposed


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
    _private_directory(directory)
    return _read_or_create(directory / ADMIN_TOKEN_FILE, secrets.token_urlsafe(32))


def secret_key(configured: str | None, directory: Path) -> bytes:
    """The configured base64 key, else the key file in ``directory`` (generated if missing)."""
    if configured:
        return decode_secret_key(configured)
    _private_directory(directory)
    text, _ = _read_or_create(
        directory / SECRET_KEY_FILE, encode_secret_key(SecretBox.generate_key())
    )
    return decode_secret_key(text)
