"""Request bodies under a size limit, JSON parsing with named errors, JSON error answers."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "HttpError",
    "decode_body",
    "error_response",
    "json_response",
    "parse_body",
    "parse_text",
    "read_body",
]

_ModelT = TypeVar("_ModelT", bound=BaseModel)


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


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, or HttpError 413 as soon as it is known to exceed ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HttpError(400, "invalid Content-Length header")
        if int(declared) > max_bytes:
            raise HttpError(413, "request body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HttpError(413, "request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


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
