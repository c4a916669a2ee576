"""`file/write`: write or append text to a file inside the work directory (docs/flows.md §10.6)."""

from __future__ import annotations

import os
import re

from flomation.executor.accessors import read_bool, read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.actions.file._confine import (
    CONFINEMENT_DIFFERENCES,
    confined_path,
    os_error_text,
)

__all__ = ["SPEC", "run"]

_DIRECTORY_MODE = 0o755
_FILE_MODE = 0o644
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

SPEC = ActionSpec(
    id="file/write",
    name="Write File",
    description="Write text to a file in the execution directory (created if missing)",
    icon="file-pen",
    inputs=(
        Connection(
            "file_path", "string", "File Path", placeholder="output/result.txt", required=True
        ),
        Connection("content", "text", "Content", placeholder="Text to write", required=True),
        Connection("append", "boolean", "Append Instead of Overwrite"),
    ),
    outputs=(
        Connection("file_path", "string", "File Path"),
        Connection("bytes_written", "integer", "Bytes Written"),
        Connection("success", "boolean", "Success"),
    ),
    extra={"differences": list(CONFINEMENT_DIFFERENCES)},
)


def _utf8(text: str) -> bytes:
    """UTF-8 bytes; lone surrogates (possible from JSON escapes) become U+FFFD as in Go."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def run(ctx: ActionContext) -> Outputs:
    """Create parents (0755), then truncate or append (file mode 0644) and write the content."""
    file_path = read_string(ctx.inputs, "file_path") or ""
    if not file_path:
        raise HardError("file_path is required")
    content = read_string(ctx.inputs, "content")
    if content is None:
        raise HardError("content is required")
    target = confined_path(ctx.work_dir, file_path)
    data = _utf8(content)
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    flags |= os.O_APPEND if read_bool(ctx.inputs, "append") else os.O_TRUNC
    try:
        target.parent.mkdir(mode=_DIRECTORY_MODE, parents=True, exist_ok=True)
    except OSError as error:
        parent = str(error.filename or target.parent)
        raise HardError(f"failed to open file: {os_error_text('mkdir', parent, error)}") from None
    try:
        descriptor = os.open(target, flags, _FILE_MODE)
    except OSError as error:
        raise HardError(f"failed to open file: {os_error_text('open', file_path, error)}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    except OSError as error:
        raise HardError(
            f"failed to write file: {os_error_text('write', file_path, error)}"
        ) from None
    return {"file_path": file_path, "bytes_written": len(data), "success": True}
