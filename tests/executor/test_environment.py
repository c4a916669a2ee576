"""The environment client against a real HTTP API on 127.0.0.1.

See docs/flows.md §8, docs/protocol.md §9.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from fixtures.http_peer import HttpPeer, Recorded, Reply, http_peer
from flomation.executor.environment import EnvironmentClient
from flomation.wire.signing import (
    SIGNATURE_V2_HEADER,
    generate_private_key,
    parse_v2_header,
    private_key_pem_pkcs1,
    verify_v1,
    verify_v2,
)

EXECUTION_ID = "0b6f3c1e-7d2a-4c55-9a0e-3f1d2b4c5e6f"
ENV_PATH = f"/api/v1/execution/{EXECUTION_ID}/environment"

# What the fake API answers: raw path without query -> (status, JSON value or raw bytes).
Routes = dict[str, tuple[int, Any]]


@dataclass
class FakeApi:
    """The routes and the peer answering from them."""

    routes: Routes
    peer: HttpPeer

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.peer.port}"

    @property
    def seen(self) -> list[Recorded]:
        """Every request received, in order."""
        return self.peer.requests

    def paths(self) -> list[str]:
        """The paths (without query) requested so far, in order."""
        return [urlsplit(item.path).path for item in self.seen]


def _answer(routes: Routes, request: Recorded) -> Reply:
    status, payload = routes.get(urlsplit(request.path).path, (404, {"error": "not found"}))
    return status, {}, payload if isinstance(payload, bytes) else json.dumps(payload).encode()


@pytest.fixture
def api() -> Iterator[FakeApi]:
    """A real HTTP server answering from ``FakeApi.routes``."""
    routes: Routes = {f"{ENV_PATH}/prod": (200, {"id": "env-1", "name": "prod"})}
    with http_peer(functools.partial(_answer, routes)) as peer:
        yield FakeApi(routes, peer)


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    """One RSA key for the module (generation is slow)."""
    return generate_private_key()


class Clock:
    """A monotonic clock the test moves forward by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Logs:
    """Collects ``log(level, message, **fields)`` calls."""

    lines: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, level: str, message: str, **fields: Any) -> None:
        self.lines.append((level, message, fields))


def client(
    api: FakeApi,
    logs: Logs,
    *,
    key_path: str | None = None,
    token: str | None = None,
    user: str | None = None,
    password: str | None = None,
    clock: Clock | None = None,
) -> EnvironmentClient:
    """A client for environment ``prod`` of EXECUTION_ID against the fake API."""
    return EnvironmentClient(
        api.url + "/",
        EXECUTION_ID,
        "prod",
        key_path,
        token,
        user,
        password,
        api.url + "/identity",
        logs,
        clock=clock or Clock(),
    )


