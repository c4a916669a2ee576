"""Runner identity: flo.state and the RSA key are created once, kept, and never replaced."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from structlog.testing import capture_logs

from flomation.runner.identity import (
    IdentityError,
    load_or_create_identifier,
    load_or_create_key,
)
from flomation.wire.signing import (
    load_public_key_pem,
    private_key_pem_pkcs1,
    sign_v1,
    verify_v1,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """One RSA-2048 key shared by the tests that only need some valid key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_identifier_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    """A missing flo.state is created: 16 letters, JSON, mode 0600, directory 0750."""
    state_file = tmp_path / "state" / "nested" / "flo.state"

    identifier = load_or_create_identifier(state_file)

    assert re.fullmatch(r"[A-Za-z]{16}", identifier)
    assert json.loads(state_file.read_text()) == {"identifier": identifier}
    assert _mode(state_file) == 0o600
    assert _mode(state_file.parent) & 0o027 == 0
    assert [p.name for p in state_file.parent.iterdir()] == ["flo.state"]


def test_identifier_is_kept_across_loads(tmp_path: Path) -> None:
    """A second load returns the stored identifier and leaves the file untouched."""
    state_file = tmp_path / "flo.state"
    first = load_or_create_identifier(state_file)
    content = state_file.read_bytes()

    second = load_or_create_identifier(state_file)

    assert second == first
    assert state_file.read_bytes() == content


def test_existing_upstream_state_file_is_used(tmp_path: Path) -> None:
    """A flo.state written by the Go runner is read as-is."""
    state_file = tmp_path / "flo.state"
    state_file.write_text('{"identifier":"qWeRtYuIoPaSdFgH"}')

    assert load_or_create_identifier(state_file) == "qWeRtYuIoPaSdFgH"


