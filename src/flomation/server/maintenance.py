"""Operator commands on the database without serving: ``migrate`` and ``backup``.

``migrate`` applies the schema migrations alone (a deployment can run it before starting new
replicas; every server also applies them at start). ``backup PATH`` copies a SQLite database
online: one read transaction sees a consistent snapshot while servers keep writing (WAL mode
lets writers go on beside a reader; SQLite's stepwise backup would restart on every write of
another process and might never finish). PostgreSQL is backed up with its own tools
(``pg_dump``, see docs/operations.md), which the command says instead of copying.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from flomation.server.state_files import create_private_database
from flomation.server.store import database_backend, sqlite_path
from flomation.server.store.database import Database
from flomation.server.store.migrations import HEAD_REVISION, current_revision, migrate

__all__ = ["MaintenanceError", "backup_sqlite", "migrate_database"]


class MaintenanceError(Exception):
    """A command that cannot be done as asked; the message says what to do instead."""


def migrate_database(database_url: str) -> tuple[str | None, str]:
    """Apply pending migrations (creating a new SQLite file privately); the revisions before and
    after."""
    if database_backend(database_url) == "sqlite":
        create_private_database(sqlite_path(database_url))
    db = Database.open(database_url)
    try:
        with db.read() as conn:
            before = current_revision(conn)
        migrate(db)
        return before, HEAD_REVISION
    finally:
        db.close()


def backup_sqlite(database_url: str, destination: Path) -> int:
    """Copy the SQLite database online to a new private (0600) file; its size in bytes."""
    if database_backend(database_url) != "sqlite":
        raise MaintenanceError(
            "a PostgreSQL database is backed up with pg_dump, e.g. "
            f'pg_dump --format=custom --file={destination} "$FLOMATION_SERVER_DATABASE" '
            "(restore: pg_restore --dbname=URL FILE; see docs/operations.md)"
        )
    source_path = sqlite_path(database_url)
    if not source_path.is_file():
        raise MaintenanceError(f"{source_path} does not exist: nothing to back up")
    try:
        descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MaintenanceError(f"{destination} already exists; choose a new file") from None
    os.close(descriptor)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    target = sqlite3.connect(destination)
    try:
        source.backup(target)
    except BaseException:
        target.close()
        destination.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    target.close()
    return destination.stat().st_size
