"""Crash recovery at start-up: executions a previous run of this runner left in flight.

The outbox journals every execution from its claim to its stored result (runner/delivery.py). At
the next start, each journaled execution without a result is reported failed with
``runner restarted during execution`` and the output its spool holds, and its leftover executor
process group is killed if it still runs inside its work directory (docs/operations.md, *Crash
recovery*).
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from flomation.runner.api import execution_path
from flomation.runner.logs import SPOOL_FILE_NAME, truncation_marker
from flomation.runner.outbox import Outbox
from flomation.runner.outcome import failure_outcome, result_body
from flomation.runner.process import kill_group
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
    """What a dead execution's output spool holds, head and tail kept when too large."""
    try:
        with path.open("rb") as spool:
            size = os.fstat(spool.fileno()).st_size
            if size <= max_bytes:
                return spool.read().decode("utf-8", "replace").removesuffix("\n")
            head = spool.read(max_bytes // 2)
            spool.seek(size - max_bytes // 2)
            tail = spool.read()
    except OSError:
        return ""
    omitted = size - len(head) - len(tail)
    return "\n".join(
        (
            head.decode("utf-8", "ignore"),
            truncation_marker(omitted),
            tail.decode("utf-8", "ignore").removesuffix("\n"),
        )
    )
