"""Crash recovery at start-up: executions a previous run of this runner left in flight.

The outbox journals every execution from its claim to its stored result (runner/delivery.py). At
the next start, each journaled execution without a result is reported failed with
``runner restarted during execution`` and the output its spool holds, and its leftover executor
process group is killed if it still runs inside its work directory (docs/operations.md, *Crash
recovery*).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import structlog

from flomation.runner.api import execution_path
from flomation.runner.outbox import Outbox
from flomation.runner.outcome import failure_outcome, result_body
from flomation.runner.process import kill_group
from flomation.runner.spool import SPOOL_FILE_NAME, spool_files, truncation_marker
from flomation.wire.jsontext import compact_json

__all__ = ["RESTARTED_ERROR", "recover_inflight"]

RESTARTED_ERROR = "runner restarted during execution"


def recover_inflight(
    outbox: Outbox, *, max_result_log_bytes: int, log: structlog.typing.FilteringBoundLogger
) -> None:
    """Report executions a previous run of this runner left in flight (crash recovery)."""
    for record in outbox.journal_inflight():
        record_log = log.bind(execution_id=record.execution_id, flo_id=record.flo_id)
        if record.pgid is not None and _group_belongs_to(record.pgid, record.work_dir):
            kill_group(record.pgid)
            record_log.warning("killed the leftover executor process group", pgid=record.pgid)
        if not outbox.has_result(record.execution_id):
            output = _read_spool(record.work_dir / SPOOL_FILE_NAME, max_result_log_bytes)
            body = result_body(failure_outcome(RESTARTED_ERROR, output), output)
            path = execution_path(record.execution_id)
            outbox.put(record.execution_id, "result", path, compact_json(body))
            record_log.warning("reporting an execution interrupted by a runner restart")
        outbox.journal_finish(record.execution_id)


def _group_belongs_to(pgid: int, workdir: Path) -> bool:
    """True when some process of group ``pgid`` still runs inside ``workdir``."""
    proc = Path("/proc")
    try:
        entries = list(proc.iterdir())
    except OSError:
        return False
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) != pgid:
                continue
            cwd = (entry / "cwd").readlink()
        except (OSError, ValueError, IndexError):
            continue
        if cwd == workdir or workdir in cwd.parents:
            return True
    return False


def _read_spool(path: Path, max_bytes: int) -> str:
    """What a dead execution's output spool holds, head and tail kept when too large.

    A spool that reached its disk cap left tail files besides the head (runner/spool.py
    :func:`spool_files`): the tail comes from the newest of them, and the bytes the cap dropped
    count as omitted.
    """
    files: list[tuple[int, Path, int]] = []
    for offset, file_path in spool_files(path):
        with contextlib.suppress(OSError):
            files.append((offset, file_path, file_path.stat().st_size))
    if not files:
        return ""
    output_bytes = files[-1][0] + files[-1][2]
    stored_bytes = sum(size for _, _, size in files)
    try:
        if stored_bytes == output_bytes <= max_bytes:
            whole = b"".join(file_path.read_bytes() for _, file_path, _ in files)
            return whole.decode("utf-8", "replace").removesuffix("\n")
        head = _read_range(files[0][1], 0, max_bytes // 2) if files[0][0] == 0 else b""
        tail = b""
        # The tail files follow each other without a gap; the head may be cut off from them.
        for _, file_path, size in reversed(files[1:] or files):
            wanted = max_bytes // 2 - len(tail)
            if wanted <= 0:
                break
            tail = _read_range(file_path, max(size - wanted, 0), wanted) + tail
    except OSError:
        return ""
    omitted = output_bytes - len(head) - len(tail)
    return "\n".join(
        (
            head.decode("utf-8", "ignore"),
            truncation_marker(omitted),
            tail.decode("utf-8", "ignore").removesuffix("\n"),
        )
    )


def _read_range(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read(size)
