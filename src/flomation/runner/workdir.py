"""The work directory of one execution: the files handed to the executor and what it leaves.

Implements docs/protocol.md §5.1-§5.6: directory layout and modes, ``execution.flow``,
``trigger-data.json``, ``context.json``, ``checkpoint.json``, the executor argument list, reading
``state.json`` back, and the retention policy applied once the result is safely in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from flomation.wire.jsontext import JsonObject, JsonValue, compact_json

__all__ = [
    "CHECKPOINT_FILE",
    "CONTEXT_FILE",
    "FLOW_FILE",
    "MAX_STATE_BYTES",
    "STATE_FILE",
    "TRIGGER_DATA_FILE",
    "ClaimedExecution",
    "ExecutorSettings",
    "PreparedWorkdir",
    "StateFile",
    "TlsFiles",
    "WorkdirError",
    "WorkdirRetention",
    "context_document",
    "executor_argv",
    "prepare_workdir",
    "read_state_file",
    "trigger_data_object",
    "write_private_file",
]

FLOW_FILE = "execution.flow"
TRIGGER_DATA_FILE = "trigger-data.json"
CONTEXT_FILE = "context.json"
CHECKPOINT_FILE = "checkpoint.json"
STATE_FILE = "state.json"
MAX_STATE_BYTES = 64 * 1024 * 1024
_DIR_MODE = 0o750
_FILE_MODE = 0o600
_FAILED_MARKER = ".flomation-failed"
# A successful work directory with at most this many plain files is removed on the event loop.
_INLINE_REMOVAL_MAX_FILES = 16
_TRIGGER_DATA_CONTEXT_KEYS = (
    "agent_id",
    "agent_user_id",
    "conversation_id",
    "trigger_source",
    "channel_type",
    "channel_id",
    "thread_id",
    "role",
)


class _ClaimedFlo(Protocol):
    """The fields of a claim's ``flo`` the work directory needs."""

    @property
    def organisation_id(self) -> str | None: ...
    @property
    def environment_id(self) -> str | None: ...
    @property
    def system_prompt(self) -> str | None: ...
    @property
    def system_flow(self) -> bool: ...


class _ClaimedRun(Protocol):
    """The fields of a claim's ``execution`` the work directory needs."""

    @property
    def id(self) -> str: ...
    @property
    def flo_id(self) -> str: ...
    @property
    def owner_id(self) -> str: ...
    @property
    def sequence(self) -> int: ...
    @property
    def data(self) -> JsonValue: ...
    @property
    def trigger_type(self) -> str | None: ...
    @property
    def author_email(self) -> str | None: ...
    @property
    def triggerer_email(self) -> str | None: ...
    @property
    def entry_node_id(self) -> str | None: ...
    @property
    def checkpoint(self) -> JsonValue: ...


class ClaimedExecution(Protocol):
    """What the work directory is made from: a claimed ``PendingExecution`` (wire.models) on a
    runner, or the plain record ``flomation-runner local`` builds without importing pydantic
    (its start-up time is the edit-run loop's, docs/benchmarks.md)."""

    @property
    def flo(self) -> _ClaimedFlo: ...
    @property
    def execution(self) -> _ClaimedRun: ...
    @property
    def checkpoint(self) -> JsonValue: ...


class WorkdirError(Exception):
    """The work directory or one of its files could not be created."""


@dataclass(frozen=True)
class TlsFiles:
    """mTLS material handed to the executor through context.json (absolute paths)."""

    ca_cert: str
    cert: str
    key: str
    api_url: str


@dataclass(frozen=True)
class ExecutorSettings:
    """Runner-wide facts that go into every execution's files and argument list."""

    executable: tuple[str, ...]
    api_url: str
    runner_name: str
    runner_identifier: str
    key_path: Path | None
    tls: TlsFiles | None


@dataclass(frozen=True)
class PreparedWorkdir:
    """A ready work directory and the executor command line that goes with it."""

    path: Path
    argv: list[str]


@dataclass(frozen=True)
class StateFile:
    """``state.json`` as read back: the object, or why there is none."""

    state: JsonObject | None
    error: str | None


def _decoded(raw: JsonValue) -> JsonValue:
    if isinstance(raw, str):
        try:
            decoded: JsonValue = json.loads(raw)
        except ValueError:
            return None
        return decoded
    return raw


