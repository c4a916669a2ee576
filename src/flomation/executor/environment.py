"""The environment client: resolves ``${env.*}``, ``${secret(s).*}`` and ``${credentials.*}``.

Specification: docs/flows.md §8 and docs/protocol.md §4.7 and §9. Nothing is contacted and nothing
heavy is imported until the first token needs a value: then the credentials are prepared once (the
``--key`` PEM is loaded and the execution id signed, importing ``cryptography``; or the identity
service is asked for a token) and the environment identifier is looked up. A failed identifier
look-up is retried at the next token. Property and secret values are cached for 30 seconds per name,
credentials never. Every failure is logged as a warning and reported as ``None`` so that the caller
leaves the literal ``${...}`` text in place.

``log`` is called as ``log(level, message, **fields)`` (levels ``warning`` and ``error`` here).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from flomation.executor.gojson import go_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = ["ControlPlaneError", "EnvironmentClient", "Namespace"]

Namespace = Literal["env", "secret", "credentials"]

_API_TIMEOUT_S = 30.0
_IDENTITY_TIMEOUT_S = 10.0
_CACHE_TTL_S = 30.0
# Characters kept in a path segment besides the unreserved ones (docs/flows.md §8.3).
_SEGMENT_SAFE = "$&+,:;=@"
_MAX_ERROR_BODY_CHARS = 200


class ControlPlaneError(Exception):
    """A request to the control plane got no HTTP reply; the text names the request."""


class _LookupError(Exception):
    """One failed look-up; the text becomes the ``error`` field of the warning."""


def _segment(text: str) -> str:
    return quote(text, safe=_SEGMENT_SAFE)


def _reason(exc: BaseException) -> str:
    """A short cause: ``Connection refused`` rather than ``<urlopen error [Errno 111] ...>``."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _render(value: Any) -> str:
    """Substitution rendering (§5.4): null -> "", a string as is, anything else Go-JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else go_json(value)


def _render_metadata(value: Any) -> str:
    """Metadata rendering (§8.3): numbers in plain notation, never with an exponent."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        plain = format(Decimal(repr(value)), "f")
        return plain.rstrip("0").rstrip(".") if "." in plain else plain
    if isinstance(value, str):
        return value
    return go_json(value)


