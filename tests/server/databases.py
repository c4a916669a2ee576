"""Test databases: an empty PostgreSQL database per test, and direct SQL on either backend.

PostgreSQL is the machine's server (127.0.0.1:5432 by default); ``FLOMATION_TEST_POSTGRES_URL``
names another (a URL to its maintenance database). When no server answers, the tests that need
one are skipped with that reason on a developer's machine and fail under CI (``CI`` set), where
PostgreSQL is always there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

__all__ = [
    "ADMIN_URL",
    "drop_emptied_databases",
    "dump_database",
    "empty_database",
    "fresh_database",
    "run_sql",
]

ADMIN_URL = os.environ.get(
    "FLOMATION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _admin() -> psycopg.Connection[tuple[Any, ...]]:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is needed for this test and is not reachable at {ADMIN_URL}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def _url(name: str) -> str:
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _create() -> str:
    """A new database; its name.

    Its sessions commit without waiting for the WAL flush (``synchronous_commit = off``): a
    commit is as visible and as ordered as with it, only not durable across a crash of PostgreSQL
    itself, which no test causes. Waiting for the flush cost about 3 ms a commit on the shared
    machine against 0.1 ms without, and a server test commits hundreds of times.
    """
    name = f"flomation_test_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return name


def _drop(name: str) -> None:
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped (connections and all) afterwards."""
    name = _create()
    try:
        yield _url(name)
    finally:
        _drop(name)


# Databases this process made and emptied after a test, ready for the next (see empty_database).
_emptied: list[str] = []


def _empty(name: str) -> None:
    """End every session on ``name`` and drop everything the test made in it."""
    with _admin() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
    with psycopg.connect(_url(name), autocommit=True, connect_timeout=5) as database:
        database.execute("DROP SCHEMA public CASCADE")
        database.execute("CREATE SCHEMA public")


@contextlib.contextmanager
def empty_database() -> Iterator[str]:
    """The URL of an empty database: one this process emptied after an earlier test, or a new one.

    Making and dropping a database took 2-4 s per test on the loaded machine (PostgreSQL writes
    the whole template to its WAL); dropping the ``public`` schema, where the server keeps
    everything (its migrations create no other schema, extension or role), takes milliseconds
    and leaves the database as empty as a new one. The sessions a test left open are ended
    first, as ``DROP DATABASE ... WITH (FORCE)`` would. A database that cannot be emptied is
    dropped instead. Each pytest-xdist worker is a process with its own list.
    """
    name = _emptied.pop() if _emptied else _create()
    try:
        yield _url(name)
        _empty(name)
    except BaseException:
        _drop(name)
        raise
    _emptied.append(name)


def drop_emptied_databases() -> None:
    """Drop the databases ``empty_database`` kept for reuse (at the end of the session)."""
    while _emptied:
        _drop(_emptied.pop())


def _engine_url(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def run_sql(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run one statement behind the server's back (in its own transaction); its rows, if any."""
    engine = create_engine(_engine_url(database_url))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def dump_database(database_url: str) -> str:
    """Every row of every table as text, to search for what must not be stored in clear."""
    engine = create_engine(_engine_url(database_url))
    try:
        with engine.connect() as conn:
            lines = []
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    lines.append(f"{table}: {tuple(row)!r}")
            return "\n".join(lines)
    finally:
        engine.dispose()