def trigger_data_object(raw: JsonValue) -> JsonObject | None:
    """The trigger data to write (docs/protocol.md §5.3, project column), or None for no file.

    A JSON-encoded string is decoded first; only an object with at least one key is written.
    """
    decoded = _decoded(raw)
    if isinstance(decoded, dict) and decoded:
        return decoded
    return None


def _string(value: JsonValue) -> str:
    return value if isinstance(value, str) else ""


def context_document(
    pending: ClaimedExecution, settings: ExecutorSettings, now: datetime
) -> JsonObject:
    """Every key of context.json (docs/protocol.md §5.4)."""
    execution, flo = pending.execution, pending.flo
    trigger = _decoded(execution.data)
    trigger = trigger if isinstance(trigger, dict) else {}
    system_prompt = trigger.get("system_prompt")
    if not isinstance(system_prompt, str):
        system_prompt = flo.system_prompt or ""
    api_url = settings.api_url
    if settings.tls is not None and settings.tls.api_url:
        api_url = settings.tls.api_url
    context: JsonObject = {
        "flow_id": execution.flo_id,
        "execution_id": execution.id,
        "sequence": execution.sequence,
        "author_id": execution.owner_id,
        "organisation_id": flo.organisation_id or "",
        "runner_id": settings.runner_identifier,
        "start_time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "trigger_type": execution.trigger_type or "",
        "author_email": execution.author_email or "",
        "triggerer_email": execution.triggerer_email or "",
        "api_url": api_url,
        "system_prompt": system_prompt,
    }
    for key in _TRIGGER_DATA_CONTEXT_KEYS:
        context[key] = _string(trigger.get(key))
    context["system_flow"] = flo.system_flow
    if settings.tls is not None:
        context["tls_ca_cert"] = settings.tls.ca_cert
        context["tls_cert"] = settings.tls.cert
        context["tls_key"] = settings.tls.key
    return context


def executor_argv(
    pending: ClaimedExecution,
    settings: ExecutorSettings,
    *,
    trigger_data: bool,
    context: bool,
    checkpoint: bool,
) -> list[str]:
    """The exact executor command line of docs/protocol.md §5.6, in order."""
    execution = pending.execution
    argv = [
        *settings.executable,
        "--output",
        "json",
        "--path",
        FLOW_FILE,
        "--entry",
        execution.entry_node_id or "",
        "--id",
        execution.id,
        "--flow",
        execution.flo_id,
        "--api",
        settings.api_url,
        "--runner",
        settings.runner_name,
    ]
    if pending.flo.environment_id:
        argv += ["--environment", pending.flo.environment_id]
    if trigger_data:
        argv += ["--trigger-data", TRIGGER_DATA_FILE]
    if context:
        argv += ["--context", CONTEXT_FILE]
    if settings.key_path is not None:
        argv += ["--key", str(settings.key_path.absolute())]
    if checkpoint:
        argv += ["--checkpoint", CHECKPOINT_FILE]
    return argv


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, _FILE_MODE)
    try:
        os.fchmod(fd, _FILE_MODE)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def _make_dir(path: Path) -> bool:
    """Create ``path`` with mode 0750 whatever the umask; False when it already existed."""
    try:
        path.mkdir(mode=_DIR_MODE)
    except FileExistsError:
        return False
    path.chmod(_DIR_MODE)
    return True


def prepare_workdir(
    path: Path,
    pending: ClaimedExecution,
    flow_document: JsonValue,
    settings: ExecutorSettings,
    now: datetime,
) -> PreparedWorkdir:
    """Create the work directory ``path`` and write every input file; WorkdirError on failure.

    ``flow_document`` is the PendingExecution's top-level ``data`` exactly as parsed from the
    wire, so that execution.flow keeps key order and number types. ``path`` comes from
    ``flomation.wire.paths.work_directory`` (which refuses unsafe ids).
    """
    checkpoint = pending.checkpoint
    if checkpoint is None:
        checkpoint = pending.execution.checkpoint
    trigger_data = trigger_data_object(pending.execution.data)
    try:
        _make_dir(path.parent)
        # A directory left by an earlier run (a resume) may hold files this run must not see.
        stale = () if _make_dir(path) else (STATE_FILE, TRIGGER_DATA_FILE, CHECKPOINT_FILE)
        for name in stale:
            (path / name).unlink(missing_ok=True)
        write_private_file(path / FLOW_FILE, compact_json(flow_document))
        if trigger_data is not None:
            write_private_file(path / TRIGGER_DATA_FILE, compact_json(trigger_data))
        context = context_document(pending, settings, now)
        write_private_file(path / CONTEXT_FILE, compact_json(context))
        if checkpoint is not None:
            write_private_file(path / CHECKPOINT_FILE, compact_json(checkpoint))
    except OSError as exc:
        raise WorkdirError(f"unable to prepare work directory {path}: {exc}") from exc
    argv = executor_argv(
        pending,
        settings,
        trigger_data=trigger_data is not None,
        context=True,
        checkpoint=checkpoint is not None,
    )
    return PreparedWorkdir(path, argv)


