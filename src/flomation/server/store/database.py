"""The connection to the database: engine, per-thread connections and transactions.

Two backends, chosen by the database URL: SQLite (``sqlite:///PATH``, the embedded default, WAL
mode) and PostgreSQL (``postgresql://...``, for several server replicas on one database).

Every operation is one call of a synchronous function over a persistent connection. The runner
protocol's hot paths (claim, heartbeat, state, logs, status, result, execute, nonces) run plain
SQL on the DBAPI connection under SQLAlchemy's (``raw()`` / ``raw_write()``): SQLAlchemy Core's
per-statement overhead cost several times what SQLite takes to run these by-key statements
(with it, the lifecycle benchmark's server CPU per execution fell from ~8 ms to ~2.9 ms). That
SQL is written once, with SQLite's ``?`` and ``:name`` placeholders; on PostgreSQL
:class:`PostgresRaw` rewrites them to psycopg's. Everything else uses SQLAlchemy Core
(``read()`` / ``write()``).

Both backends run their DBAPI connections in autocommit mode and open transactions themselves:
``BEGIN IMMEDIATE`` on SQLite, so that several processes sharing the file stay correct (they
wait on SQLite's lock, up to ``busy_timeout``), and ``BEGIN`` (read committed) on PostgreSQL,
where claims lock their row with ``FOR UPDATE SKIP LOCKED``. A read outside a transaction is
one statement in its own implicit transaction on both.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import structlog
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url

from flomation.server.store.types import DatabaseUrlError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "READER_THREADS",
    "Backend",
    "Database",
    "PostgresRaw",
    "RawConnection",
    "RawCursor",
    "advisory_key",
    "database_backend",
    "sqlite_path",
]

_log = structlog.get_logger("flomation.server.store")
_BUSY_TIMEOUT_MS = 10_000
READER_THREADS = 4
# Connections PostgreSQL keeps for one server process: the event loop's, the reader threads'
# and the maintenance thread's (pruning); LISTEN uses one more, outside the pool.
_POSTGRES_POOL_SIZE = READER_THREADS + 2

Backend = Literal["sqlite", "postgresql"]
Params = Sequence[Any] | Mapping[str, Any]


class RawCursor(Protocol):
    """What the hot paths use of a DBAPI cursor (sqlite3's or psycopg's)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class RawConnection(Protocol):
    """What the hot paths use of a DBAPI connection (sqlite3's, or :class:`PostgresRaw`)."""

    def execute(self, sql: str, parameters: Params = ..., /) -> RawCursor: ...

    def executemany(self, sql: str, parameters: Sequence[Params], /) -> Any: ...

    @property
    def in_transaction(self) -> bool: ...


def sqlite_path(database_url: str) -> Path:
    """The file behind a ``sqlite:///`` URL; DatabaseUrlError for anything else."""
    url = _parse(database_url)
    if url.get_backend_name() != "sqlite":
        raise DatabaseUrlError(f"{_redacted(url)} is not a sqlite:/// URL")
    return _sqlite_file(url)


def database_backend(database_url: str) -> Backend:
    """Which backend a URL selects; DatabaseUrlError for one the server cannot use."""
    url = _parse(database_url)
    name = url.get_backend_name()
    if name == "sqlite":
        _sqlite_file(url)
        return "sqlite"
    if name in ("postgresql", "postgres"):
        if url.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
            raise DatabaseUrlError(
                f"unsupported PostgreSQL driver {url.drivername!r}: use postgresql://..."
            )
        if not url.database:
            raise DatabaseUrlError("the PostgreSQL URL must name a database, e.g. .../flomation")
        return "postgresql"
    raise DatabaseUrlError(
        f"unsupported database {name!r}: use sqlite:///PATH or postgresql://USER@HOST/DATABASE"
    )


def _parse(database_url: str) -> URL:
    try:
        return make_url(database_url)
    except Exception as exc:
        raise DatabaseUrlError(f"invalid database URL: {exc}") from exc


def _redacted(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise DatabaseUrlError("the database URL must name a file, e.g. sqlite:///./server.db")
    return Path(url.database)


@functools.lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """SQLite's ``?`` and ``:name`` placeholders as psycopg's ``%s`` and ``%(name)s``."""
    if "%" in sql:
        raise ValueError("hot-path SQL must not contain '%' (psycopg reads it as a placeholder)")
    sql = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql)
    return sql.replace("?", "%s")


