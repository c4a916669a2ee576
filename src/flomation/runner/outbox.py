"""Durable outbox of requests that must reach the server, and the journal of running executions.

One SQLite file under the state directory (defect R3, issue 5). A state change or final result
is :meth:`Outbox.put` here (committed and fsync'd: WAL with ``synchronous=FULL``) before the first
attempt to send it, then marked delivered, retried with back-off, or dead-lettered. Entries are
replayed after a restart. The journal records executions in flight so that a runner restarted
after a crash can report them and kill the executor process groups they left behind.

Two writes are committed without an fsync (they reach the file, in order, but only a power loss
or kernel crash can lose them): a delivery mark (lost, the result is sent again after a restart
and the server answers 200 without storing it twice) and an executor's process group (after a
power loss no executor is left to kill). Every other write is on disk when its method returns.

Every method is synchronous; a lock serialises calls, so they may come from any thread. Async
code runs the short ones with :meth:`Outbox.call`: on the event loop itself while commits are
fast, because on a local disk a commit costs less than a thread hand-off, and the GIL hand-offs
of worker threads are what limits the runner's throughput (docs/benchmarks.md, runner item 18);
in worker threads for a while after an inline call took longer than ``slow_call_s`` (5 s, doubled
up to 5 min while the next inline call is slow too), so that a slow or busy disk cannot keep
stalling the event loop. Calls that may read or delete many rows (:meth:`due`,
:meth:`purge_done`) belong in a worker thread.
Timestamps are wall-clock seconds (``time.time()``): they must stay meaningful across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

__all__ = [
    "DELIVERED",
    "SCHEMA_VERSION",
    "EntryKind",
    "JournalEntry",
    "Outbox",
    "OutboxEntry",
    "OutboxError",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")

SCHEMA_VERSION = 1
DELIVERED = "delivered"  # done_reason of a delivered entry; any other reason means dead

EntryKind = Literal["state", "result"]

SLOW_CALL_S = 0.05  # an inline Outbox.call slower than this sends calls to worker threads...
_FIRST_PAUSE_S = 5.0  # ...for this long, doubled while the inline call after a pause is slow
_MAX_PAUSE_S = 300.0
PURGE_BATCH = 1000  # rows deleted per purge_done call, so the lock is never held for long

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('state', 'result')),
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    done_at REAL,
    done_reason TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (next_attempt_at, id) WHERE done_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_execution ON outbox (execution_id, kind);
CREATE TABLE IF NOT EXISTS journal (
    execution_id TEXT PRIMARY KEY,
    flo_id TEXT NOT NULL,
    work_dir TEXT NOT NULL,
    pid INTEGER,
    pgid INTEGER,
    started_at REAL NOT NULL
);
"""

_ENTRY_COLUMNS = (
    "id, execution_id, kind, method, path, body, created_at, attempts, next_attempt_at, "
    "last_error, done_at, done_reason"
)


class OutboxError(Exception):
    """The outbox file cannot be opened or used; the message names the file and the cause."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One request to deliver (or delivered, or dead-lettered when ``done_at`` is set)."""

    id: int
    execution_id: str
    kind: EntryKind
    method: str
    path: str  # request path, e.g. /api/v1/execution/<id>
    body: bytes  # the exact JSON body to send (emptied once delivered)
    created_at: float
    attempts: int  # failed attempts so far
    next_attempt_at: float
    last_error: str | None
    done_at: float | None
    done_reason: str | None  # DELIVERED, or why it was dead-lettered

    @property
    def pending(self) -> bool:
        return self.done_at is None

    @property
    def dead(self) -> bool:
        return self.done_at is not None and self.done_reason != DELIVERED


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """An execution that was running when the journal was last written."""

    execution_id: str
    flo_id: str
    work_dir: Path
    pid: int | None  # executor pid, None until it was started
    pgid: int | None  # executor process group, None until it was started
    started_at: float


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    return OutboxEntry(*row)


def _journal_entry(row: tuple[Any, ...]) -> JournalEntry:
    execution_id, flo_id, work_dir, pid, pgid, started_at = row
    return JournalEntry(
        execution_id=str(execution_id),
        flo_id=str(flo_id),
        work_dir=Path(str(work_dir)),
        pid=None if pid is None else int(pid),
        pgid=None if pgid is None else int(pgid),
        started_at=float(started_at),
    )


