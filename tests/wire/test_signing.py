"""Tests of v1 and v2 request signatures (docs/protocol.md §3 and §9)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from flomation.wire import signing

KEY = signing.generate_private_key()
OTHER_KEY = signing.generate_private_key()


def test_v1_signature_verifies_and_uses_go_maximum_salt() -> None:
    """A v1 signature verifies with auto salt and with the exact Go salt length (k - 34)."""
    body = b'{"requested_at":"2026-11-27T10:00:00.123Z"}'
    signature = signing.sign_v1(KEY, body)
    assert signature == signature.lower()
    assert signing.verify_v1(KEY.public_key(), body, signature)
    go_salt = KEY.key_size // 8 - 32 - 2
    KEY.public_key().verify(
        bytes.fromhex(signature),
        body,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=go_salt),
        hashes.SHA256(),
    )


def test_v1_accepts_other_salt_lengths_and_upper_case_hex() -> None:
    """Verification auto-detects the salt (Go FIPS mode uses 32 bytes) and takes upper-case hex."""
    message = b"3f1c0b7e-0000-4000-8000-000000000000"
    fips_style = KEY.sign(
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    ).hex()
    assert signing.verify_v1(KEY.public_key(), message, fips_style.upper())


def test_v1_rejects_other_key_other_message_and_garbage() -> None:
    """A signature fails for another key, another message, non-hex text and the empty string."""
    signature = signing.sign_v1(KEY, b"a")
    assert not signing.verify_v1(OTHER_KEY.public_key(), b"a", signature)
    assert not signing.verify_v1(KEY.public_key(), b"b", signature)
    assert not signing.verify_v1(KEY.public_key(), b"a", "zz-not-hex")
    assert not signing.verify_v1(KEY.public_key(), b"a", "")


def test_v2_header_binds_method_path_body_and_time() -> None:
    """A v2 signature verifies only for the exact method, target and body it was made for."""
    header = signing.sign_v2(KEY, "post", "/api/v1/execution/abc/logs", b'{"lines":[]}')
    parsed = signing.parse_v2_header(header)
    public = KEY.public_key()
    path, body = "/api/v1/execution/abc/logs", b'{"lines":[]}'
    assert signing.verify_v2(public, parsed, "POST", path, body)
    assert not signing.verify_v2(public, parsed, "POST", path.replace("abc", "xyz"), body)
    assert not signing.verify_v2(public, parsed, "GET", path, body)
    assert not signing.verify_v2(public, parsed, "POST", path, b"{}")


def test_v2_message_layout_matches_the_spec() -> None:
    """The signed v2 message is the six spec fields joined by newlines, with the empty-body hash."""
    message = signing.v2_message("get", "/p?token=ab", 1700000000, "0" * 32, b"")
    assert message.decode().split("\n") == [
        "FLOMATION-RUNNER-V2",
        "GET",
        "/p?token=ab",
        "1700000000",
        "0" * 32,
        hashlib.sha256(b"").hexdigest(),
    ]
    assert hashlib.sha256(b"").hexdigest().startswith("e3b0c442")


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("t=1,n=" + "a" * 32, "missing"),
        ("t=1,t=2,n=" + "a" * 32 + ",s=00", "duplicated"),
        ("t=x,n=" + "a" * 32 + ",s=00", "timestamp"),
        ("t=1,n=short,s=00", "nonce"),
        ("t=1,n=" + "a" * 32 + ",s=00,q=1", "malformed"),
        ("", "malformed"),
    ],
)
def test_v2_header_parse_errors_name_the_problem(header: str, problem: str) -> None:
    """Malformed, duplicated or missing v2 parts are rejected with a message naming the problem."""
    with pytest.raises(signing.V2HeaderError, match=problem):
        signing.parse_v2_header(header)


def test_v2_header_parts_in_any_order() -> None:
    """The three v2 parts are accepted in any order."""
    nonce = "b" * 32
    parsed = signing.parse_v2_header(f"s=abcd, n={nonce}, t=42")
    assert parsed == signing.V2Header(42, nonce, "abcd")


def test_private_keys_load_as_pkcs1_and_pkcs8_and_reject_others() -> None:
    """PKCS#1 and PKCS#8 RSA keys load; EC, encrypted and non-PEM keys are rejected clearly."""
    pkcs1 = signing.private_key_pem_pkcs1(KEY)
    assert pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert signing.load_private_key_pem(pkcs1).private_numbers() == KEY.private_numbers()
    pkcs8 = KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert signing.load_private_key_pem(pkcs8).private_numbers() == KEY.private_numbers()
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(signing.KeyFormatError, match="not an RSA key"):
        signing.load_private_key_pem(ec_pem)
    encrypted = KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(signing.KeyFormatError, match="encrypted"):
        signing.load_private_key_pem(encrypted)
    with pytest.raises(signing.KeyFormatError, match="PEM block"):
        signing.load_private_key_pem(b"hello")


def test_public_key_pem_is_spki_and_loads_back() -> None:
    """The public key is sent as SPKI PEM with 64-character lines and a trailing newline."""
    pem = signing.public_key_pem(KEY)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert pem.endswith("-----END PUBLIC KEY-----\n")
    assert all(len(line) <= 64 for line in pem.splitlines())
    assert signing.load_public_key_pem(pem).public_numbers() == KEY.public_key().public_numbers()


def test_short_and_non_rsa_public_keys_are_refused() -> None:
    """Public keys under 2048 bits or not RSA are refused (docs/protocol.md §8.1 A3)."""
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(signing.KeyFormatError, match="1024 bits"):
        signing.load_public_key_pem(signing.public_key_pem(small))
    ec_public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(signing.KeyFormatError, match="not an RSA key"):
        signing.load_public_key_pem(ec_public)
    with pytest.raises(signing.KeyFormatError, match="unreadable"):
        signing.load_public_key_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=512))
def test_any_body_round_trips_through_v1(body: bytes) -> None:
    """Any body signed with v1 verifies, and flipping one byte breaks it."""
    signature = signing.sign_v1(KEY, body)
    assert signing.verify_v1(KEY.public_key(), body, signature)
    tampered = body + b"x" if not body else bytes([body[0] ^ 1]) + body[1:]
    assert not signing.verify_v1(KEY.public_key(), tampered, signature)