def test_key_signs_token_query_and_v2_header(
    api: FakeApi, private_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    """With --key every GET carries ?token= (v1 over the id, PSS) and a valid v2 header."""
    key_file = tmp_path / "runner.pem"
    key_file.write_bytes(private_key_pem_pkcs1(private_key))
    api.routes[f"{ENV_PATH}/env-1/property/FOO"] = (200, {"id": "p", "name": "FOO", "value": "bar"})
    api.routes[f"{ENV_PATH}/env-1/secret/TOKEN"] = (200, {"value": "s3cret"})
    logs = Logs()
    env = client(api, logs, key_path=str(key_file))
    assert env.resolve("env", "FOO") == "bar"
    assert env.resolve("secret", "TOKEN") == "s3cret"
    assert api.paths() == [
        f"{ENV_PATH}/prod",
        f"{ENV_PATH}/env-1/property/FOO",
        f"{ENV_PATH}/env-1/secret/TOKEN",
    ]
    public = private_key.public_key()
    tokens = {parse_qs(urlsplit(seen.path).query)["token"][0] for seen in api.seen}
    assert len(tokens) == 1, "the v1 signature is computed once per process"
    assert verify_v1(public, EXECUTION_ID.encode(), tokens.pop())
    for seen in api.seen:
        assert "Authorization" not in seen.headers
        header = parse_v2_header(seen.headers[SIGNATURE_V2_HEADER])
        assert verify_v2(public, header, "GET", seen.path, b"")
    assert logs.lines == []


def test_inline_pem_key_is_accepted(api: FakeApi, private_key: rsa.RSAPrivateKey) -> None:
    """A --key value starting with -----BEGIN is used as the PEM itself."""
    api.routes[f"{ENV_PATH}/env-1/property/FOO"] = (200, {"value": "bar"})
    env = client(api, Logs(), key_path=private_key_pem_pkcs1(private_key).decode())
    assert env.resolve("env", "FOO") == "bar"
    assert "token=" in api.seen[0].path


def test_unloadable_key_logs_error_and_drops_credentials(api: FakeApi, tmp_path: Path) -> None:
    """A bad --key logs `unable to load key` and requests go out with no credentials at all."""
    api.routes[f"{ENV_PATH}/env-1/property/FOO"] = (200, {"value": "bar"})
    logs = Logs()
    env = client(api, logs, key_path=str(tmp_path / "missing.pem"), token="ignored")
    assert env.resolve("env", "FOO") == "bar"
    assert [(level, message) for level, message, _ in logs.lines] == [
        ("error", "unable to load key")
    ]
    assert "missing.pem" in logs.lines[0][2]["error"]
    for seen in api.seen:
        assert "token=" not in seen.path and "Authorization" not in seen.headers
        assert SIGNATURE_V2_HEADER not in seen.headers


def test_bearer_token(api: FakeApi) -> None:
    """--token is sent as `Authorization: Bearer <token>` on every request."""
    api.routes[f"{ENV_PATH}/env-1/property/FOO"] = (200, {"value": "bar"})
    env = client(api, Logs(), token="tok-1")
    assert env.resolve("env", "FOO") == "bar"
    assert all(seen.headers["Authorization"] == "Bearer tok-1" for seen in api.seen)


def test_user_password_identity_flow(api: FakeApi) -> None:
    """user+password obtain a token from {identity}/api/token once, then use it as Bearer."""
    api.routes["/identity/api/token"] = (200, {"token": "from-identity"})
    api.routes[f"{ENV_PATH}/env-1/property/FOO"] = (200, {"value": "bar"})
    api.routes[f"{ENV_PATH}/env-1/property/BAZ"] = (200, {"value": "qux"})
    env = client(api, Logs(), user="ada", password="hash-1")
    assert env.resolve("env", "FOO") == "bar"
    assert env.resolve("env", "BAZ") == "qux"
    identity = [seen for seen in api.seen if seen.path == "/identity/api/token"]
    assert len(identity) == 1 and identity[0].method == "POST"
    assert json.loads(identity[0].body) == {"username": "ada", "hash": "hash-1"}
    others = [seen for seen in api.seen if seen.path != "/identity/api/token"]
    assert all(seen.headers["Authorization"] == "Bearer from-identity" for seen in others)


def test_identity_failure_continues_unauthenticated(api: FakeApi) -> None:
    """A failing identity call logs an error and the look-ups go out unauthenticated."""
    api.routes[f"{ENV_PATH}/env-1/property/FOO"] = (200, {"value": "bar"})
    logs = Logs()
    env = client(api, logs, user="ada", password="wrong")
    assert env.resolve("env", "FOO") == "bar"
    assert logs.lines[0][0] == "error" and "HTTP 404" in logs.lines[0][2]["error"]
    assert all("Authorization" not in seen.headers for seen in api.seen)


def test_property_and_secret_cached_for_30_seconds(api: FakeApi) -> None:
    """A property is fetched once within 30 s and again after; credentials are never cached."""
    api.routes[f"{ENV_PATH}/env-1/property/FOO"] = (200, {"value": "bar"})
    api.routes[f"{ENV_PATH}/env-1/credential/gh"] = (200, {"value": "access", "metadata": {}})
    clock = Clock()
    env = client(api, Logs(), clock=clock)
    for _ in range(3):
        assert env.resolve("env", "FOO") == "bar"
        assert env.resolve("credentials", "gh") == "access"
    clock.now += 29
    env.resolve("env", "FOO")
    assert api.paths().count(f"{ENV_PATH}/env-1/property/FOO") == 1
    clock.now += 2
    env.resolve("env", "FOO")
    assert api.paths().count(f"{ENV_PATH}/env-1/property/FOO") == 2
    assert api.paths().count(f"{ENV_PATH}/env-1/credential/gh") == 3
    assert api.paths().count(f"{ENV_PATH}/prod") == 1


def test_failed_identifier_lookup_is_retried(api: FakeApi) -> None:
    """A failed environment look-up logs a warning, returns None and is retried next time."""
    api.routes[f"{ENV_PATH}/prod"] = (403, b"")
    api.routes[f"{ENV_PATH}/env-1/property/FOO"] = (200, {"value": "bar"})
    logs = Logs()
    env = client(api, logs)
    assert env.resolve("env", "FOO") is None
    assert logs.lines == [
        (
            "warning",
            "unable to resolve environment value",
            {"name": "FOO", "namespace": "env", "error": f"GET {api.url}{ENV_PATH}/prod: HTTP 403"},
        )
    ]
    api.routes[f"{ENV_PATH}/prod"] = (200, {"id": "env-1"})
    assert env.resolve("env", "FOO") == "bar"


def test_credential_metadata_rendering(api: FakeApi) -> None:
    """Metadata: strings as is, numbers without exponent, booleans, others Go-JSON."""
    metadata = {
        "user": "ada",
        "expires": 1700000000,
        "expires_float": 1.7e9,
        "ratio": 0.5,
        "admin": True,
        "scopes": ["a", "<b>"],
    }
    api.routes[f"{ENV_PATH}/env-1/credential/gh"] = (200, {"value": "tok", "metadata": metadata})
    env = client(api, Logs())
    assert env.resolve("credentials", "gh") == "tok"
    assert env.resolve("credentials", "gh", "user") == "ada"
    assert env.resolve("credentials", "gh", "expires") == "1700000000"
    assert env.resolve("credentials", "gh", "expires_float") == "1700000000"
    assert env.resolve("credentials", "gh", "ratio") == "0.5"
    assert env.resolve("credentials", "gh", "admin") == "true"
    assert env.resolve("credentials", "gh", "scopes") == '["a","\\u003cb\\u003e"]'


def test_missing_metadata_key_is_unresolved(api: FakeApi) -> None:
    """An absent metadata key leaves the token unresolved with a warning naming NAME.KEY."""
    api.routes[f"{ENV_PATH}/env-1/credential/gh"] = (200, {"value": "tok", "metadata": {}})
    logs = Logs()
    assert client(api, logs).resolve("credentials", "gh", "nope") is None
    assert logs.lines[0][2]["name"] == "gh.nope"
    assert logs.lines[0][2]["namespace"] == "credentials"


def test_values_rendered_and_bad_json_unresolved(api: FakeApi) -> None:
    """Non-string values are rendered (null -> ""); invalid JSON or 404 are unresolved."""
    api.routes[f"{ENV_PATH}/env-1/property/NUM"] = (200, {"value": 42})
    api.routes[f"{ENV_PATH}/env-1/property/NUL"] = (200, {"value": None})
    api.routes[f"{ENV_PATH}/env-1/property/BAD"] = (200, b"{not json")
    logs = Logs()
    env = client(api, logs)
    assert env.resolve("env", "NUM") == "42"
    assert env.resolve("env", "NUL") == ""
    assert env.resolve("env", "BAD") is None
    assert env.resolve("secret", "MISSING") is None
    errors = [fields["error"] for _, _, fields in logs.lines]
    assert "invalid JSON" in errors[0] and errors[1].endswith("/secret/MISSING: HTTP 404")


def test_names_percent_encoded_as_path_segment(api: FakeApi) -> None:
    """Names keep unreserved and $&+,:;=@ characters; everything else is %XX upper-case."""
    raw = "a b/c$&+,:;=@é~"
    api.routes[f"{ENV_PATH}/env-1/secret/a%20b%2Fc$&+,:;=@%C3%A9~"] = (200, {"value": "ok"})
    assert client(api, Logs()).resolve("secret", raw) == "ok"


def test_unreachable_api_is_unresolved() -> None:
    """A refused connection is a warning and None, never an exception."""
    logs = Logs()
    env = EnvironmentClient(
        "http://127.0.0.1:9", EXECUTION_ID, "prod", None, None, None, None, "", logs
    )
    assert env.resolve("env", "FOO") is None
    assert logs.lines[0][1] == "unable to resolve environment value"
    assert logs.lines[0][2]["error"].endswith("/environment/prod: Connection refused")
