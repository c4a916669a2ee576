"""``web/request``: send one HTTP request and capture the response (docs/flows.md §10.6).

A non-2xx status is a soft failure (``success: false``, no ``error``); a transport failure is a
hard error ``request failed: ...``; cancellation aborts the transfer (§9.1).
"""

from __future__ import annotations

from flomation.executor.accessors import read_number, read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.actions.web._transfer import TransferError, transfer

__all__ = ["SPEC", "run"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

SPEC = ActionSpec(
    id="web/request",
    name="HTTP Request",
    description="Send an HTTP request and capture the response",
    icon="globe",
    inputs=(
        Connection(
            "method",
            "string",
            label="HTTP Method",
            placeholder="GET",
            required=True,
            options=tuple({"name": method, "value": method} for method in _METHODS),
        ),
        Connection(
            "url",
            "string",
            label="URL",
            placeholder="https://example.com/api/v1/resource",
            required=True,
        ),
        Connection(
            "headers",
            "text",
            label="Headers",
            placeholder="Content-Type: application/json\nAuthorization: Bearer ...",
        ),
        Connection("body", "text", label="Request Body"),
        Connection(
            "timeout_seconds", "integer", label="Timeout (seconds)", placeholder="30", default=30
        ),
    ),
    outputs=(
        # Declared by upstream but never set (flomation-co/executor: actions/web/request/action.go).
        Connection("tool_result", "string", "Result summary"),
        Connection("status_code", "integer"),
        Connection("response_body", "string"),
        Connection("response_headers", "string"),
        Connection("success", "boolean"),
    ),
    extra={
        "differences": [
            'a transport error names the OS reason after `Get "<url>": ` (Go names the step too, '
            "as in `dial tcp 127.0.0.1:9: connect: connection refused`), and a URL Go cannot "
            "parse is `request failed: ...` rather than `failed to create request: ...`"
        ]
    },
)

_DEFAULT_TIMEOUT_S = 30
_MAX_TIMEOUT_S = 300
_MAX_BODY_BYTES = 1 << 20
# Go's client sends this when the request sets no User-Agent; servers see the same client.
_DEFAULT_USER_AGENT = "Go-http-client/1.1"


def _timeout_s(ctx: ActionContext) -> int:
    requested = read_number(ctx.inputs, "timeout_seconds")
    if requested is None or requested <= 0:
        return _DEFAULT_TIMEOUT_S
    return min(requested, _MAX_TIMEOUT_S)


def _headers(text: str | None) -> dict[str, str]:
    """One ``Key: Value`` per line; lines without ``:`` are ignored; a later key replaces."""
    headers: dict[str, str] = {}
    for line in (text or "").split("\n"):
        name, colon, value = line.strip().partition(":")
        if colon:
            headers[name.strip()] = value.strip()
    return headers


def run(ctx: ActionContext) -> Outputs:
    """Send the request (redirects followed) and return status, body and headers."""
    method = read_string(ctx.inputs, "method")
    if not method:
        raise HardError("HTTP method is required")
    url = read_string(ctx.inputs, "url")
    if not url:
        raise HardError("URL is required")
    method = method.upper()
    headers = _headers(read_string(ctx.inputs, "headers"))
    if not any(name.lower() == "user-agent" for name in headers):
        headers["User-Agent"] = _DEFAULT_USER_AGENT
    body_text = read_string(ctx.inputs, "body")
    try:
        response = transfer(
            method,
            url,
            headers=headers,
            body=body_text.encode("utf-8") if body_text else None,
            timeout_s=_timeout_s(ctx),
            max_body_bytes=_MAX_BODY_BYTES,
            cancel_event=ctx.cancel_event,
        )
    except TransferError as exc:
        raise HardError(f"request failed: {exc}") from exc
    header_lines = [f"{name}: {value}" for name, value in response.headers]
    header_lines.sort(key=lambda line: line.partition(":")[0])
    return {
        "status_code": response.status,
        "response_body": response.body.decode("utf-8", "replace"),
        "response_headers": "\n".join(header_lines),
        "success": 200 <= response.status < 300,
    }