def test_identifiers_differ_between_runners(tmp_path: Path) -> None:
    """Two fresh state files get different identifiers."""
    first = load_or_create_identifier(tmp_path / "a" / "flo.state")
    second = load_or_create_identifier(tmp_path / "b" / "flo.state")

    assert first != second


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"not json", "not valid JSON"),
        (b'{"id": "abc"}', "no 'identifier' string"),
        (b'{"identifier": ""}', "no 'identifier' string"),
        (b'["identifier"]', "no 'identifier' string"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_invalid_state_file_is_an_error_and_kept(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    """An invalid flo.state raises IdentityError naming the file and is never replaced (R15)."""
    state_file = tmp_path / "flo.state"
    state_file.write_bytes(content)

    with pytest.raises(IdentityError) as error:
        load_or_create_identifier(state_file)

    assert str(state_file) in str(error.value)
    assert problem in str(error.value)
    assert state_file.read_bytes() == content


def test_unreadable_state_file_is_an_error(tmp_path: Path) -> None:
    """A flo.state that cannot be read (here: a directory) is an IdentityError."""
    state_file = tmp_path / "flo.state"
    state_file.mkdir()

    with pytest.raises(IdentityError, match="cannot be read"):
        load_or_create_identifier(state_file)


def test_state_file_in_unwritable_place_is_an_error(tmp_path: Path) -> None:
    """A state file that cannot be created is an IdentityError naming it."""
    (tmp_path / "a-file").write_text("")

    with pytest.raises(IdentityError, match="cannot be written"):
        load_or_create_identifier(tmp_path / "a-file" / "flo.state")


def test_missing_key_is_generated_as_pkcs1_with_mode_0600(tmp_path: Path) -> None:
    """A missing key file gets a fresh RSA-2048 PKCS#1 PEM key, mode 0600."""
    path = tmp_path / "keys" / "flomation-runner.pem"

    loaded = load_or_create_key(path)

    text = path.read_text()
    assert text.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert _mode(path) == 0o600
    assert loaded.path == path
    assert loaded.private_key.key_size == 2048
    assert loaded.private_key.public_key().public_numbers().e == 65537
    assert loaded.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    public = load_public_key_pem(loaded.public_key_pem)
    assert verify_v1(public, b"body", sign_v1(loaded.private_key, b"body"))


def test_generated_key_is_kept_across_loads(tmp_path: Path) -> None:
    """Loading again returns the same key and leaves the file untouched."""
    path = tmp_path / "flomation-runner.pem"
    first = load_or_create_key(path)
    content = path.read_bytes()

    second = load_or_create_key(path)

    assert second.public_key_pem == first.public_key_pem
    assert path.read_bytes() == content


def test_relative_key_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey
) -> None:
    """LoadedKey.path is absolute even when given a relative path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runner.pem").write_bytes(private_key_pem_pkcs1(rsa_key))

    loaded = load_or_create_key(Path("runner.pem"))

    assert loaded.path == tmp_path / "runner.pem"


@pytest.mark.parametrize("encoding", ["pkcs1", "pkcs8"])
def test_existing_rsa_key_loads_in_both_encodings(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, encoding: str
) -> None:
    """An existing PKCS#1 or PKCS#8 RSA key is loaded, not replaced (R6)."""
    path = tmp_path / "runner.pem"
    data = private_key_pem_pkcs1(rsa_key) if encoding == "pkcs1" else _pkcs8(rsa_key)
    path.write_bytes(data)
    path.chmod(0o600)

    loaded = load_or_create_key(path)

    assert loaded.private_key.private_numbers() == rsa_key.private_numbers()
    assert path.read_bytes() == data


def test_ec_key_is_rejected(tmp_path: Path) -> None:
    """A PKCS#8 key that is not RSA is an IdentityError naming the file."""
    path = tmp_path / "runner.pem"
    path.write_bytes(_pkcs8(ec.generate_private_key(ec.SECP256R1())))

    with pytest.raises(IdentityError) as error:
        load_or_create_key(path)

    assert str(error.value) == f"key file {path}: the PKCS#8 key is not an RSA key"


def test_encrypted_key_is_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """A password-protected key is an IdentityError saying it is encrypted."""
    path = tmp_path / "runner.pem"
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"password"),
        )
    )

    with pytest.raises(IdentityError, match=f"key file {re.escape(str(path))}: .*encrypted"):
        load_or_create_key(path)


@pytest.mark.parametrize(
    "content",
    [
        b"garbage",
        b"",
        b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_garbage_key_is_rejected_and_kept(tmp_path: Path, content: bytes) -> None:
    """An unparseable key file is an IdentityError naming the file, and is not overwritten."""
    path = tmp_path / "runner.pem"
    path.write_bytes(content)

    with pytest.raises(IdentityError) as error:
        load_or_create_key(path)

    assert str(error.value).startswith(f"key file {path}: ")
    assert path.read_bytes() == content


def test_short_rsa_key_is_rejected(tmp_path: Path) -> None:
    """An RSA key under 2048 bits is rejected, since the server would refuse it."""
    path = tmp_path / "runner.pem"
    path.write_bytes(
        private_key_pem_pkcs1(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    )

    with pytest.raises(IdentityError, match="1024 bits; 2048 is the minimum"):
        load_or_create_key(path)


def test_group_or_world_readable_key_logs_a_warning(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    """A key file readable by group or others loads, with a warning naming it."""
    path = tmp_path / "runner.pem"
    path.write_bytes(private_key_pem_pkcs1(rsa_key))
    path.chmod(0o644)

    with capture_logs() as logs:
        load_or_create_key(path)

    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["path"] == str(path)
    assert warnings[0]["mode"] == "0o644"


def test_private_key_file_logs_no_warning(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """A mode-0600 key file loads without a warning."""
    path = tmp_path / "runner.pem"
    path.write_bytes(private_key_pem_pkcs1(rsa_key))
    path.chmod(0o600)

    with capture_logs() as logs:
        load_or_create_key(path)

    assert [entry for entry in logs if entry["log_level"] == "warning"] == []
