"""`file/read`: read a text file inside the work directory (docs/flows.md §10.6)."""

from __future__ import annotations

import os
import stat

from flomation.executor.accessors import read_string
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

_MAX_BYTES = 10 * 1024 * 1024

SPEC = ActionSpec(
    id="file/read",
    name="Read File",
    description="Read a text file from the execution directory (up to 10 MiB)",
    icon="file-lines",
    inputs=(
        Connection("file_path", "string", "File Path", placeholder="input/data.txt", required=True),
    ),
    outputs=(
        Connection("tool_result", "string", "Result"),
        Connection("content", "text", "Content"),
        Connection("file_path", "string", "File Path"),
        Connection("size_bytes", "integer", "Size (bytes)"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
    extra={"differences": list(CONFINEMENT_DIFFERENCES)},
)


def _read_bytes(path: str, file_path: str) -> bytes:
    """The file's bytes; a missing, non-regular or oversized file is a hard error."""
    # O_NONBLOCK: opening a FIFO must not hang the flow; it is then refused as non-regular.
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise HardError(f"failed to read file: {os_error_text('open', file_path, error)}") from None
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise HardError(f"failed to read file: read {file_path}: is a directory")
        if not stat.S_ISREG(status.st_mode):
            raise HardError(f"failed to read file: {file_path} is not a regular file")
        handle = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with handle:
        try:
            data = handle.read(_MAX_BYTES + 1)
        except OSError as error:
            text = os_error_text("read", file_path, error)
            raise HardError(f"failed to read file: {text}") from None
    if len(data) > _MAX_BYTES:
        raise HardError(f"failed to read file: {file_path} is larger than {_MAX_BYTES} bytes")
    return data


def run(ctx: ActionContext) -> Outputs:
    """The content decoded as UTF-8 (invalid bytes replaced) and its size in bytes."""
    file_path = read_string(ctx.inputs, "file_path") or ""
    if not file_path:
        raise HardError("file_path is required")
    data = _read_bytes(str(confined_path(ctx.work_dir, file_path)), file_path)
    content = data.decode("utf-8", errors="replace")
    return {
        "tool_result": content,
        "content": content,
        "file_path": file_path,
        "size_bytes": len(data),
        "success": True,
        "error": "",
    }
