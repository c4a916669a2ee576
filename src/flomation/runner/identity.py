"""The runner's identity: the identifier in ``flo.state`` and the RSA key (docs/protocol.md §2).

Both are created once, written atomically with mode 0600, and then kept forever: an unreadable
or invalid file is an :class:`IdentityError`, never silently replaced (defects R6 and R15),
because a new identity orphans the runner's registration on the server.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import string
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric import rsa

from flomation.wire.signing import (
    MIN_KEY_BITS,
    KeyFormatError,
    generate_private_key,
    load_private_key_pem,
    private_key_pem_pkcs1,
    public_key_pem,
)

__all__ = ["IdentityError", "LoadedKey", "load_or_create_identifier", "load_or_create_key"]

_IDENTIFIER_ALPHABET = string.ascii_letters
_IDENTIFIER_LENGTH = 16
_FILE_MODE = 0o600
_DIRECTORY_MODE = 0o750

_log = structlog.get_logger(__name__)


class IdentityError(Exception):
    """The state file or the key cannot be read, parsed or written; the message names the file."""


@dataclass(frozen=True)
class LoadedKey:
    """The runner's private key, its SPKI PEM public key, and the key file's absolute path."""

    private_key: rsa.RSAPrivateKey
    public_key_pem: str
    path: Path


def _create_exclusively(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically with mode 0600, unless the file appeared meanwhile.

    The content goes to a temporary file in the same directory, is fsync'd, and is then
    hard-linked into place, which fails when another process created ``path`` first; the
    winner's file is kept and False is returned.
    """
    directory = path.parent
    directory.mkdir(mode=_DIRECTORY_MODE, parents=True, exist_ok=True)
    temporary = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        except OSError:
            # Some filesystems (SMB/CIFS, vfat) have no hard links: fall back to a rename,
            # which is atomic but gives up the first-writer-wins guarantee.
            temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(directory)
    return True


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _new_identifier() -> str:
    return "".join(secrets.choice(_IDENTIFIER_ALPHABET) for _ in range(_IDENTIFIER_LENGTH))


def _read_identifier(state_file: Path) -> str:
    try:
        raw = state_file.read_bytes()
    except OSError as exc:
        raise IdentityError(f"state file {state_file}: cannot be read: {exc.strerror}") from exc
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IdentityError(
            f"state file {state_file}: not valid JSON; restore it, or delete it to enrol "
            "as a new runner"
        ) from exc
    identifier = document.get("identifier") if isinstance(document, dict) else None
    if not isinstance(identifier, str) or not identifier.strip():
        raise IdentityError(
            f"state file {state_file}: no 'identifier' string; restore it, or delete it to "
            "enrol as a new runner"
        )
    return identifier


def load_or_create_identifier(state_file: Path, go_state_file: Path | None = None) -> str:
    """The runner identifier from ``flo.state``; created (16 random letters) only when absent.

    ``go_state_file`` is where the upstream Go runner keeps it when ``state_directory`` has no
    trailing slash (it concatenates strings: ``./st`` + ``flo.state`` = ``./stflo.state``). When
    ``state_file`` is missing and that file exists, its identifier is adopted: copied to
    ``state_file`` (the Go runner's file stays, for a roll-back) and logged, so a runner that
    replaces the Go runner keeps its identity instead of registering a second runner.
    """
    if not state_file.exists() and go_state_file is not None and go_state_file.is_file():
        identifier = _read_identifier(go_state_file)
        content = json.dumps({"identifier": identifier}).encode("utf-8")
        try:
            _create_exclusively(state_file, content)
        except OSError as exc:
            raise IdentityError(
                f"state file {state_file}: cannot be written: {exc.strerror}"
            ) from exc
        _log.warning(
            "adopted the Go runner's identity from its concatenated state path",
            go_state_file=str(go_state_file),
            state_file=str(state_file),
        )
    if not state_file.exists():
        identifier = _new_identifier()
        content = json.dumps({"identifier": identifier}).encode("utf-8")
        try:
            created = _create_exclusively(state_file, content)
        except OSError as exc:
            raise IdentityError(
                f"state file {state_file}: cannot be written: {exc.strerror}"
            ) from exc
        if created:
            _log.info("created runner identity", state_file=str(state_file))
            return identifier
    return _read_identifier(state_file)


def _warn_if_exposed(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning(
            "private key file is accessible to group or others; chmod 600 it",
            path=str(path),
            mode=oct(stat.S_IMODE(mode)),
        )


def _read_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"key file {path}: cannot be read: {exc.strerror}") from exc
    try:
        key = load_private_key_pem(data)
    except KeyFormatError as exc:
        raise IdentityError(f"key file {path}: {exc}") from exc
    if key.key_size < MIN_KEY_BITS:
        raise IdentityError(
            f"key file {path}: the RSA key has {key.key_size} bits; {MIN_KEY_BITS} is the minimum"
        )
    _warn_if_exposed(path)
    return key


def load_or_create_key(path: Path) -> LoadedKey:
    """Load the RSA key at ``path`` (PKCS#1 or PKCS#8 PEM), generating RSA-2048 when absent."""
    path = path.absolute()
    if not path.exists():
        key = generate_private_key()
        try:
            created = _create_exclusively(path, private_key_pem_pkcs1(key))
        except OSError as exc:
            raise IdentityError(f"key file {path}: cannot be written: {exc.strerror}") from exc
        if created:
            _log.info("generated runner key", path=str(path), bits=key.key_size)
            return LoadedKey(key, public_key_pem(key), path)
    key = _read_key(path)
    return LoadedKey(key, public_key_pem(key), path)
