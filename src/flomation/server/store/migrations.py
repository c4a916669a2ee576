"""Schema migrations: Alembic revisions (``store/alembic/versions``), applied at start-up.

One transaction holds the whole upgrade, under a lock that makes several servers starting on one
database take turns: SQLite's write lock (``BEGIN IMMEDIATE``) or a PostgreSQL advisory lock. A
database already at the newest revision is recognised with one query, without importing Alembic
(76-121 ms of a server's start-up here: docs/benchmarks.md, *Alembic's import*).

Databases written by servers before Alembic carry a ``schema_version`` table holding the number
of applied migrations; those numbers are the revisions ``0001``, ``0002``..., so such a database
is stamped with its revision (and the old table dropped) before the upgrade.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError

from flomation.server.store.database import Database, advisory_key

__all__ = ["HEAD_REVISION", "current_revision", "migrate"]

_log = structlog.get_logger("flomation.server.store")

# The newest revision under alembic/versions (a test keeps them equal).
HEAD_REVISION = "0007"
_SCRIPT_LOCATION = Path(__file__).with_name("alembic")


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None for an empty database)."""
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if "schema_version" in tables:
        legacy = conn.execute(text("SELECT version FROM schema_version")).scalar()
        return f"{legacy:04d}" if legacy else None
    return None


def _up_to_date(db: Database) -> bool:
    with db.read() as conn:
        try:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError):
            # No alembic_version table yet (an empty or pre-Alembic database): SQLite says
            # "no such table" (OperationalError), PostgreSQL UndefinedTable (ProgrammingError).
            # Anything else (the database unreachable, say) is raised, not taken as "migrate".
            return False
        return bool(found == HEAD_REVISION)


def migrate(db: Database) -> None:
    """Bring the database to :data:`HEAD_REVISION`; a no-op (one query) when it is there."""
    if _up_to_date(db):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    with db.write() as conn:
        if db.backend == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key("migrate")}
            )
        current = current_revision(conn)
        config.attributes["connection"] = conn
        if current is not None and not inspect(conn).has_table("alembic_version"):
            command.stamp(config, current)
            conn.execute(text("DROP TABLE schema_version"))
        if current != HEAD_REVISION:
            # Said before it runs: rebuilding a large table takes a while.
            _log.info("applying database migrations", current=current, target=HEAD_REVISION)
            command.upgrade(config, "head")
