"""``web/download``: fetch a file from an http(s) URL into the execution's work directory.

Follows flomation-co/executor: actions/web/download/action.go: inputs ``url`` and ``filename``;
every failure is a soft one (``success: false``, ``error``, ``tool_result: "Error: ..."``); the
body is capped at 250 MB; connections to non-public addresses (loopback, private, link-local
including the cloud metadata endpoint, unspecified, multicast) are refused, redirect targets
included; the filename is the given one, else the URL's last path segment when it has a dot,
else ``download.<extension of the MIME type>``.

Deliberate differences: upstream stores the file in its media workspace and returns a
``flo:file:``/``flo:blob:`` reference; this executor has no media store, so the file is written
into the work directory (mode 0600, never through a symlink, never outside the directory) and
``file`` is its path relative to the work directory. The refusal is the network guard's at its
``private`` level whatever the configured one (executor/network_guard.py); networks an operator
trusts can be allowed with ``FLOMATION_EXECUTOR_ALLOW_NETWORKS`` (comma-separated CIDRs, e.g.
``127.0.0.0/8``).
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.actions.file._confine import confined_path
from flomation.executor.actions.web._transfer import TransferError, transfer

__all__ = ["MAX_DOWNLOAD_BYTES", "SPEC", "run"]

MAX_DOWNLOAD_BYTES = 250 << 20
_REQUEST_TIMEOUT_S = 120
_FILE_MODE = 0o600
_DIRECTORY_MODE = 0o755

SPEC = ActionSpec(
    id="web/download",
    name="Download File",
    description=(
        "Download a file from a URL into the workspace as a reference you can upload or attach."
    ),
    icon="globe+arrow-down",
    inputs=(
        Connection("url", "string", "File URL", placeholder="https://…", required=True),
        Connection(
            "filename",
            "string",
            "Filename (optional, e.g. demo.mp4 — otherwise derived from the URL)",
        ),
    ),
    outputs=(
        Connection("tool_result", "string", "Result summary"),
        Connection("file", "string", "File reference (path in the work directory)"),
        Connection("filename", "string", "Filename"),
        Connection("mime_type", "string", "MIME type"),
        Connection("size_bytes", "integer", "Size (bytes)"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
    extra={
        "differences": [
            "the file is written into the work directory and 'file' is its relative path "
            "(upstream: a flo:file:/flo:blob: media reference)",
            "non-public networks can be allowed with FLOMATION_EXECUTOR_ALLOW_NETWORKS",
        ]
    },
)


def _failure(message: str) -> Outputs:
    return {"tool_result": "Error: " + message, "success": False, "error": message}


def _clean_mime(content_type: str) -> str:
    """Go's ``mime.ParseMediaType`` media type, lower-cased; octet-stream when absent."""
    if not content_type:
        return "application/octet-stream"
    message = Message()
    message["Content-Type"] = content_type
    media = message.get_content_type()
    if message.get("Content-Type", "").split(";", 1)[0].strip().lower() == media:
        return media
    return content_type.split(";", 1)[0].strip()


def _filename(explicit: str, url_path: str, mime_type: str) -> str:
    if explicit:
        return explicit
    base = posixpath.basename(url_path.rstrip("/")) if url_path.strip("/") else ""
    if base and base not in ("/", ".") and "." in base:
        return base
    extension = mimetypes.guess_extension(mime_type, strict=False) or ".bin"
    return "download" + extension


def _write(work_dir: Path, filename: str, body: bytes) -> Path:
    target = confined_path(work_dir, filename)
    target.parent.mkdir(mode=_DIRECTORY_MODE, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
    with os.fdopen(os.open(target, flags, _FILE_MODE), "wb") as handle:
        handle.write(body)
    return target


def run(ctx: ActionContext) -> Outputs:
    """Download into the work directory; ``{tool_result, file, filename, mime_type, ...}``."""
    url = (read_string(ctx.inputs, "url") or "").strip()
    if not url:
        return _failure("url is required")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return _failure("url must be a valid http(s) URL")
    try:
        response = transfer(
            "GET",
            url,
            headers={"Accept": "*/*", "User-Agent": "Go-http-client/1.1"},
            body=None,
            timeout_s=_REQUEST_TIMEOUT_S,
            max_body_bytes=MAX_DOWNLOAD_BYTES + 1,
            cancel_event=ctx.cancel_event,
            # Upstream refuses non-public addresses here whatever the configuration.
            guard_minimum="private",
        )
    except TransferError as error:
        return _failure(f"download failed: {error}")
    if not 200 <= response.status < 300:
        return _failure(f"download failed: HTTP {response.status}")
    body = response.body
    if len(body) > MAX_DOWNLOAD_BYTES:
        return _failure(f"file exceeds the {MAX_DOWNLOAD_BYTES >> 20} MB download limit")
    content_type = next((value for name, value in response.headers if name == "Content-Type"), "")
    mime_type = _clean_mime(content_type)
    filename = _filename((read_string(ctx.inputs, "filename") or "").strip(), parts.path, mime_type)
    try:
        target = _write(ctx.work_dir, filename, body)
    except HardError as error:
        return _failure(f"writing file: {error.message}")
    except OSError as error:
        return _failure(f"writing file: {error.strerror or error}")
    reference = str(target.relative_to(Path(os.path.realpath(ctx.work_dir))))
    return {
        "tool_result": (
            f"Downloaded {filename} ({len(body)} bytes, {mime_type}). Pass this file reference "
            f"to an upload/attach action's file input: {reference}"
        ),
        "file": reference,
        "filename": filename,
        "mime_type": mime_type,
        "size_bytes": len(body),
        "success": True,
        "error": "",
    }
