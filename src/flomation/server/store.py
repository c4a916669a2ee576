"""Every SQL statement of the server, behind one class (docs/protocol.md §8).

SQLite in WAL mode is the only backend today; a PostgreSQL backend would implement the same
async methods (claims with ``FOR UPDATE SKIP LOCKED``) without touching handlers.

Every operation is one call of a synchronous function over a persistent connection. The
runner protocol's hot paths (claim, heartbeat, state, logs, status, result, execute, v2 nonces)
run plain SQL on the sqlite3 DBAPI connection underneath SQLAlchemy's: SQLAlchemy Core's
per-statement overhead cost several times what SQLite takes to run these by-key statements
(with it, the lifecycle benchmark's server CPU per execution fell from ~8 ms to ~2.9 ms).
Everything else uses SQLAlchemy Core. Writes and small reads (a few rows by key) run directly on
the event loop: they take tens to hundreds of microseconds, less than handing them to a
thread (measured: a thread hop per operation doubled the CPU of 1,000 idle long-polls, and
aiosqlite's hop per statement made every request ~10x slower). Running every write on the loop
thread also serialises them without SQLite's sleeping busy handler; each is a
``BEGIN IMMEDIATE`` transaction, so several processes sharing the file stay correct (they then
wait on SQLite's lock, up to ``busy_timeout``). Reads that can return many rows (listings, log
replay, metrics) run on a small pool of reader threads, beside the writer thanks to WAL.

The schema is versioned: ``schema_version`` holds the number of applied migrations, and
``_MIGRATIONS`` is the ordered list applied at start-up.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import structlog
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError

from flomation.server.records import (
    ClaimedExecution,
    DispatchTarget,
    EnvironmentItemRecord,
    EnvironmentRecord,
    ExecutionCall,
    ExecutionRecord,
    FloRecord,
    QueueRecord,
    RunnerRecord,
    RunnerScope,
)
from flomation.server.state_files import create_private_database

__all__ = [
    "CancelOutcome",
    "ConflictError",
    "DatabaseUrlError",
    "ExecutionFilter",
    "LogBatch",
    "LogBatchError",
    "NewRunner",
    "ReapedExecution",
    "RegistrationOutcome",
    "ResultOutcome",
    "ResumeOutcome",
    "Store",
    "StoreNotFoundError",
    "sqlite_path",
]

_log = structlog.get_logger("flomation.server.store")
_BUSY_TIMEOUT_MS = 10_000
_READER_THREADS = 4
_P = ParamSpec("_P")
_T = TypeVar("_T")
_IN_PROGRESS = ("allocated", "running")
_TERMINAL = ("success", "fail", "cancel", "timeout")


class DatabaseUrlError(ValueError):
    """A ``--database`` URL the server cannot use."""


class ConflictError(Exception):
    """A uniqueness rule was violated (duplicate queue name, environment name...)."""


class StoreNotFoundError(Exception):
    """A referenced row (environment, queue...) does not exist; the message names it."""


class ResultOutcome(Enum):
    """What storing a runner's result did (protocol 8.2)."""

    COMPLETED = "completed"
    SUSPENDED = "suspended"
    RESULT_ADDED = "result_added"
    UNCHANGED = "unchanged"


class CancelOutcome(Enum):
    """What an operator cancel did."""

    CANCELLED = "cancelled"
    NOT_IN_PROGRESS = "not_in_progress"
    NOT_FOUND = "not_found"


class ResumeOutcome(Enum):
    """What an operator resume did."""

    RESUMED = "resumed"
    NOT_SUSPENDED = "not_suspended"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class NewRunner:
    """A registration for an identifier the server does not know yet."""

    identifier: str
    name: str
    registration_code: str
    version: str | None
    executor_version: str | None
    manifest: Any
    public_key: str
    ip_address: str | None


@dataclass(frozen=True)
class RegistrationOutcome:
    """``runner`` is set for a new enrolment; ``known`` for an identifier already enrolled."""

    runner: RunnerRecord | None
    known: bool
    unknown_code: bool


@dataclass(frozen=True)
class ExecutionFilter:
    """Filters of ``GET /api/v1/execution`` (§10.3)."""

    flo_id: str | None = None
    execution_status: str | None = None
    completion_status: str | None = None
    limit: int = 100


@dataclass(frozen=True)
class LogBatch:
    """Lines to append, with the JSON document they were parsed from.

    ``document`` is a JSON object whose only member is ``lines``, the array ``lines`` came from:
    SQLite inserts straight from it instead of from the lines encoded again.
    """

    lines: Sequence[str]
    document: str


class LogBatchError(ValueError):
    """The batch's document does not hold exactly its lines (e.g. a duplicated key)."""


@dataclass(frozen=True)
class ReapedExecution:
    """An execution the reaper finished, with the completion it was given."""

    execution_id: str
    completion_status: str


def sqlite_path(database_url: str) -> Path:
    """The file behind a ``sqlite:///`` URL; DatabaseUrlError for anything else."""
    try:
        url = make_url(database_url)
    except Exception as exc:
        raise DatabaseUrlError(f"invalid database URL {database_url!r}: {exc}") from exc
    if url.get_backend_name() != "sqlite":
        raise DatabaseUrlError(
            f"unsupported database {url.get_backend_name()!r}: only sqlite:/// URLs are supported"
        )
    if not url.database or url.database == ":memory:":
        raise DatabaseUrlError("the database URL must name a file, e.g. sqlite:///./server.db")
    return Path(url.database)


_metadata = MetaData()

_schema_version = Table("schema_version", _metadata, Column("version", Integer, nullable=False))

_queues = Table(
    "queues",
    _metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("registration_code", Text, nullable=False, unique=True),
    Column("organisation_id", Text),
    Column("created_at", Float, nullable=False),
)

