"""Safe path components for work directories (docs/protocol.md §5.1, defect R7)."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["SAFE_ID", "UnsafeIdError", "is_safe_id", "work_directory"]

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class UnsafeIdError(ValueError):
    """An id from the server that cannot be used as a path component."""


def is_safe_id(value: object) -> bool:
    """True when ``value`` is a string usable as one path component (UUIDs are)."""
    return isinstance(value, str) and SAFE_ID.fullmatch(value) is not None


def work_directory(execution_root: Path, flo_id: object, execution_id: object) -> Path:
    """``<root>/<flo_id>/<execution_id>``, or UnsafeIdError when either id could escape the root.

    Each id must be one safe path component, and neither directory may be a symbolic link (it
    could lead out of the root). ``execution_root`` is taken as given: the caller resolves it
    once, rather than a realpath (an lstat per component) for every execution.
    """
    for field, value in (("flo_id", flo_id), ("execution.id", execution_id)):
        if not is_safe_id(value):
            raise UnsafeIdError(f"invalid identifier in {field}: {str(value)[:80]!r}")
    flow_directory = execution_root / str(flo_id)
    path = flow_directory / str(execution_id)
    for directory in (flow_directory, path):
        if directory.is_symlink():
            raise UnsafeIdError(f"invalid identifier: {directory} is a symbolic link")
    return path
