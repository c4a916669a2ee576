"""Connecting to PostgreSQL, MySQL/MariaDB and SQLite and running one statement with bound
parameters, shaped like upstream's shared SQL code (flomation-co/executor: actions/sql/common.go).

Statements starting with ``SELECT`` or ``WITH`` return their rows (``results``, ``row_count``);
anything else returns ``results: null`` and the affected row count. Parameters are always sent
to the database separately from the statement text, in each driver's Go placeholder style:
``$1, $2`` for PostgreSQL (as lib/pq), ``?`` for MySQL (server-side prepared statements, as
go-sql-driver/mysql) and SQLite. The driver libraries are imported only when used.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flomation.executor.actions.base import ActionCancelled

__all__ = ["MAX_ROWS", "QueryError", "Target", "run_statement"]

_CONNECT_TIMEOUT_S = 10
_POLL_S = 0.1
# Rows beyond this are not read: an unbounded SELECT must not exhaust the executor's memory.
MAX_ROWS = 100_000


class QueryError(Exception):
    """Connecting or running the statement failed; the text is the node's error."""


@dataclass(frozen=True)
class Target:
    """Where to connect: ``kind`` is ``postgres``, ``mysql`` or ``sqlite``."""

    kind: str
    host: str
    port: int
    username: str
    password: str
    database: str
    tls: bool


def _json_value(value: Any) -> Any:
    """A column value as Go's database/sql drivers hand it to JSON (text for exact numbers)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z") if value.tzinfo else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _is_query(statement: str) -> bool:
    head = statement.strip().upper()
    return head.startswith(("SELECT", "WITH"))


def _collect(cursor: Any) -> dict[str, Any]:
    columns = [column[0] for column in cursor.description or ()]
    rows = cursor.fetchmany(MAX_ROWS)
    results = [
        {name: _json_value(item) for name, item in zip(columns, row, strict=False)} for row in rows
    ]
    return {"results": results, "row_count": len(results)}


def _outcome(statement: str, cursor: Any) -> dict[str, Any]:
    """The rows of a query, or ``results: null`` and the affected row count (any driver)."""
    if _is_query(statement) and cursor.description is not None:
        return _collect(cursor)
    return {"results": None, "row_count": max(cursor.rowcount, 0)}


class _Run:
    """One connection and statement in a worker thread, abortable from the caller's thread."""

    def __init__(self, target: Target, statement: str, parameters: Sequence[Any]) -> None:
        self._target = target
        self._statement = statement
        self._parameters = tuple(parameters)
        self._abort: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self.done = threading.Event()
        self.outcome: dict[str, Any] | None = None
        self.error: str | None = None

    def abort(self) -> None:
        with self._lock:
            abort = self._abort
        if abort is not None:
            try:
                abort()
            except Exception:  # the connection may already be gone; aborting is best effort
                pass

    def _set_abort(self, abort: Callable[[], None]) -> None:
        with self._lock:
            self._abort = abort

    def run(self) -> None:
        try:
            runner = {"postgres": self._postgres, "mysql": self._mysql, "sqlite": self._sqlite}
            self.outcome = runner[self._target.kind]()
        except QueryError as error:
            self.error = str(error)
        except Exception as error:  # driver errors: the message is what the user needs
            self.error = f"query execution failed: {error}"
        finally:
            self.done.set()

    def _postgres(self) -> dict[str, Any]:
        import psycopg  # lazily: see the module docstring

        target = self._target
        try:
            connection = psycopg.connect(
                host=target.host,
                port=target.port,
                user=target.username,
                password=target.password,
                dbname=target.database,
                sslmode="require" if target.tls else "disable",
                connect_timeout=_CONNECT_TIMEOUT_S,
                autocommit=True,
                cursor_factory=psycopg.RawCursor,
            )
        except psycopg.Error as error:
            raise QueryError(f"failed to ping database: {error}") from None
        self._set_abort(connection.cancel_safe)
        with connection:
            try:
                cursor = connection.execute(self._statement, self._parameters or None)
            except psycopg.Error as error:
                raise QueryError(f"query execution failed: {error}") from None
            return _outcome(self._statement, cursor)

    def _mysql(self) -> dict[str, Any]:
        import mysql.connector  # lazily: see the module docstring

        target = self._target
        options: dict[str, Any] = {}
        if not target.tls:
            options["ssl_disabled"] = True
        try:
            connection = mysql.connector.connect(
                host=target.host,
                port=target.port,
                user=target.username,
                password=target.password,
                database=target.database,
                connection_timeout=_CONNECT_TIMEOUT_S,
                autocommit=True,
                use_pure=True,
                **options,
            )
        except mysql.connector.Error as error:
            raise QueryError(f"failed to ping database: {error}") from None
        self._set_abort(connection.shutdown)
        try:
            cursor = connection.cursor(prepared=True)
            try:
                cursor.execute(self._statement, self._parameters)
            except mysql.connector.Error as error:
                raise QueryError(f"query execution failed: {error}") from None
            return _outcome(self._statement, cursor)
        finally:
            connection.close()

    def _sqlite(self) -> dict[str, Any]:
        path = self._target.database
        try:
            connection = sqlite3.connect(
                path, timeout=_CONNECT_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise QueryError(f"failed to ping database: {error}") from None
        self._set_abort(connection.interrupt)
        try:
            try:
                cursor = connection.execute(self._statement, self._parameters)
            except sqlite3.Error as error:
                raise QueryError(f"query execution failed: {error}") from None
            return _outcome(self._statement, cursor)
        finally:
            connection.close()


def run_statement(
    target: Target,
    statement: str,
    parameters: Sequence[Any],
    cancel_event: threading.Event,
) -> dict[str, Any]:
    """Run ``statement``; QueryError on failure, ActionCancelled when cancelled."""
    run = _Run(target, statement, parameters)
    worker = threading.Thread(target=run.run, name="sql-statement", daemon=True)
    worker.start()
    while not run.done.wait(_POLL_S):
        if cancel_event.is_set():
            run.abort()
            raise ActionCancelled("query cancelled")
    if run.error is not None:
        raise QueryError(run.error)
    assert run.outcome is not None
    return run.outcome