class EnvironmentClient:
    """Resolves environment properties, secrets and credentials for one execution."""

    def __init__(
        self,
        api_url: str,
        execution_id: str,
        environment: str,
        key_path: str | None,
        token: str | None,
        user: str | None,
        password: str | None,
        identity_url: str,
        log: Callable[..., None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._execution_id = execution_id
        self._environment = environment
        self._key_path = key_path or None
        self._token = token or None
        self._user = user or None
        self._password = password or None
        self._identity_url = identity_url.rstrip("/")
        self._log = log
        self._clock = clock
        self._credentials_ready = False
        self._private_key: RSAPrivateKey | None = None
        self._query_token: str | None = None
        self._bearer: str | None = None
        self._environment_id: str | None = None
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}

    def resolve(self, namespace: Namespace, name: str, key: str | None = None) -> str | None:
        """The value of one token, or None (logged) when it cannot be resolved.

        ``namespace`` is ``env``, ``secret`` (for ``secret.`` and ``secrets.``) or
        ``credentials``; ``key`` selects a credential metadata value (``credentials.NAME.KEY``).
        """
        try:
            return self._resolve(namespace, name, key)
        except _LookupError as exc:
            label = name if key is None else f"{name}.{key}"
            self._log(
                "warning",
                "unable to resolve environment value",
                name=label,
                namespace=namespace,
                error=str(exc),
            )
            return None

    def _resolve(self, namespace: str, name: str, key: str | None) -> str:
        if namespace == "credentials":
            return self._credential(name, key)
        if namespace not in ("env", "secret"):
            raise _LookupError(f"unknown namespace {namespace!r}")
        cached = self._cache.get((namespace, name))
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        kind = "property" if namespace == "env" else "secret"
        body = self._get(f"/{kind}/{_segment(name)}")
        value = _render(body.get("value"))
        self._cache[(namespace, name)] = (now + _CACHE_TTL_S, value)
        return value

    def _credential(self, name: str, key: str | None) -> str:
        body = self._get(f"/credential/{_segment(name)}")
        if key is None:
            return _render(body.get("value"))
        metadata = body.get("metadata")
        if not isinstance(metadata, dict) or key not in metadata:
            raise _LookupError(f"credential {name!r} has no metadata key {key!r}")
        return _render_metadata(metadata[key])

    def _environment_path(self, environment: str) -> str:
        return (
            f"/api/v1/execution/{_segment(self._execution_id)}/environment/{_segment(environment)}"
        )

    def _get(self, suffix: str) -> dict[str, Any]:
        """GET ``{api}/api/v1/execution/{id}/environment/{env}{suffix}`` as a JSON object."""
        self._prepare_credentials()
        if self._environment_id is None:
            found = self._request_json(self._environment_path(self._environment)).get("id")
            if not isinstance(found, str) or not found:
                raise _LookupError("environment response has no 'id'")
            self._environment_id = found
        return self._request_json(self._environment_path(self._environment_id) + suffix)

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        timeout_s: float = _API_TIMEOUT_S,
    ) -> tuple[int, bytes]:
        """One signed request to ``{api}{path}`` on behalf of this execution: (status, body).

        Signed as the environment look-ups are (``?token=``, bearer or v2 signature), with the
        header ``X-Flomation-Execution`` naming the calling execution (the internal endpoints
        authenticate with it). ``ControlPlaneError`` (``METHOD URL: reason``) when no reply.
        """
        import urllib.error
        import urllib.request
        from urllib.parse import urlsplit

        self._prepare_credentials()
        url = self._api_url + path
        if self._query_token is not None:
            url += ("&" if "?" in url else "?") + "token=" + self._query_token
        headers = {"Accept": "application/json", "X-Flomation-Execution": self._execution_id}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._bearer is not None:
            headers["Authorization"] = "Bearer " + self._bearer
        if self._private_key is not None:
            from flomation.wire.signing import SIGNATURE_V2_HEADER, sign_v2

            parts = urlsplit(url)
            target = parts.path + ("?" + parts.query if parts.query else "")
            headers[SIGNATURE_V2_HEADER] = sign_v2(self._private_key, method, target, body or b"")
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        where = f"{method} {self._api_url}{path}"  # never the ?token= signature
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ControlPlaneError(f"{where}: {_reason(exc)}") from exc

    def _request_json(self, path: str) -> dict[str, Any]:
        where = f"GET {self._api_url}{path}"
        try:
            status, raw = self.call("GET", path)
        except ControlPlaneError as exc:
            raise _LookupError(str(exc)) from exc
        if status != 200:
            raise _LookupError(f"{where}: HTTP {status}")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise _LookupError(f"{where}: invalid JSON in response: {exc}") from exc
        if not isinstance(body, dict):
            raise _LookupError(f"{where}: expected a JSON object")
        return body

    def _prepare_credentials(self) -> None:
        """Once per process: key signature, else bearer token, else identity-service token."""
        if self._credentials_ready:
            return
        self._credentials_ready = True
        if self._key_path is not None:
            self._load_key(self._key_path)
        elif self._token is not None:
            self._bearer = self._token
        elif self._user is not None and self._password is not None:
            self._bearer = self._identity_token(self._user, self._password)

    def _load_key(self, key_path: str) -> None:
        from flomation.wire.signing import load_private_key_pem, sign_v1

        inline = key_path.lstrip().startswith("-----BEGIN")
        # An inline key is never echoed into the log; a path names the file that failed.
        source = "inline key" if inline else key_path
        try:
            pem = key_path.encode("utf-8") if inline else Path(key_path).read_bytes()
            key = load_private_key_pem(pem)
        except (OSError, ValueError) as exc:
            self._log("error", "unable to load key", error=f"{source}: {exc}")
            return
        self._private_key = key
        self._query_token = sign_v1(key, self._execution_id.encode("utf-8"))

    def _identity_token(self, user: str, password: str) -> str | None:
        import urllib.error
        import urllib.request

        url = self._identity_url + "/api/token"
        payload = json.dumps({"username": user, "hash": password}).encode("utf-8")
        request = urllib.request.Request(
            url, data=payload, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=_IDENTITY_TIMEOUT_S) as response:
                body = json.loads(response.read())
            token = body.get("token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise ValueError("response has no 'token'")
        except urllib.error.HTTPError as exc:
            exc.close()
            self._log(
                "error", "unable to obtain identity token", error=f"POST {url}: HTTP {exc.code}"
            )
            return None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._log(
                "error", "unable to obtain identity token", error=f"POST {url}: {_reason(exc)}"
            )
            return None
        return token