class Outbox:
    """The outbox and journal in one SQLite file; create it with :meth:`open`."""

    def __init__(
        self, path: Path, connection: sqlite3.Connection, *, slow_call_s: float = SLOW_CALL_S
    ) -> None:
        self.path = path
        self._db = connection
        self._lock = threading.Lock()
        self._slow_call_s = slow_call_s
        self._threads_until_s = -math.inf  # time.monotonic()
        self._pause_s = _FIRST_PAUSE_S

    @classmethod
    def open(cls, path: Path, *, slow_call_s: float = SLOW_CALL_S) -> Outbox:
        """Open or create the outbox file (mode 0600, parent directories created)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Create the file ourselves so that it (and SQLite's -wal/-shm, which copy its
            # permissions) is never readable by others, whatever the umask.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            connection = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=10
            )
        except (OSError, sqlite3.Error) as error:
            raise OutboxError(f"cannot open outbox {path}: {error}") from error
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.executescript(_SCHEMA)
            cls._check_version(connection, path)
        except sqlite3.Error as error:
            connection.close()
            raise OutboxError(f"cannot open outbox {path}: {error}") from error
        except OutboxError:
            connection.close()
            raise
        return cls(path, connection, slow_call_s=slow_call_s)

    @staticmethod
    def _check_version(connection: sqlite3.Connection, path: Path) -> None:
        rows = connection.execute("SELECT version FROM schema_version").fetchall()
        if not rows:
            connection.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            return
        version = rows[0][0]
        if version != SCHEMA_VERSION:
            raise OutboxError(
                f"outbox {path} has schema version {version}, this runner supports "
                f"{SCHEMA_VERSION}; move the file away or use a matching runner"
            )

    def close(self) -> None:
        """Close the file; idempotent."""
        with self._lock:
            self._db.close()

    async def call(self, method: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run a short outbox method for async code (inline or in a worker thread, see above)."""
        started_s = time.monotonic()
        if started_s < self._threads_until_s:
            return await asyncio.to_thread(method, *args, **kwargs)
        try:
            return method(*args, **kwargs)
        finally:
            # Only inline calls are timed: they measure how long the event loop stood still.
            finished_s = time.monotonic()
            if finished_s - started_s <= self._slow_call_s:
                self._pause_s = _FIRST_PAUSE_S
            else:
                self._threads_until_s = finished_s + self._pause_s
                self._pause_s = min(self._pause_s * 2, _MAX_PAUSE_S)

    # -- outbox -------------------------------------------------------------------------------

    def put(
        self,
        execution_id: str,
        kind: EntryKind,
        path: str,
        body: bytes,
        *,
        method: str = "POST",
        now: float | None = None,
        finish_journal: bool = False,
    ) -> int:
        """Store a request to deliver (due at once); durable on disk when this returns its id.

        ``finish_journal`` also ends the execution's in-flight record, in the same transaction:
        an execution with a stored result is no longer in flight, with no window between.
        """
        if kind not in ("state", "result"):
            raise ValueError(f"outbox entry kind must be 'state' or 'result', not {kind!r}")
        if not isinstance(body, bytes):
            raise TypeError(f"outbox entry body must be bytes, not {type(body).__name__}")
        created_at = time.time() if now is None else now
        statements: list[tuple[str, tuple[object, ...]]] = [
            (
                "INSERT INTO outbox (execution_id, kind, method, path, body, created_at, "
                "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (execution_id, kind, method, path, body, created_at, created_at),
            )
        ]
        if finish_journal:
            statements.append(("DELETE FROM journal WHERE execution_id = ?", (execution_id,)))
        entry_id = self._transaction(statements)[0].lastrowid
        assert entry_id is not None
        return entry_id

    def due(self, now: float, *, limit: int = -1) -> list[OutboxEntry]:
        """Pending entries whose next attempt is due at ``now``, oldest first, at most ``limit``.

        Bodies come along, and a result can weigh megabytes: callers bound the batch so that a
        long outage with many large results does not load them all at once.
        """
        return self._select(
            "WHERE done_at IS NULL AND next_attempt_at <= ? ORDER BY created_at, id LIMIT ?",
            (now, limit),
        )

    def pending(self) -> list[OutboxEntry]:
        """Every entry not yet delivered nor dead-lettered, oldest first."""
        return self._select("WHERE done_at IS NULL ORDER BY created_at, id", ())

    def get(self, entry_id: int) -> OutboxEntry | None:
        """One entry by id, whatever its state (for inspection and tests)."""
        rows = self._select("WHERE id = ?", (entry_id,))
        return rows[0] if rows else None

    def mark_delivered(self, entry_id: int, *, now: float | None = None) -> None:
        """The server accepted the entry; its body is dropped to keep the file small.

        Not fsync'd (see the module docstring): a lost mark only means one more delivery.
        """
        self._finish(entry_id, DELIVERED, now, clear_body=True, durable=False)

    def mark_failed_attempt(self, entry_id: int, error: str, next_attempt_at: float) -> None:
        """Count a failed attempt, remember why, and schedule the next one."""
        self._run(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
            "WHERE id = ? AND done_at IS NULL",
            (error, next_attempt_at, entry_id),
        )

    def mark_dead(self, entry_id: int, reason: str, *, now: float | None = None) -> None:
        """Give the entry up (kept with its body for inspection, no longer pending)."""
        if reason == DELIVERED:
            raise ValueError(f"{DELIVERED!r} is not a dead-letter reason")
        self._finish(entry_id, reason, now, clear_body=False, durable=True)

    def depth(self) -> int:
        """Number of pending entries."""
        rows = self._fetch("SELECT COUNT(*) FROM outbox WHERE done_at IS NULL")
        return int(rows[0][0])

    def oldest_age_s(self, now: float) -> float | None:
        """Age of the oldest pending entry, or None when nothing is pending."""
        oldest = self._fetch("SELECT MIN(created_at) FROM outbox WHERE done_at IS NULL")[0][0]
        return None if oldest is None else max(now - float(oldest), 0.0)

    def has_result(self, execution_id: str) -> bool:
        """True when a result for the execution was ever put (pending, delivered or dead)."""
        rows = self._fetch(
            "SELECT 1 FROM outbox WHERE execution_id = ? AND kind = 'result' LIMIT 1",
            (execution_id,),
        )
        return bool(rows)

    def purge_done(self, before: float) -> int:
        """Delete delivered and dead entries finished before ``before``, at most
        :data:`PURGE_BATCH` per call; returns how many (call again while it returns the limit).
        """
        cursor = self._run(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
            "WHERE done_at IS NOT NULL AND done_at < ? LIMIT ?)",
            (before, PURGE_BATCH),
        )
        return cursor.rowcount

    # -- journal ------------------------------------------------------------------------------

    def journal_start(
        self,
        execution_id: str,
        flo_id: str,
        work_dir: Path,
        pid: int | None,
        pgid: int | None,
        started_at: float,
    ) -> None:
        """Record an execution in flight (durable); replaces an earlier record of the same id."""
        self._run(
            "INSERT OR REPLACE INTO journal (execution_id, flo_id, work_dir, pid, pgid, "
            "started_at) VALUES (?, ?, ?, ?, ?, ?)",
            (execution_id, flo_id, str(work_dir), pid, pgid, started_at),
        )

    def journal_set_process(self, execution_id: str, pid: int, pgid: int) -> None:
        """Record the executor's pid and process group once it started (not fsync'd)."""
        self._run(
            "UPDATE journal SET pid = ?, pgid = ? WHERE execution_id = ?",
            (pid, pgid, execution_id),
            durable=False,
        )

    def journal_finish(self, execution_id: str) -> None:
        """The execution is no longer in flight (its result, if any, is in the outbox)."""
        self._run("DELETE FROM journal WHERE execution_id = ?", (execution_id,))

    def journal_inflight(self) -> list[JournalEntry]:
        """Executions started and not finished, oldest first."""
        rows = self._fetch(
            "SELECT execution_id, flo_id, work_dir, pid, pgid, started_at FROM journal "
            "ORDER BY started_at, execution_id"
        )
        return [_journal_entry(row) for row in rows]

    # -- helpers ------------------------------------------------------------------------------

    def _run(
        self, sql: str, parameters: tuple[object, ...] = (), *, durable: bool = True
    ) -> sqlite3.Cursor:
        """Execute one statement in its own transaction (see :meth:`_transaction`)."""
        return self._transaction([(sql, parameters)], durable=durable)[0]

    def _transaction(
        self, statements: list[tuple[str, tuple[object, ...]]], *, durable: bool = True
    ) -> list[sqlite3.Cursor]:
        """Execute statements in one transaction under the lock: all or nothing.

        Errors name the file. ``durable=False`` commits without an fsync (the module docstring
        says which writes may).
        """
        with self._lock:
            try:
                with self._synced(durable):
                    self._db.execute("BEGIN IMMEDIATE")
                    try:
                        cursors = [self._db.execute(sql, values) for sql, values in statements]
                        self._db.execute("COMMIT")
                    except BaseException:
                        self._db.execute("ROLLBACK")
                        raise
                return cursors
            except sqlite3.Error as error:
                raise OutboxError(f"outbox {self.path}: {error}") from error

    @contextlib.contextmanager
    def _synced(self, durable: bool) -> Iterator[None]:
        """Commits inside are fsync'd (the connection's setting) unless ``durable`` is false."""
        if durable:
            yield
            return
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous=FULL")

    def _fetch(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query (SQLite values are untyped, hence Any)."""
        with self._lock:
            try:
                return self._db.execute(sql, parameters).fetchall()
            except sqlite3.Error as error:
                raise OutboxError(f"outbox {self.path}: {error}") from error

    def _select(self, where: str, parameters: tuple[object, ...]) -> list[OutboxEntry]:
        rows = self._fetch(f"SELECT {_ENTRY_COLUMNS} FROM outbox {where}", parameters)
        return [_entry(row) for row in rows]

    def _finish(
        self, entry_id: int, reason: str, now: float | None, *, clear_body: bool, durable: bool
    ) -> None:
        done_at = time.time() if now is None else now
        body_sql = ", body = x''" if clear_body else ""
        self._run(
            f"UPDATE outbox SET done_at = ?, done_reason = ?{body_sql} "
            "WHERE id = ? AND done_at IS NULL",
            (done_at, reason, entry_id),
            durable=durable,
        )
