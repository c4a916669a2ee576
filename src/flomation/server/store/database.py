"""The connection to the database: engine, per-thread connections and transactions.

SQLite in WAL mode is the embedded backend. Every operation is one call of a synchronous
function over a persistent connection. The runner protocol's hot paths (claim, heartbeat, state,
logs, status, result, execute, v2 nonces) run plain SQL on the sqlite3 DBAPI connection under
SQLAlchemy's (``sqlite()`` / ``sqlite_write()``): SQLAlchemy Core's per-statement overhead cost
several times what SQLite takes to run these by-key statements (with it, the lifecycle
benchmark's server CPU per execution fell from ~8 ms to ~2.9 ms). Everything else uses SQLAlchemy
Core (``read()`` / ``write()``). Each write is a ``BEGIN IMMEDIATE`` transaction, so several
processes sharing the file stay correct (they then wait on SQLite's lock, up to
``busy_timeout``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import structlog
from sqlalchemy import create_engine, event, insert, select, update
from sqlalchemy.engine import Connection, Engine, make_url

from flomation.server.store import schema
from flomation.server.store.types import DatabaseUrlError

__all__ = ["READER_THREADS", "Database", "sqlite_path"]

_log = structlog.get_logger("flomation.server.store")
_BUSY_TIMEOUT_MS = 10_000
READER_THREADS = 4


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


class Database:
    """An engine plus one persistent connection per thread, and the transactions on them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # One connection per worker thread, kept for the thread's life: checking a connection
        # out of the pool and resetting it costs more than the statements of most operations.
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._connections_lock = threading.Lock()

    @classmethod
    def open_sqlite(cls, path: Path) -> Database:
        """An engine on the SQLite file at ``path`` with WAL and explicit BEGINs."""
        engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"check_same_thread": False},
            pool_size=READER_THREADS + 1,  # the loop thread and each reader thread
            max_overflow=0,
        )
        _install_sqlite_hooks(engine)
        return cls(engine)

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

    def sqlite(self) -> sqlite3.Connection:
        """This thread's connection as the sqlite3 DBAPI object, for the hot paths' SQL."""
        db: sqlite3.Connection | None = getattr(self._local, "sqlite", None)
        if db is None:
            db = cast(sqlite3.Connection, self._connection().connection.driver_connection)
            self._local.sqlite = db
        return db

    @contextmanager
    def sqlite_write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction on the sqlite3 connection, committed at the end."""
        db = self.sqlite()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction through SQLAlchemy Core, committed at the end."""
        conn = self._connection()
        conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        with conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads through SQLAlchemy Core."""
        # No BEGIN: each read statement runs in SQLite's own implicit transaction.
        conn = self._connection()
        conn.execution_options(sqlite_begin=None)
        try:
            yield conn
        finally:
            conn.rollback()

    def migrate(self) -> None:
        """Apply the migrations that are newer than ``schema_version``."""
        with self.write() as conn:
            schema.schema_version.create(conn, checkfirst=True)
            current = conn.execute(select(schema.schema_version.c.version)).scalar()
            if current is None:
                conn.execute(insert(schema.schema_version).values(version=0))
                current = 0
            for number, migration in enumerate(schema.MIGRATIONS, start=1):
                if number > current:
                    # Said before it runs: rebuilding a large table takes a while.
                    _log.info(
                        "applying database migration",
                        migration=number,
                        name=migration.__name__.removeprefix(f"_migration_{number}_"),
                    )
                    migration(conn)
                    conn.execute(update(schema.schema_version).values(version=number))

    def schema_version(self) -> int:
        """Number of migrations applied."""
        with self.read() as conn:
            return int((conn.execute(select(schema.schema_version.c.version))).scalar_one())


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
