"""Confinement of file actions to the execution work directory, and Go-style OS error text."""

from __future__ import annotations

import os
from pathlib import Path

from flomation.executor.actions.base import HardError

__all__ = ["CONFINEMENT_DIFFERENCES", "ESCAPE_MESSAGE", "confined_path", "os_error_text"]

ESCAPE_MESSAGE = "file path escapes the execution directory"
# How the file actions differ from upstream's newest (flomation-co/executor actions/file/common.go,
# an os.Root workspace), as the node reference lists it.
CONFINEMENT_DIFFERENCES = (
    "a path leaving the work directory is the hard error `file path escapes the execution "
    "directory`; upstream's newest returns a soft failure (`... is outside the flow's workspace`)",
    "an absolute path must lie inside the work directory; upstream's newest reads a leading `/` "
    "as the workspace root",
)


def confined_path(work_dir: Path, file_path: str) -> Path:
    """``file_path`` resolved against ``work_dir`` with ``..`` and symlinks followed.

    Raises the hard error ``file path escapes the execution directory`` unless the result lies
    inside the (itself resolved) work directory. Callers open the returned path with O_NOFOLLOW so
    that a symlink swapped in after this check is refused rather than followed.
    """
    if "\x00" in file_path:
        raise HardError("file path contains a NUL byte")
    root = Path(os.path.realpath(work_dir))
    resolved = Path(os.path.realpath(Path(work_dir) / file_path))  # absolute file_path wins
    if resolved != root and root not in resolved.parents:
        raise HardError(ESCAPE_MESSAGE)
    return resolved


def os_error_text(operation: str, file_path: str, error: OSError) -> str:
    """Go's PathError text: ``open x.txt: no such file or directory``."""
    reason = error.strerror or str(error)
    return f"{operation} {file_path}: {reason[:1].lower()}{reason[1:]}"