class PostgresRaw:
    """psycopg's connection, taking the hot paths' SQLite-style placeholders."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection
        # One cursor for every statement: psycopg's Connection.execute makes a cursor per call,
        # which was ~2.6 % of a replica's CPU in the two-replica benchmark (docs/benchmarks.md).
        # The hot paths read each statement's rows before running the next one.
        self._cursor = connection.cursor()

    def execute(self, sql: str, parameters: Params = (), /) -> RawCursor:
        """Run one statement; the cursor holds its rows until the next statement."""
        return self._cursor.execute(_pyformat(sql), parameters)

    def executemany(self, sql: str, parameters: Sequence[Params], /) -> None:
        """Run one statement for each set of parameters (pipelined by psycopg)."""
        with self._connection.cursor() as cursor:
            cursor.executemany(_pyformat(sql), parameters)

    @property
    def in_transaction(self) -> bool:
        """True between BEGIN and COMMIT/ROLLBACK (also in a failed transaction)."""
        import psycopg.pq

        return self._connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


def advisory_key(task: str) -> int:
    """The PostgreSQL advisory lock key of a server-wide task ("reap", "migrate"...)."""
    return int.from_bytes(hashlib.sha256(task.encode()).digest()[:8], "big", signed=True)


class Database:
    """An engine plus one persistent connection per thread, and the transactions on them."""

    def __init__(self, engine: Engine, backend: Backend) -> None:
        self._engine = engine
        self.backend: Backend = backend
        self._begin_write = "BEGIN IMMEDIATE" if backend == "sqlite" else "BEGIN"
        # One connection per worker thread, kept for the thread's life: checking a connection
        # out of the pool and resetting it costs more than the statements of most operations.
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._connections_lock = threading.Lock()

    @classmethod
    def open(cls, database_url: str) -> Database:
        """An engine for ``database_url`` (whose backend :func:`database_backend` accepted)."""
        if database_backend(database_url) == "sqlite":
            engine = create_engine(
                f"sqlite:///{sqlite_path(database_url)}",
                connect_args={"check_same_thread": False},
                pool_size=READER_THREADS + 1,  # the loop thread and each reader thread
                max_overflow=0,
            )
            _install_sqlite_hooks(engine)
            return cls(engine, "sqlite")
        url = make_url(database_url).set(drivername="postgresql+psycopg")
        engine = create_engine(
            url,
            isolation_level="AUTOCOMMIT",
            pool_size=_POSTGRES_POOL_SIZE,
            max_overflow=0,
            pool_pre_ping=True,
        )
        _install_begin_hook(engine)
        return cls(engine, "postgresql")

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "connection", None)
        if conn is None:
            conn = self._engine.connect()
            self._local.connection = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection (after the worker threads have stopped)."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._engine.dispose()

    def raw(self) -> RawConnection:
        """This thread's DBAPI connection, for the hot paths' SQL."""
        raw: RawConnection | None = getattr(self._local, "raw", None)
        if raw is None:
            driver = self._connection().connection.driver_connection
            if self.backend == "sqlite":
                raw = cast(sqlite3.Connection, driver)
            else:
                raw = PostgresRaw(cast("psycopg.Connection[Any]", driver))
            self._local.raw = raw
        return raw

    @contextmanager
    def raw_write(self) -> Iterator[RawConnection]:
        """A write transaction on the DBAPI connection, committed at the end."""
        db = self.raw()
        db.execute(self._begin_write)
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def only_one(self, conn: Connection, task: str) -> bool:
        """In a write transaction: False when another server runs ``task`` (reap, prune) now.

        On PostgreSQL a transaction-scoped advisory lock lets one replica at a time do it; on
        SQLite the write transaction itself already excludes every other writer.
        """
        if self.backend == "sqlite":
            return True
        taken = conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": advisory_key(task)}
        )
        return bool(taken.scalar())

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction through SQLAlchemy Core, committed at the end."""
        conn = self._connection()
        conn.execution_options(begin_statement=self._begin_write)
        with conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads through SQLAlchemy Core, one implicit transaction each."""
        conn = self._connection()
        conn.execution_options(begin_statement=None)
        try:
            yield conn
        finally:
            conn.rollback()


def _install_begin_hook(engine: Engine) -> None:
    """Emit the connection's ``begin_statement`` when SQLAlchemy begins a transaction.

    The DBAPI connections are in autocommit mode, so nothing else would open one.
    """

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        statement = conn.get_execution_options().get("begin_statement", "BEGIN")
        if statement is not None:
            conn.exec_driver_sql(statement)


def _install_sqlite_hooks(engine: Engine) -> None:
    """WAL, NORMAL sync, busy timeout and explicit BEGIN (IMMEDIATE for writes)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the DBAPI level: the "begin" hook emits BEGIN itself.
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

    _install_begin_hook(engine)
