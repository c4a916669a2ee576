"""Request bodies under a size limit, JSON parsing with named errors, JSON error answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import from_json
from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "PARSE_ON_LOOP_MAX_BYTES",
    "HttpError",
    "decode_body",
    "error_response",
    "json_response",
    "leading_fields",
    "parse_body",
    "parse_body_off_loop",
    "parse_text",
    "read_body",
    "read_body_gated",
]

_ModelT = TypeVar("_ModelT", bound=BaseModel)
# Bodies up to this size are parsed on the event loop (well under a millisecond); larger ones
# in a worker thread, so that a 32 MiB result does not hold up every other request.
PARSE_ON_LOOP_MAX_BYTES = 256 * 1024
_TOO_LARGE = "request body too large"


class HttpError(Exception):
    """An answer other than success: status and the message put in ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(payload: Any, status: int = 200) -> Response:
    """Compact JSON answer."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return Response(body.encode("utf-8"), status_code=status, media_type="application/json")


def error_response(status: int, message: str) -> Response:
    """``{"error": message}`` with ``status``."""
    return json_response({"error": message}, status)


def _declared_length(request: Request, max_bytes: int) -> int | None:
    """The Content-Length, None when absent; HttpError 400 if malformed, 413 if over."""
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not declared.isdigit():
        raise HttpError(400, "invalid Content-Length header")
    if int(declared) > max_bytes:
        raise HttpError(413, _TOO_LARGE)
    return int(declared)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, or HttpError 413 as soon as it is known to exceed ``max_bytes``."""
    _declared_length(request, max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HttpError(413, _TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body_gated(
    request: Request,
    open_bytes: int,
    max_bytes: int,
    may_read_more: Callable[[bytes], Awaitable[str | None]],
) -> bytes:
    """The whole body, reading past its first ``open_bytes`` only if ``may_read_more`` allows.

    For a request whose credentials are inside its body (registration, docs/protocol.md §4.1): the
    first ``open_bytes`` are read and handed to ``may_read_more``, which answers None to go on
    or a reason, sent back with 413 before anything more is read. A body declared (or
    streamed) no larger than ``open_bytes`` is read without asking; nothing over ``max_bytes``
    is ever read.
    """
    declared = _declared_length(request, max_bytes)
    decided = declared is not None and declared <= open_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HttpError(413, _TOO_LARGE)
        chunks.append(chunk)
        if not decided and (size > open_bytes or (declared is not None and size >= open_bytes)):
            decided = True
            prefix = b"".join(chunks)[:open_bytes]
            refusal = await may_read_more(prefix)
            if refusal is not None:
                raise HttpError(413, refusal)
    return b"".join(chunks)


def leading_fields(prefix: bytes) -> dict[str, Any]:
    """The complete top-level fields found in the start of a JSON object (``{}`` if none).

    Parses only what is there (pydantic-core's partial mode): a value cut off by the end of
    ``prefix`` is left out, and anything that is not the start of a JSON object gives ``{}``.
    """
    try:
        parsed = from_json(prefix, allow_partial=True)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "json_invalid":
        return f"invalid JSON: {error['msg'].removeprefix('Invalid JSON: ')}"
    if kind == "extra_forbidden":
        return f"unknown field {location!r}"
    if kind == "missing":
        return f"missing field {location!r}"
    if not location:
        return f"request body: {error['msg']}"
    return f"field {location!r}: {error['msg']}"


def parse_body(model: type[_ModelT], body: bytes, *, empty_as: bytes | None = None) -> _ModelT:
    """Validate a JSON body strictly against ``model``; HttpError 400 names the problem.

    ``empty_as`` replaces an empty body (e.g. ``b"{}"`` where the body is optional).
    """
    if not body.strip() and empty_as is not None:
        body = empty_as
    return parse_text(model, decode_body(body))


async def parse_body_off_loop(
    model: type[_ModelT], body: bytes, *, empty_as: bytes | None = None
) -> _ModelT:
    """:func:`parse_body`, in a worker thread when ``body`` is over PARSE_ON_LOOP_MAX_BYTES."""
    if len(body) <= PARSE_ON_LOOP_MAX_BYTES:
        return parse_body(model, body, empty_as=empty_as)
    return await asyncio.to_thread(parse_body, model, body, empty_as=empty_as)


def decode_body(body: bytes) -> str:
    """The body as text; HttpError 400 when it is not UTF-8 or is empty."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpError(400, f"request body is not valid UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise HttpError(400, "request body is empty; a JSON object is required")
    return text


def parse_text(model: type[_ModelT], text: str) -> _ModelT:
    """Validate a decoded JSON body strictly against ``model``; HttpError 400 names the problem."""
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise HttpError(400, _describe(exc.errors()[0])) from exc