_runners = Table(
    "runners",
    _metadata,
    Column("id", Text, primary_key=True),
    Column("identifier", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("enrolled_at", Float, nullable=False),
    Column("last_contact_at", Float),
    Column("ip_address", Text),
    Column("active", Boolean, nullable=False),
    Column("version", Text),
    Column("executor_version", Text),
    Column("manifest", Text),
    Column("public_key", Text, nullable=False),
)

# The columns a RunnerRecord carries, in its field order: the manifest (which can be large) is
# stored but never read back on a request.
_RUNNER_RECORD_COLUMNS = tuple(column for column in _runners.c if column.name != "manifest")
_RUNNER_RECORD_NAMES = tuple(column.name for column in _RUNNER_RECORD_COLUMNS)

_queue_members = Table(
    "queue_members",
    _metadata,
    Column("queue_id", Text, ForeignKey("queues.id"), primary_key=True),
    Column("runner_id", Text, ForeignKey("runners.id"), primary_key=True),
    Index("ix_queue_members_runner", "runner_id"),
)

_environments = Table(
    "environments",
    _metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("owner_id", Text, nullable=False),
    Column("organisation_id", Text),
    # organisation_id or "" so that uniqueness also holds for public environments.
    Column("organisation_key", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("organisation_key", "name"),
)

_environment_items = Table(
    "environment_items",
    _metadata,
    Column("id", Text, primary_key=True),
    Column("environment_id", Text, ForeignKey("environments.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("value", Text),
    Column("sealed", LargeBinary),
    Column("provider", Text),
    Column("expires_at", Text),
    Column("metadata", Text),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("environment_id", "kind", "name"),
)

_flos = Table(
    "flos",
    _metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("organisation_id", Text),
    Column("author_id", Text),
    Column("environment_id", Text, ForeignKey("environments.id")),
    Column("queue_id", Text, ForeignKey("queues.id")),
    Column("created_at", Float, nullable=False),
    Column("execution_count", Integer, nullable=False, default=0),
    Column("last_run", Float),
)

_revisions = Table(
    "revisions",
    _metadata,
    Column("id", Text, primary_key=True),
    Column("flo_id", Text, ForeignKey("flos.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("flo_id", "number"),
)

_executions = Table(
    "executions",
    _metadata,
    Column("id", Text, primary_key=True),
    Column("flo_id", Text, ForeignKey("flos.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("owner_id", Text, nullable=False),
    Column("organisation_id", Text),
    Column("sequence", Integer, nullable=False),
    Column("trigger_type", Text),
    Column("entry_node_id", Text),
    Column("data", Text),
    Column("execution_status", Text, nullable=False),
    Column("completion_status", Text, nullable=False),
    Column("completion_reason", Text),
    Column("runner_id", Text),
    Column("result", Text),
    Column("checkpoint", Text),
    Column("suspend_count", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float),
    Column("allocated_at", Float),
    Column("started_at", Float),
    Column("completed_at", Float),
    Column("last_contact_at", Float),
    Column("log_bytes", Integer, nullable=False, default=0),
    Column("log_truncated", Boolean, nullable=False, default=False),
    Column("log_seq", Integer, nullable=False, default=0),
    Index("ix_executions_status_created", "execution_status", "created_at"),
    Index("ix_executions_flo", "flo_id", "created_at"),
)
_EXECUTION_NAMES = tuple(column.name for column in _executions.c)

_execution_logs = Table(
    "execution_logs",
    _metadata,
    Column("execution_id", Text, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("line", Text, nullable=False),
    # Stored in key order: an insert writes one b-tree, not a table and its key's index.
    sqlite_with_rowid=False,
)

_nonces = Table(
    "nonces",
    _metadata,
    Column("key_id", Text, primary_key=True),
    Column("nonce", Text, primary_key=True),
    Column("seen_at", Float, nullable=False),
    Index("ix_nonces_seen_at", "seen_at"),
)


def _migration_1_initial_schema(conn: Connection) -> None:
    _metadata.create_all(
        conn, tables=[t for t in _metadata.sorted_tables if t is not _schema_version]
    )


def _migration_2_clustered_log_lines(conn: Connection) -> None:
    """Rebuild ``execution_logs`` WITHOUT ROWID, keeping its lines (~40 % less CPU per line)."""
    conn.exec_driver_sql("ALTER TABLE execution_logs RENAME TO execution_logs_rowid")
    _execution_logs.create(conn)
    conn.exec_driver_sql(
        "INSERT INTO execution_logs (execution_id, seq, line) "
        "SELECT execution_id, seq, line FROM execution_logs_rowid"
    )
    conn.exec_driver_sql("DROP TABLE execution_logs_rowid")


_MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _migration_1_initial_schema,
    _migration_2_clustered_log_lines,
)

_ELIGIBLE_SQL = """
    e.execution_status = 'created' AND e.completion_status = 'pending'
    AND (
        f.queue_id IN (SELECT queue_id FROM queue_members WHERE runner_id = :runner_id)
        OR (
            f.queue_id IS NULL
            AND COALESCE(e.organisation_id, '') IN (
                SELECT COALESCE(q.organisation_id, '') FROM queues q
                JOIN queue_members m ON m.queue_id = q.id WHERE m.runner_id = :runner_id
            )
        )
    )
"""

_PENDING_PER_QUEUE = text(
    """
    SELECT q.name, COUNT(e.id) FROM queues q
    LEFT JOIN flos f ON (f.queue_id = q.id OR f.queue_id IS NULL)
    LEFT JOIN executions e ON e.flo_id = f.id
        AND e.execution_status = 'created' AND e.completion_status = 'pending'
        AND (f.queue_id = q.id
             OR COALESCE(e.organisation_id, '') = COALESCE(q.organisation_id, ''))
    GROUP BY q.id, q.name
    """
)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _load(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _new_id() -> str:
    return str(uuid.uuid4())


def _runner_from(row: Sequence[Any], queue_ids: Sequence[str] = ()) -> RunnerRecord:
    """A runner from ``_RUNNER_RECORD_COLUMNS`` (a SQLAlchemy or sqlite3 row)."""
    values = dict(zip(_RUNNER_RECORD_NAMES, row, strict=True))
    return RunnerRecord(
        **values | {"active": bool(values["active"]), "queue_ids": tuple(queue_ids)}
    )


def _execution_from(row: Sequence[Any]) -> ExecutionRecord:
    """An execution from the columns of ``executions`` in table order."""
    values = dict(zip(_EXECUTION_NAMES, row, strict=True))
    del values["log_seq"]  # the server's own counter, not part of the record
    for column in ("data", "result", "checkpoint"):
        values[column] = _load(values[column])
    values["log_truncated"] = bool(values["log_truncated"])
    return ExecutionRecord(**values)


_Plain = TypeVar("_Plain", QueueRecord, EnvironmentRecord)


def _plain_record(record_type: type[_Plain], row: Row[Any]) -> _Plain:
    """A record whose fields are columns of the same name, taken as they are."""
    return record_type(**{field.name: getattr(row, field.name) for field in fields(record_type)})


def _item_from(row: Row[Any]) -> EnvironmentItemRecord:
    return EnvironmentItemRecord(
        id=row.id,
        environment_id=row.environment_id,
        kind=row.kind,
        name=row.name,
        value=row.value,
        sealed=row.sealed,
        provider=row.provider,
        expires_at=row.expires_at,
        metadata=_load(row.metadata),
        created_at=row.created_at,
    )


_FLO_COLUMNS = (
    _flos.c.id,
    _flos.c.name,
    _flos.c.organisation_id,
    _flos.c.author_id,
    _flos.c.environment_id,
    _environments.c.name.label("environment_name"),
    _flos.c.queue_id,
    _flos.c.created_at,
    _flos.c.execution_count,
    _flos.c.last_run,
)
_FLO_SELECT = select(*_FLO_COLUMNS).select_from(
    _flos.outerjoin(_environments, _environments.c.id == _flos.c.environment_id)
)


def _columns(columns: Iterable[Column[Any]], alias: str) -> str:
    """The named columns, in order, qualified by ``alias`` (for the row builders)."""
    return ", ".join(f"{alias}.{column.name}" for column in columns)


_EXECUTION_BY_ID = select(_executions).where(_executions.c.id == bindparam("b_execution_id"))

# The statements of the runner protocol's hot paths, as plain SQL for the sqlite3 connection:
# SQLAlchemy's per-statement work (compiled-cache lookup, parameter processing, result
# metadata, events) costs several times what SQLite takes to run these by-key statements.
_SQL_RUNNER_BY_IDENTIFIER = (
    f"SELECT {_columns(_RUNNER_RECORD_COLUMNS, 'r')} FROM runners r WHERE r.identifier = ?"
)
_SQL_HEARTBEAT = "UPDATE runners SET last_contact_at = ?, ip_address = ? WHERE id = ?"
_SQL_RUNNER_SCOPE = """
    SELECT q.id, q.organisation_id FROM queues q
    JOIN queue_members m ON m.queue_id = q.id WHERE m.runner_id = ?
"""
_SQL_CLAIM_CANDIDATE = f"""
    SELECT e.id, e.flo_id FROM executions e JOIN flos f ON f.id = e.flo_id
    WHERE {_ELIGIBLE_SQL}
    ORDER BY e.created_at, e.rowid
    LIMIT 1
"""
_SQL_FLO_BY_ID = """
    SELECT f.id, f.name, f.organisation_id, f.author_id, f.environment_id, v.name, f.queue_id,
           f.created_at, f.execution_count, f.last_run
    FROM flos f LEFT JOIN environments v ON v.id = f.environment_id WHERE f.id = ?
"""
_SQL_LATEST_REVISION = "SELECT data FROM revisions WHERE flo_id = ? ORDER BY number DESC LIMIT 1"
_SQL_FAIL_UNRUNNABLE = """
    UPDATE executions SET execution_status = 'executed', completion_status = 'fail',
        completion_reason = 'flow or revision missing', completed_at = :now, updated_at = :now
    WHERE id = :execution_id
"""
_SQL_ALLOCATE = """
    UPDATE executions SET execution_status = 'allocated', runner_id = :runner_id,
        allocated_at = :now, last_contact_at = :now, updated_at = :now
    WHERE id = :execution_id AND execution_status = 'created'
"""
_SQL_EXECUTION_BY_ID = f"SELECT {_columns(_executions.c, 'e')} FROM executions e WHERE e.id = ?"
_SQL_EXECUTION_CALL = f"""
    SELECT e.id, e.flo_id, e.execution_status, e.completion_status,
           {_columns(_RUNNER_RECORD_COLUMNS, "r")}
    FROM executions e LEFT JOIN runners r ON r.id = e.runner_id WHERE e.id = ?
"""
_SQL_TOUCH_EXECUTION = "UPDATE executions SET last_contact_at = ? WHERE id = ?"
_SQL_TOUCH_RUNNER = "UPDATE runners SET last_contact_at = ? WHERE id = ?"
_SQL_SET_RUNNING = """
    UPDATE executions SET execution_status = 'running', started_at = :now, updated_at = :now
    WHERE id = :execution_id AND execution_status = 'allocated' AND completion_status = 'pending'
"""
_SQL_LOG_STATE = "SELECT log_bytes, log_truncated, log_seq FROM executions WHERE id = ?"
_SQL_INSERT_LOG_LINE = "INSERT INTO execution_logs (execution_id, seq, line) VALUES (?, ?, ?)"
# A whole batch in one statement: SQLite walks the request's JSON array itself, which costs half
# the CPU of binding and stepping one INSERT per line (executemany) for 100-byte lines, and
# saves encoding the parsed lines to JSON again.
_SQL_INSERT_LOG_LINES = """
    INSERT INTO execution_logs (execution_id, seq, line)
    SELECT ?1, ?2 + key, value FROM json_each(?3, '$.lines')
    WHERE (SELECT count(*) FROM json_each(?3)) = 1
"""
_SQL_SET_LOG_STATE = (
    "UPDATE executions SET log_bytes = ?, log_seq = ?, log_truncated = ? WHERE id = ?"
)
_SQL_RESULT_STATE = (
    "SELECT execution_status, completion_status, result FROM executions WHERE id = ?"
)
_SQL_SUSPEND = """
    UPDATE executions SET execution_status = 'suspended', completion_status = 'suspended',
        result = :result, checkpoint = :checkpoint, suspend_count = suspend_count + 1,
        updated_at = :now
    WHERE id = :execution_id
"""
_SQL_COMPLETE = """
    UPDATE executions SET execution_status = 'executed', completion_status = :completion,
        completion_reason = :reason, result = :result, completed_at = :now, updated_at = :now
    WHERE id = :execution_id
"""
_SQL_ADD_RESULT = "UPDATE executions SET result = ?, updated_at = ? WHERE id = ?"
_SQL_FLO_FOR_EXECUTE = (
    "SELECT name, organisation_id, queue_id, execution_count FROM flos WHERE id = ?"
)
_SQL_INSERT_EXECUTION = """
    INSERT INTO executions (
        id, flo_id, name, owner_id, organisation_id, sequence, trigger_type, entry_node_id, data,
        execution_status, completion_status, suspend_count, created_at, updated_at,
        log_bytes, log_truncated, log_seq
    ) VALUES (
        :id, :flo_id, :name, :owner_id, :organisation_id, :sequence, 'manual', :entry_node_id,
        :data, 'created', 'pending', 0, :now, :now, 0, 0, 0
    )
"""
_SQL_COUNT_EXECUTION = "UPDATE flos SET execution_count = ?, last_run = ? WHERE id = ?"
_SQL_REMEMBER_NONCE = "INSERT INTO nonces (key_id, nonce, seen_at) VALUES (?, ?, ?)"


def _flo_from(row: Sequence[Any]) -> FloRecord:
    """A flow from the columns of ``_FLO_COLUMNS`` (the order of FloRecord's fields)."""
    return FloRecord(*row)


def _is_pending(status: str, completion: str) -> bool:
    return completion == "pending" and status in ("created", "allocated", "running")


class _Queries:
    """The SQL itself: synchronous SQLAlchemy Core, one persistent connection per thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # One connection per worker thread, kept for the thread's life: checking a connection
        # out of the pool and resetting it costs more than the statements of most operations.
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._connections_lock = threading.Lock()

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "connection", None)
        if conn is None:
            conn = self._engine.connect()
            self._local.connection = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def close_connections(self) -> None:
        """Close every thread's connection (after the worker threads have stopped)."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def _sqlite(self) -> sqlite3.Connection:
        """This thread's connection as the sqlite3 DBAPI object, for the hot paths' SQL."""
        db: sqlite3.Connection | None = getattr(self._local, "sqlite", None)
        if db is None:
            db = cast(sqlite3.Connection, self._connection().connection.driver_connection)
            self._local.sqlite = db
        return db

    @contextmanager
    def _sqlite_write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction on the sqlite3 connection, committed at the end."""
        db = self._sqlite()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        conn = self._connection()
        conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        with conn.begin():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # No BEGIN: each read statement runs in SQLite's own implicit transaction.
        conn = self._connection()
        conn.execution_options(sqlite_begin=None)
        try:
            yield conn
        finally:
            conn.rollback()

    def migrate(self) -> None:
        """Apply the migrations that are newer than ``schema_version``."""
        with self._write() as conn:
            _schema_version.create(conn, checkfirst=True)
            current = conn.execute(select(_schema_version.c.version)).scalar()
            if current is None:
                conn.execute(insert(_schema_version).values(version=0))
                current = 0
            for number, migration in enumerate(_MIGRATIONS, start=1):
                if number > current:
                    # Said before it runs: rebuilding a large table takes a while.
                    _log.info(
                        "applying database migration",
                        migration=number,
                        name=migration.__name__.removeprefix(f"_migration_{number}_"),
                    )
                    migration(conn)
                    conn.execute(update(_schema_version).values(version=number))

    def schema_version(self) -> int:
        """Number of migrations applied."""
        with self._read() as conn:
            return int((conn.execute(select(_schema_version.c.version))).scalar_one())

    def create_queue(self, name: str, organisation_id: str | None, now_s: float) -> QueueRecord:
        """A new queue with a fresh 32-hex registration code; ConflictError for a duplicate name."""
        record = QueueRecord(_new_id(), name, secrets.token_hex(16), organisation_id, now_s)
        try:
            with self._write() as conn:
                conn.execute(
                    insert(_queues).values(
                        id=record.id,
                        name=name,
                        registration_code=record.registration_code,
                        organisation_id=organisation_id,
                        created_at=now_s,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"a queue named {name!r} already exists") from exc
        return record

    def list_queues(self) -> list[QueueRecord]:
        """All queues, newest first."""
        with self._read() as conn:
            rows = conn.execute(select(_queues).order_by(_queues.c.created_at.desc()))
            return [_plain_record(QueueRecord, row) for row in rows]

    def find_runner(self, identifier: str) -> RunnerRecord | None:
        """The runner enrolled under ``identifier`` (the 16-letter one, not the UUID)."""
        row = self._sqlite().execute(_SQL_RUNNER_BY_IDENTIFIER, (identifier,)).fetchone()
        return None if row is None else _runner_from(row)

    def register_runner(self, new: NewRunner, now_s: float) -> RegistrationOutcome:
        """Enrol a new identifier into the queue of its code, all or nothing.

        A concurrent enrolment of the same identifier is reported as ``known`` (§8.1 A7).
        """
        try:
            with self._write() as conn:
                queue_id = (
                    conn.execute(
                        select(_queues.c.id).where(
                            _queues.c.registration_code == new.registration_code
                        )
                    )
                ).scalar()
                if queue_id is None:
                    return RegistrationOutcome(None, known=False, unknown_code=True)
                runner = RunnerRecord(
                    id=_new_id(),
                    identifier=new.identifier,
                    name=new.name,
                    enrolled_at=now_s,
                    last_contact_at=now_s,
                    ip_address=new.ip_address,
                    active=True,
                    version=new.version,
                    executor_version=new.executor_version,
                    public_key=new.public_key,
                    queue_ids=(queue_id,),
                )
                conn.execute(
                    insert(_runners).values(
                        id=runner.id,
                        identifier=runner.identifier,
                        name=runner.name,
                        enrolled_at=now_s,
                        last_contact_at=now_s,
                        ip_address=runner.ip_address,
                        active=True,
                        version=runner.version,
                        executor_version=runner.executor_version,
                        manifest=_dump(new.manifest),
                        public_key=runner.public_key,
                    )
                )
                conn.execute(insert(_queue_members).values(queue_id=queue_id, runner_id=runner.id))
        except IntegrityError:
            return RegistrationOutcome(None, known=True, unknown_code=False)
        return RegistrationOutcome(runner, known=False, unknown_code=False)

    def refresh_runner(
        self,
        runner_id: str,
        *,
        version: str | None,
        executor_version: str | None,
        ip_address: str | None,
        now_s: float,
        signed_name: str | None = None,
        signed_manifest: Any = None,
        signed: bool = False,
    ) -> None:
        """Re-registration of a known identifier (§8.1 A5); the key never changes."""
        values: dict[str, Any] = {
            "version": version,
            "executor_version": executor_version,
            "ip_address": ip_address,
            "last_contact_at": now_s,
        }
        if signed:
            if signed_name is not None:
                values["name"] = signed_name
            values["manifest"] = _dump(signed_manifest)
        with self._write() as conn:
            conn.execute(update(_runners).where(_runners.c.id == runner_id).values(**values))

    def heartbeat(self, runner_id: str, ip_address: str | None, now_s: float) -> RunnerScope:
        """Record a poll as the runner's heartbeat; returns the queues and organisations whose
        executions it may take."""
        with self._sqlite_write() as db:
            db.execute(_SQL_HEARTBEAT, (now_s, ip_address, runner_id))
            rows = db.execute(_SQL_RUNNER_SCOPE, (runner_id,)).fetchall()
        pairs = [(queue_id, organisation_id or "") for queue_id, organisation_id in rows]
        return RunnerScope(
            frozenset(queue for queue, _ in pairs), frozenset(org for _, org in pairs)
        )

    def list_runners(self) -> list[RunnerRecord]:
        """All runners with their queue ids, newest first."""
        with self._read() as conn:
            members: dict[str, list[str]] = {}
            for row in conn.execute(select(_queue_members)):
                members.setdefault(row.runner_id, []).append(row.queue_id)
            rows = conn.execute(
                select(*_RUNNER_RECORD_COLUMNS).order_by(_runners.c.enrolled_at.desc())
            )
            return [_runner_from(row, members.get(row.id, ())) for row in rows]

    def set_runner_active(self, runner_id: str, active: bool) -> RunnerRecord | None:
        """Pause (False) or resume (True) a runner; None when it does not exist."""
        with self._write() as conn:
            result = conn.execute(
                update(_runners).where(_runners.c.id == runner_id).values(active=active)
            )
            if result.rowcount == 0:
                return None
            row = conn.execute(
                select(*_RUNNER_RECORD_COLUMNS).where(_runners.c.id == runner_id)
            ).one()
            queue_ids = (
                conn.execute(
                    select(_queue_members.c.queue_id).where(_queue_members.c.runner_id == runner_id)
                )
            ).scalars()
            return _runner_from(row, list(queue_ids))

    def create_environment(
        self, name: str, owner_id: str, organisation_id: str | None, now_s: float
    ) -> EnvironmentRecord:
        """A new environment; ConflictError for a duplicate name within the organisation."""
        record = EnvironmentRecord(_new_id(), name, owner_id, organisation_id, now_s)
        try:
            with self._write() as conn:
                conn.execute(
                    insert(_environments).values(
                        id=record.id,
                        name=name,
                        owner_id=owner_id,
                        organisation_id=organisation_id,
                        organisation_key=organisation_id or "",
                        created_at=now_s,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(
                f"an environment named {name!r} already exists in this organisation"
            ) from exc
        return record

    def resolve_environment(
        self, id_or_name: str, organisation_id: str | None
    ) -> EnvironmentRecord | None:
        """An environment by UUID, else by name within the organisation (§4.7)."""
        with self._read() as conn:
            row = (
                conn.execute(
                    select(_environments)
                    .where(
                        or_(
                            _environments.c.id == id_or_name,
                            and_(
                                _environments.c.name == id_or_name,
                                _environments.c.organisation_key == (organisation_id or ""),
                            ),
                        )
                    )
                    .order_by((_environments.c.id == id_or_name).desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else _plain_record(EnvironmentRecord, row)

    def put_environment_item(
        self,
        environment_id: str,
        kind: str,
        name: str,
        now_s: float,
        *,
        value: str | None = None,
        sealed: bytes | None = None,
        provider: str | None = None,
        expires_at: str | None = None,
        metadata: Any = None,
    ) -> EnvironmentItemRecord:
        """Create or replace a property / secret / credential; StoreNotFoundError without env."""
        with self._write() as conn:
            exists = (
                conn.execute(select(_environments.c.id).where(_environments.c.id == environment_id))
            ).first()
            if exists is None:
                raise StoreNotFoundError(f"environment {environment_id!r} not found")
            conn.execute(
                delete(_environment_items).where(
                    _environment_items.c.environment_id == environment_id,
                    _environment_items.c.kind == kind,
                    _environment_items.c.name == name,
                )
            )
            record = EnvironmentItemRecord(
                id=_new_id(),
                environment_id=environment_id,
                kind=kind,
                name=name,
                value=value,
                sealed=sealed,
                provider=provider,
                expires_at=expires_at,
                metadata=metadata,
                created_at=now_s,
            )
            conn.execute(
                insert(_environment_items).values(
                    id=record.id,
                    environment_id=environment_id,
                    kind=kind,
                    name=name,
                    value=value,
                    sealed=sealed,
                    provider=provider,
                    expires_at=expires_at,
                    metadata=_dump(metadata),
                    created_at=now_s,
                )
            )
        return record

    def get_environment_item(
        self, environment_id: str, kind: str, name: str
    ) -> EnvironmentItemRecord | None:
        """One property / secret / credential of an environment."""
        with self._read() as conn:
            row = (
                conn.execute(
                    select(_environment_items).where(
                        _environment_items.c.environment_id == environment_id,
                        _environment_items.c.kind == kind,
                        _environment_items.c.name == name,
                    )
                )
            ).first()
        return None if row is None else _item_from(row)

    def create_flo(
        self,
        *,
        name: str,
        data: Any,
        organisation_id: str | None,
        author_id: str | None,
        environment_id: str | None,
        queue_id: str | None,
        now_s: float,
    ) -> FloRecord:
        """A flow with revision 1; StoreNotFoundError for an unknown environment or queue."""
        with self._write() as conn:
            environment_name: str | None = None
            if environment_id is not None:
                environment_name = (
                    conn.execute(
                        select(_environments.c.name).where(_environments.c.id == environment_id)
                    )
                ).scalar()
                if environment_name is None:
                    raise StoreNotFoundError(f"environment {environment_id!r} not found")
            if queue_id is not None:
                found = (conn.execute(select(_queues.c.id).where(_queues.c.id == queue_id))).first()
                if found is None:
                    raise StoreNotFoundError(f"queue {queue_id!r} not found")
            flo = FloRecord(
                id=_new_id(),
                name=name,
                organisation_id=organisation_id,
                author_id=author_id,
                environment_id=environment_id,
                environment_name=environment_name,
                queue_id=queue_id,
                created_at=now_s,
                execution_count=0,
                last_run=None,
            )
            conn.execute(
                insert(_flos).values(
                    id=flo.id,
                    name=name,
                    organisation_id=organisation_id,
                    author_id=author_id,
                    environment_id=environment_id,
                    queue_id=queue_id,
                    created_at=now_s,
                    execution_count=0,
                )
            )
            conn.execute(
                insert(_revisions).values(
                    id=_new_id(), flo_id=flo.id, number=1, data=_dump(data), created_at=now_s
                )
            )
        return flo

    def get_flo(self, flo_id: str) -> FloRecord | None:
        """The flow with this UUID."""
        with self._read() as conn:
            row = (conn.execute(_FLO_SELECT.where(_flos.c.id == flo_id))).first()
        return None if row is None else _flo_from(row)

    def add_revision(self, flo_id: str, data: Any, now_s: float) -> dict[str, Any] | None:
        """Append a revision (dispatched from now on); None for an unknown flow."""
        with self._write() as conn:
            exists = (conn.execute(select(_flos.c.id).where(_flos.c.id == flo_id))).first()
            if exists is None:
                return None
            number = (
                conn.execute(
                    select(func.coalesce(func.max(_revisions.c.number), 0)).where(
                        _revisions.c.flo_id == flo_id
                    )
                )
            ).scalar_one()
            revision_id = _new_id()
            conn.execute(
                insert(_revisions).values(
                    id=revision_id,
                    flo_id=flo_id,
                    number=number + 1,
                    data=_dump(data),
                    created_at=now_s,
                )
            )
        return {"id": revision_id, "flo_id": flo_id, "created_at": now_s}

    def create_execution(
        self,
        flo_id: str,
        *,
        data: Any,
        entry_node_id: str | None,
        owner_id: str,
        now_s: float,
    ) -> tuple[str, DispatchTarget] | None:
        """A ``created``/``pending`` execution (T1); None for an unknown flow."""
        with self._sqlite_write() as db:
            flo = db.execute(_SQL_FLO_FOR_EXECUTE, (flo_id,)).fetchone()
            if flo is None:
                return None
            name, organisation_id, queue_id, execution_count = flo
            execution_id = _new_id()
            sequence = execution_count + 1
            db.execute(
                _SQL_INSERT_EXECUTION,
                {
                    "id": execution_id,
                    "flo_id": flo_id,
                    "name": name,
                    "owner_id": owner_id,
                    "organisation_id": organisation_id,
                    "sequence": sequence,
                    "entry_node_id": entry_node_id,
                    "data": _dump(data),
                    "now": now_s,
                },
            )
            db.execute(_SQL_COUNT_EXECUTION, (sequence, now_s, flo_id))
        return execution_id, DispatchTarget(queue_id, organisation_id or "")

    def claim_next(self, runner_id: str, now_s: float) -> ClaimedExecution | None:
        """Claim the oldest eligible execution for this runner in one transaction (§8.1 A2).

        Executions whose flow has no revision are failed with a reason and skipped.
        """
        with self._sqlite_write() as db:
            while True:
                candidate = db.execute(_SQL_CLAIM_CANDIDATE, {"runner_id": runner_id}).fetchone()
                if candidate is None:
                    return None
                execution_id, flo_id = candidate
                flo_row = db.execute(_SQL_FLO_BY_ID, (flo_id,)).fetchone()
                revision = db.execute(_SQL_LATEST_REVISION, (flo_id,)).fetchone()
                if flo_row is None or revision is None:
                    db.execute(_SQL_FAIL_UNRUNNABLE, {"execution_id": execution_id, "now": now_s})
                    continue
                db.execute(
                    _SQL_ALLOCATE,
                    {"execution_id": execution_id, "runner_id": runner_id, "now": now_s},
                )
                claimed = db.execute(_SQL_EXECUTION_BY_ID, (execution_id,)).fetchone()
                return ClaimedExecution(
                    execution=_execution_from(claimed),
                    flo=_flo_from(flo_row),
                    revision_data=_load(revision[0]),
                )

    def has_candidate(self, runner_id: str) -> bool:
        """True when some execution is currently claimable by this runner."""
        db = self._sqlite()
        return db.execute(_SQL_CLAIM_CANDIDATE, {"runner_id": runner_id}).fetchone() is not None

    def release_claim(self, execution_id: str, runner_id: str, now_s: float) -> bool:
        """Undo a claim whose 200 could not be delivered (guarded: still allocated to us)."""
        with self._write() as conn:
            result = conn.execute(
                update(_executions)
                .where(
                    _executions.c.id == execution_id,
                    _executions.c.runner_id == runner_id,
                    _executions.c.execution_status == "allocated",
                    _executions.c.completion_status == "pending",
                )
                .values(
                    execution_status="created",
                    runner_id=None,
                    allocated_at=None,
                    last_contact_at=None,
                    updated_at=now_s,
                )
            )
            return bool(result.rowcount)

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        """The execution with this id."""
        with self._read() as conn:
            row = conn.execute(_EXECUTION_BY_ID, {"b_execution_id": execution_id}).first()
        return None if row is None else _execution_from(row)

    def execution_call(self, execution_id: str) -> ExecutionCall | None:
        """The execution's status and assigned runner, in one read (None when unknown)."""
        row = self._sqlite().execute(_SQL_EXECUTION_CALL, (execution_id,)).fetchone()
        if row is None:
            return None
        runner = None if row[4] is None else _runner_from(row[4:])
        return ExecutionCall(row[0], row[1], row[2], row[3], runner)

    def dispatch_target(self, execution_id: str) -> DispatchTarget | None:
        """Which runners may take this execution."""
        with self._read() as conn:
            row = (
                conn.execute(
                    select(_flos.c.queue_id, _executions.c.organisation_id)
                    .join(_flos, _flos.c.id == _executions.c.flo_id)
                    .where(_executions.c.id == execution_id)
                )
            ).first()
        return None if row is None else DispatchTarget(row.queue_id, row.organisation_id or "")

    def claimable_targets_since(self, since_s: float) -> set[DispatchTarget]:
        """Targets of ``created``/``pending`` executions created, resumed or released since."""
        with self._read() as conn:
            rows = conn.execute(
                select(_flos.c.queue_id, _executions.c.organisation_id)
                .join(_flos, _flos.c.id == _executions.c.flo_id)
                .where(
                    _executions.c.execution_status == "created",
                    _executions.c.completion_status == "pending",
                    _executions.c.updated_at >= since_s,
                )
            )
            return {DispatchTarget(row.queue_id, row.organisation_id or "") for row in rows}

    def list_executions(self, where: ExecutionFilter) -> list[ExecutionRecord]:
        """Executions matching the filter, newest first."""
        query = select(_executions)
        if where.flo_id is not None:
            query = query.where(_executions.c.flo_id == where.flo_id)
        if where.execution_status is not None:
            query = query.where(_executions.c.execution_status == where.execution_status)
        if where.completion_status is not None:
            query = query.where(_executions.c.completion_status == where.completion_status)
        query = query.order_by(_executions.c.created_at.desc(), text("executions.rowid DESC"))
        with self._read() as conn:
            rows = conn.execute(query.limit(where.limit))
            return [_execution_from(row) for row in rows]

    def touch_execution(self, execution_id: str, runner_id: str, now_s: float) -> None:
        """Record runner contact on an execution and on the runner (§8.1)."""
        with self._sqlite_write() as db:
            _touch(db, execution_id, runner_id, now_s)

    def set_running(self, execution_id: str, runner_id: str, now_s: float) -> bool:
        """``allocated`` -> ``running`` (T5); True when the status changed."""
        with self._sqlite_write() as db:
            _touch(db, execution_id, runner_id, now_s)
            cursor = db.execute(_SQL_SET_RUNNING, {"execution_id": execution_id, "now": now_s})
            return cursor.rowcount > 0

    def append_logs(
        self,
        execution_id: str,
        runner_id: str,
        batch: LogBatch,
        max_log_bytes: int,
        now_s: float,
    ) -> bool:
        """Append a batch under the per-execution cap (§8.3); True when any line was stored.

        When the cap is reached one marker line is stored and later lines are discarded.
        """
        lines = batch.lines
        with self._sqlite_write() as db:
            _touch(db, execution_id, runner_id, now_s)
            log_bytes, log_truncated, seq = db.execute(_SQL_LOG_STATE, (execution_id,)).fetchone()
            if log_truncated or not lines:
                return False
            joined = "".join(lines)
            batch_bytes = len(joined.encode("utf-8")) + len(lines)
            # json_each() cuts a string at NUL: lines holding one go in one by one below.
            if log_bytes + batch_bytes <= max_log_bytes and "\x00" not in joined:
                cursor = db.execute(_SQL_INSERT_LOG_LINES, (execution_id, seq + 1, batch.document))
                if cursor.rowcount != len(lines):
                    # A parser keeps the last of duplicated keys, SQLite the first (no insert).
                    raise LogBatchError("the body has more than one 'lines' member")
                log_bytes += batch_bytes
                db.execute(_SQL_SET_LOG_STATE, (log_bytes, seq + len(lines), False, execution_id))
                return True
            stored: list[tuple[int, str]] = []
            truncated = False
            for line in lines:
                size = len(line.encode("utf-8")) + 1
                if log_bytes + size > max_log_bytes:
                    seq += 1
                    marker = (
                        f"[flomation-server] log truncated: limit of {max_log_bytes} bytes reached"
                    )
                    stored.append((seq, marker))
                    truncated = True
                    break
                seq += 1
                log_bytes += size
                stored.append((seq, line))
            db.executemany(_SQL_INSERT_LOG_LINE, [(execution_id, s, text_) for s, text_ in stored])
            db.execute(_SQL_SET_LOG_STATE, (log_bytes, seq, truncated, execution_id))
            return bool(stored)

    def read_logs(self, execution_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """Persisted log lines with ``seq > after_seq``, in order."""
        with self._read() as conn:
            rows = conn.execute(
                select(_execution_logs.c.seq, _execution_logs.c.line)
                .where(
                    _execution_logs.c.execution_id == execution_id,
                    _execution_logs.c.seq > after_seq,
                )
                .order_by(_execution_logs.c.seq)
                .limit(limit)
            )
            return [(row.seq, row.line) for row in rows]

    def store_result(
        self,
        execution_id: str,
        runner_id: str,
        *,
        has_errored: bool,
        cancelled: bool,
        suspended: bool,
        state: Any,
        now_s: float,
    ) -> ResultOutcome:
        """Apply a runner's result with the guards of 8.2 (T6/T7); idempotent."""
        with self._sqlite_write() as db:
            _touch(db, execution_id, runner_id, now_s)
            status, completion_status, stored_result = db.execute(
                _SQL_RESULT_STATE, (execution_id,)
            ).fetchone()
            if completion_status == "pending" and status in _IN_PROGRESS:
                checkpoint = state.get("checkpoint") if isinstance(state, dict) else None
                if suspended and isinstance(checkpoint, dict):
                    db.execute(
                        _SQL_SUSPEND,
                        {
                            "execution_id": execution_id,
                            "result": _dump(state),
                            "checkpoint": _dump(checkpoint),
                            "now": now_s,
                        },
                    )
                    return ResultOutcome.SUSPENDED
                reason: str | None = None
                if suspended:
                    completion, reason = "fail", "suspended without checkpoint"
                elif cancelled:
                    completion = "cancel"
                elif has_errored:
                    completion = "fail"
                else:
                    completion = "success"
                db.execute(
                    _SQL_COMPLETE,
                    {
                        "execution_id": execution_id,
                        "completion": completion,
                        "reason": reason,
                        "result": _dump(state),
                        "now": now_s,
                    },
                )
                return ResultOutcome.COMPLETED
            if completion_status in _TERMINAL and stored_result is None:
                db.execute(_SQL_ADD_RESULT, (_dump(state), now_s, execution_id))
                return ResultOutcome.RESULT_ADDED
            return ResultOutcome.UNCHANGED

    def cancel(
        self, execution_id: str, reason: str, now_s: float
    ) -> tuple[CancelOutcome, ExecutionRecord | None]:
        """Operator cancel (T8); a terminal execution is left alone."""
        with self._write() as conn:
            row = (
                conn.execute(select(_executions).where(_executions.c.id == execution_id))
            ).first()
            if row is None:
                return CancelOutcome.NOT_FOUND, None
            cancellable = _is_pending(row.execution_status, row.completion_status) or (
                row.execution_status == "suspended" and row.completion_status == "suspended"
            )
            if not cancellable:
                return CancelOutcome.NOT_IN_PROGRESS, _execution_from(row)
            conn.execute(
                update(_executions)
                .where(_executions.c.id == execution_id)
                .values(
                    execution_status="executed",
                    completion_status="cancel",
                    completion_reason=reason,
                    completed_at=now_s,
                    updated_at=now_s,
                )
            )
            fresh = (
                conn.execute(select(_executions).where(_executions.c.id == execution_id))
            ).one()
            return CancelOutcome.CANCELLED, _execution_from(fresh)

    def resume(
        self, execution_id: str, resume_data: Any, has_resume_data: bool, now_s: float
    ) -> tuple[ResumeOutcome, ExecutionRecord | None]:
        """Operator resume (T9): back to ``created``/``pending`` with the checkpoint kept.

        ``resume_data`` is stored as the checkpoint's ``resume_data`` (what the executor reads).
        """
        with self._write() as conn:
            row = (
                conn.execute(select(_executions).where(_executions.c.id == execution_id))
            ).first()
            if row is None:
                return ResumeOutcome.NOT_FOUND, None
            if row.execution_status != "suspended" or row.completion_status != "suspended":
                return ResumeOutcome.NOT_SUSPENDED, _execution_from(row)
            checkpoint = _load(row.checkpoint)
            if has_resume_data:
                checkpoint = dict(checkpoint) if isinstance(checkpoint, dict) else {}
                checkpoint["resume_data"] = resume_data
            conn.execute(
                update(_executions)
                .where(_executions.c.id == execution_id)
                .values(
                    execution_status="created",
                    completion_status="pending",
                    runner_id=None,
                    allocated_at=None,
                    started_at=None,
                    last_contact_at=None,
                    checkpoint=_dump(checkpoint),
                    updated_at=now_s,
                )
            )
            fresh = (
                conn.execute(select(_executions).where(_executions.c.id == execution_id))
            ).one()
            return ResumeOutcome.RESUMED, _execution_from(fresh)

    def reap(
        self, now_s: float, runner_lost_after_s: float, execution_timeout_s: float
    ) -> list[ReapedExecution]:
        """Fail executions whose runner went silent; time out those running too long (§8.2)."""
        in_progress = and_(
            _executions.c.execution_status.in_(_IN_PROGRESS),
            _executions.c.completion_status == "pending",
        )
        reaped: list[ReapedExecution] = []
        with self._write() as conn:
            timed_out = (
                (
                    conn.execute(
                        select(_executions.c.id).where(
                            in_progress, _executions.c.allocated_at < now_s - execution_timeout_s
                        )
                    )
                )
                .scalars()
                .all()
            )
            if timed_out:
                conn.execute(
                    update(_executions)
                    .where(in_progress, _executions.c.id.in_(timed_out))
                    .values(
                        execution_status="executed",
                        completion_status="timeout",
                        completion_reason="execution timeout",
                        completed_at=now_s,
                        updated_at=now_s,
                    )
                )
                reaped += [ReapedExecution(id_, "timeout") for id_ in timed_out]
            lost = (
                (
                    conn.execute(
                        select(_executions.c.id).where(
                            in_progress,
                            func.coalesce(_executions.c.last_contact_at, _executions.c.allocated_at)
                            < now_s - runner_lost_after_s,
                        )
                    )
                )
                .scalars()
                .all()
            )
            if lost:
                conn.execute(
                    update(_executions)
                    .where(in_progress, _executions.c.id.in_(lost))
                    .values(
                        execution_status="executed",
                        completion_status="fail",
                        completion_reason=(
                            f"runner lost: no contact for {round(runner_lost_after_s)} s"
                        ),
                        completed_at=now_s,
                        updated_at=now_s,
                    )
                )
                reaped += [ReapedExecution(id_, "fail") for id_ in lost]
        return reaped

    def remember_nonce(self, key_id: str, nonce: str, now_s: float) -> bool:
        """Record a v2 nonce for a key; False when it was already seen (a replay)."""
        try:
            with self._sqlite_write() as db:
                db.execute(_SQL_REMEMBER_NONCE, (key_id, nonce, now_s))
        except sqlite3.IntegrityError:
            return False
        return True

    def forget_nonces_before(self, cutoff_s: float) -> int:
        """Drop nonces older than the retention window; returns how many."""
        with self._write() as conn:
            result = conn.execute(delete(_nonces).where(_nonces.c.seen_at < cutoff_s))
            return int(result.rowcount)

    def pending_per_queue(self) -> dict[str, int]:
        """Per queue name, how many ``created``/``pending`` executions it could serve."""
        with self._read() as conn:
            rows = conn.execute(_PENDING_PER_QUEUE)
            return {row[0]: int(row[1]) for row in rows}


class Store:
    """The database. Create with :meth:`open`, release with :meth:`close`.

    Every method takes ``now_s`` (Unix seconds) where time matters, so callers own the clock.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queries = _Queries(engine)
        self._readers = ThreadPoolExecutor(
            max_workers=_READER_THREADS, thread_name_prefix="store-reader"
        )

    @classmethod
    async def open(cls, database_url: str) -> Store:
        """Create the SQLite file (and its directory) if needed and apply pending migrations."""
        path = sqlite_path(database_url)
        create_private_database(path)
        engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"check_same_thread": False},
            pool_size=_READER_THREADS + 1,  # the loop thread and each reader thread
            max_overflow=0,
        )
        _install_sqlite_hooks(engine)
        store = cls(engine)
        try:
            store._queries.migrate()
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Finish queued reads, stop the reader threads and close every connection."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._shutdown)

    def _shutdown(self) -> None:
        self._readers.shutdown(wait=True)
        self._queries.close_connections()
        self._engine.dispose()

    async def _run(
        self,
        executor: ThreadPoolExecutor,
        operation: Callable[_P, _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(operation, *args, **kwargs))

    async def schema_version(self) -> int:
        """Number of migrations applied."""
        return self._queries.schema_version()

    async def create_queue(
        self, name: str, organisation_id: str | None, now_s: float
    ) -> QueueRecord:
        """A new queue with a fresh 32-hex registration code; ConflictError for a duplicate name."""
        return self._queries.create_queue(name, organisation_id, now_s)

    async def list_queues(self) -> list[QueueRecord]:
        """All queues, newest first."""
        return await self._run(self._readers, self._queries.list_queues)

    async def find_runner(self, identifier: str) -> RunnerRecord | None:
        """The runner enrolled under ``identifier`` (the 16-letter one, not the UUID)."""
        return self._queries.find_runner(identifier)

    async def register_runner(self, new: NewRunner, now_s: float) -> RegistrationOutcome:
        """Enrol a new identifier into the queue of its code, all or nothing.

        A concurrent enrolment of the same identifier is reported as ``known`` (§8.1 A7).
        """
        return self._queries.register_runner(new, now_s)

    async def refresh_runner(
        self,
        runner_id: str,
        *,
        version: str | None,
        executor_version: str | None,
        ip_address: str | None,
        now_s: float,
        signed_name: str | None = None,
        signed_manifest: Any = None,
        signed: bool = False,
    ) -> None:
        """Re-registration of a known identifier (§8.1 A5); the key never changes."""
        return self._queries.refresh_runner(
            runner_id,
            version=version,
            executor_version=executor_version,
            ip_address=ip_address,
            now_s=now_s,
            signed_name=signed_name,
            signed_manifest=signed_manifest,
            signed=signed,
        )

    async def heartbeat(self, runner_id: str, ip_address: str | None, now_s: float) -> RunnerScope:
        """Record a poll as the runner's heartbeat; returns the queues and organisations whose
        executions it may take."""
        return self._queries.heartbeat(runner_id, ip_address, now_s)

    async def list_runners(self) -> list[RunnerRecord]:
        """All runners with their queue ids, newest first."""
        return await self._run(self._readers, self._queries.list_runners)

    async def set_runner_active(self, runner_id: str, active: bool) -> RunnerRecord | None:
        """Pause (False) or resume (True) a runner; None when it does not exist."""
        return self._queries.set_runner_active(runner_id, active)

    async def create_environment(
        self, name: str, owner_id: str, organisation_id: str | None, now_s: float
    ) -> EnvironmentRecord:
        """A new environment; ConflictError for a duplicate name within the organisation."""
        return self._queries.create_environment(name, owner_id, organisation_id, now_s)

    async def resolve_environment(
        self, id_or_name: str, organisation_id: str | None
    ) -> EnvironmentRecord | None:
        """An environment by UUID, else by name within the organisation (§4.7)."""
        return self._queries.resolve_environment(id_or_name, organisation_id)

    async def put_environment_item(
        self,
        environment_id: str,
        kind: str,
        name: str,
        now_s: float,
        *,
        value: str | None = None,
        sealed: bytes | None = None,
        provider: str | None = None,
        expires_at: str | None = None,
        metadata: Any = None,
    ) -> EnvironmentItemRecord:
        """Create or replace a property / secret / credential; StoreNotFoundError without env."""
        return self._queries.put_environment_item(
            environment_id,
            kind,
            name,
            now_s,
            value=value,
            sealed=sealed,
            provider=provider,
            expires_at=expires_at,
            metadata=metadata,
        )

    async def get_environment_item(
        self, environment_id: str, kind: str, name: str
    ) -> EnvironmentItemRecord | None:
        """One property / secret / credential of an environment."""
        return self._queries.get_environment_item(environment_id, kind, name)

    async def create_flo(
        self,
        *,
        name: str,
        data: Any,
        organisation_id: str | None,
        author_id: str | None,
        environment_id: str | None,
        queue_id: str | None,
        now_s: float,
    ) -> FloRecord:
        """A flow with revision 1; StoreNotFoundError for an unknown environment or queue."""
        return self._queries.create_flo(
            name=name,
            data=data,
            organisation_id=organisation_id,
            author_id=author_id,
            environment_id=environment_id,
            queue_id=queue_id,
            now_s=now_s,
        )

    async def get_flo(self, flo_id: str) -> FloRecord | None:
        """The flow with this UUID."""
        return self._queries.get_flo(flo_id)

    async def add_revision(self, flo_id: str, data: Any, now_s: float) -> dict[str, Any] | None:
        """Append a revision (dispatched from now on); None for an unknown flow."""
        return self._queries.add_revision(flo_id, data, now_s)

    async def create_execution(
        self,
        flo_id: str,
        *,
        data: Any,
        entry_node_id: str | None,
        owner_id: str,
        now_s: float,
    ) -> tuple[str, DispatchTarget] | None:
        """A ``created``/``pending`` execution (T1); None for an unknown flow."""
        return self._queries.create_execution(
            flo_id,
            data=data,
            entry_node_id=entry_node_id,
            owner_id=owner_id,
            now_s=now_s,
        )

    async def claim_next(self, runner_id: str, now_s: float) -> ClaimedExecution | None:
        """Claim the oldest eligible execution for this runner in one transaction (§8.1 A2).

        Executions whose flow has no revision are failed with a reason and skipped. An empty
        answer comes from a read, without a write transaction; callers register for wake-ups
        before claiming, so an execution committed just after that read is not missed.
        """
        if not self._queries.has_candidate(runner_id):
            return None
        return self._queries.claim_next(runner_id, now_s)

    async def release_claim(self, execution_id: str, runner_id: str, now_s: float) -> bool:
        """Undo a claim whose 200 could not be delivered (guarded: still allocated to us)."""
        return self._queries.release_claim(execution_id, runner_id, now_s)

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        """The execution with this id."""
        return self._queries.get_execution(execution_id)

    async def execution_call(self, execution_id: str) -> ExecutionCall | None:
        """The execution's status and assigned runner, in one read (None when unknown)."""
        return self._queries.execution_call(execution_id)

    async def dispatch_target(self, execution_id: str) -> DispatchTarget | None:
        """Which runners may take this execution."""
        return self._queries.dispatch_target(execution_id)

    async def claimable_targets_since(self, since_s: float) -> set[DispatchTarget]:
        """Targets of ``created``/``pending`` executions created, resumed or released since."""
        return self._queries.claimable_targets_since(since_s)

    async def list_executions(self, where: ExecutionFilter) -> list[ExecutionRecord]:
        """Executions matching the filter, newest first."""
        return await self._run(self._readers, self._queries.list_executions, where)

    async def touch_execution(self, execution_id: str, runner_id: str, now_s: float) -> None:
        """Record runner contact on an execution and on the runner (§8.1)."""
        return self._queries.touch_execution(execution_id, runner_id, now_s)

    async def set_running(self, execution_id: str, runner_id: str, now_s: float) -> bool:
        """``allocated`` -> ``running`` (T5); True when the status changed."""
        return self._queries.set_running(execution_id, runner_id, now_s)

    async def append_logs(
        self,
        execution_id: str,
        runner_id: str,
        batch: LogBatch,
        max_log_bytes: int,
        now_s: float,
    ) -> bool:
        """Append a batch under the per-execution cap (§8.3); True when any line was stored.

        When the cap is reached one marker line is stored and later lines are discarded.
        """
        return self._queries.append_logs(execution_id, runner_id, batch, max_log_bytes, now_s)

    async def read_logs(
        self, execution_id: str, after_seq: int, limit: int
    ) -> list[tuple[int, str]]:
        """Persisted log lines with ``seq > after_seq``, in order."""
        return await self._run(
            self._readers, self._queries.read_logs, execution_id, after_seq, limit
        )

    async def store_result(
        self,
        execution_id: str,
        runner_id: str,
        *,
        has_errored: bool,
        cancelled: bool,
        suspended: bool,
        state: Any,
        now_s: float,
    ) -> ResultOutcome:
        """Apply a runner's result with the guards of 8.2 (T6/T7); idempotent."""
        return self._queries.store_result(
            execution_id,
            runner_id,
            has_errored=has_errored,
            cancelled=cancelled,
            suspended=suspended,
            state=state,
            now_s=now_s,
        )

    async def cancel(
        self, execution_id: str, reason: str, now_s: float
    ) -> tuple[CancelOutcome, ExecutionRecord | None]:
        """Operator cancel (T8); a terminal execution is left alone."""
        return self._queries.cancel(execution_id, reason, now_s)

    async def resume(
        self, execution_id: str, resume_data: Any, has_resume_data: bool, now_s: float
    ) -> tuple[ResumeOutcome, ExecutionRecord | None]:
        """Operator resume (T9): back to ``created``/``pending`` with the checkpoint kept.

        ``resume_data`` is stored as the checkpoint's ``resume_data`` (what the executor reads).
        """
        return self._queries.resume(execution_id, resume_data, has_resume_data, now_s)

    async def reap(
        self, now_s: float, runner_lost_after_s: float, execution_timeout_s: float
    ) -> list[ReapedExecution]:
        """Fail executions whose runner went silent; time out those running too long (§8.2)."""
        return self._queries.reap(now_s, runner_lost_after_s, execution_timeout_s)

    async def remember_nonce(self, key_id: str, nonce: str, now_s: float) -> bool:
        """Record a v2 nonce for a key; False when it was already seen (a replay)."""
        return self._queries.remember_nonce(key_id, nonce, now_s)

    async def forget_nonces_before(self, cutoff_s: float) -> int:
        """Drop nonces older than the retention window; returns how many."""
        return self._queries.forget_nonces_before(cutoff_s)

    async def pending_per_queue(self) -> dict[str, int]:
        """Per queue name, how many ``created``/``pending`` executions it could serve."""
        return await self._run(self._readers, self._queries.pending_per_queue)


def _touch(db: sqlite3.Connection, execution_id: str, runner_id: str, now_s: float) -> None:
    db.execute(_SQL_TOUCH_EXECUTION, (now_s, execution_id))
    db.execute(_SQL_TOUCH_RUNNER, (now_s, runner_id))


def _install_sqlite_hooks(engine: Engine) -> None:
    """WAL, NORMAL sync, busy timeout and explicit BEGIN (IMMEDIATE for writes)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook emit BEGIN itself (pysqlite's own handling is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint syncs the WAL and the database file: every 64 MiB of WAL rather than
        # SQLite's 4 MiB, so a flood of log lines is not held up by one every 30,000 lines
        # (bench/runner_bench.py --only logs: 184-203k -> 210-212k lines/s).
        cursor.execute("PRAGMA wal_autocheckpoint=16384")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        statement = conn.get_execution_options().get("sqlite_begin", "BEGIN")
        if statement is not None:
            conn.exec_driver_sql(statement)