def read_state_file(workdir: Path, max_bytes: int = MAX_STATE_BYTES) -> StateFile:
    """Read ``state.json``; an unusable file yields an error naming the cause."""
    path = workdir / STATE_FILE
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                return StateFile(None, f"state.json is too large ({size} bytes, limit {max_bytes})")
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return StateFile(None, "executor exited without writing state.json")
    except OSError as exc:
        return StateFile(None, f"state.json could not be read: {exc}")
    if len(raw) > max_bytes:
        return StateFile(None, f"state.json is too large (over {max_bytes} bytes)")
    try:
        state = json.loads(raw)
    except ValueError as exc:
        return StateFile(None, f"state.json is not valid JSON: {exc}")
    if not isinstance(state, dict):
        return StateFile(None, f"state.json is not a JSON object (found {type(state).__name__})")
    return StateFile(state, None)


class WorkdirRetention:
    """Deletes successful work directories, keeps the newest ``keep_failed`` failed ones.

    Suspended executions keep their directory (the resume reuses it). Failed directories are
    marked with a file so the policy survives restarts.
    """

    def __init__(self, execution_root: Path, keep_failed: int) -> None:
        self._root = execution_root
        self._keep_failed = max(0, keep_failed)

    async def apply(self, workdir: Path, *, succeeded: bool, suspended: bool) -> None:
        """Apply the policy to one finished execution."""
        if suspended:
            return
        if succeeded:
            await _remove_workdir(workdir)
        else:
            await self._mark_failed(workdir)

    async def _mark_failed(self, workdir: Path) -> None:
        """Keep this failed directory, dropping the oldest failed ones beyond the limit."""
        try:
            write_private_file(workdir / _FAILED_MARKER, b"")
        except OSError:
            return
        marked = sorted(self._root.glob(f"*/*/{_FAILED_MARKER}"), key=_mtime_s, reverse=True)
        for marker in marked[self._keep_failed :]:
            await _remove_workdir(marker.parent)


def _mtime_s(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


async def _remove_workdir(workdir: Path) -> None:
    """Remove an execution's directory, then its flow's directory if that is now empty.

    A directory of a few plain files (what the runner and a typical executor write) is removed
    on the event loop: that costs less than a thread hand-off and the GIL hand-offs around it
    (docs/benchmarks.md, runner item 19). Any other tree, such as a checkout kept after a
    failure, could block for much longer and is removed in a worker thread. The flow's
    directory is removed on the loop, where it cannot interleave with another execution of the
    same flow creating its directory there.
    """
    if not _remove_small_flat_directory(workdir):
        await asyncio.to_thread(shutil.rmtree, workdir, ignore_errors=True)
    _remove_empty_parent(workdir)


def _remove_small_flat_directory(directory: Path) -> bool:
    """Remove ``directory`` when it holds only a few plain files; False when it was not removed.

    Whatever this leaves (a subdirectory, a symbolic link, many files, a file that appeared
    meanwhile) is for ``shutil.rmtree``.
    """
    try:
        with os.scandir(directory) as entries:
            paths: list[Path] = []
            for entry in entries:
                if len(paths) == _INLINE_REMOVAL_MAX_FILES or not entry.is_file(
                    follow_symlinks=False
                ):
                    return False
                paths.append(Path(entry.path))
        for path in paths:
            path.unlink()
        directory.rmdir()
    except OSError:
        return False
    return True


def _remove_empty_parent(workdir: Path) -> None:
    try:
        workdir.parent.rmdir()  # the flow's directory, once it holds no execution
    except OSError:
        pass
