"""Test databases: a fresh PostgreSQL database per test, and direct SQL on either backend.

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

__all__ = ["ADMIN_URL", "dump_database", "fresh_database", "run_sql"]

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


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped (connections and all) afterwards.

    Its sessions commit without waiting for the WAL flush (``synchronous_commit = off``): a
    commit is as visible and as ordered as with it, only not durable across a crash of PostgreSQL
    itself, which no test causes. Waiting for the flush cost about 3 ms a commit on the shared
    machine against 0.1 ms without, and a server test commits hundreds of times.
    """
    name = f"flomation_test_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
