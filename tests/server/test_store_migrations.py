"""Schema migrations: a database written by an older server opens with its data intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from structlog.testing import capture_logs

from flomation.server.store import Store

_EXECUTION_ID = "6f1d0c9e-0000-4000-8000-000000000001"


def _table_sql(path: Path, table: str) -> str:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    db.close()
    return str(row[0])


def _downgrade_to_version_1(path: Path) -> None:
    """Give execution_logs the shape migration 1 created (a rowid table) and hold two lines."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.executescript(
            """
            BEGIN;
            DROP TABLE execution_logs;
            CREATE TABLE execution_logs (
                execution_id TEXT NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL,
                PRIMARY KEY (execution_id, seq)
            );
            DROP TABLE claim_lapses;
            DROP TABLE log_batch_keys;
            DROP TABLE sealed_logs;
            UPDATE schema_version SET version = 1;
            COMMIT;
            """
        )
        db.executemany(
            "INSERT INTO execution_logs VALUES (?, ?, ?)",
            [(_EXECUTION_ID, 1, "first line"), (_EXECUTION_ID, 2, "second é line")],
        )
    finally:
        db.close()


async def test_version_1_log_lines_survive_the_clustered_log_table(tmp_path: Path) -> None:
    """Migration 2 rebuilds execution_logs WITHOUT ROWID and keeps every stored line in order."""
    path = tmp_path / "server.db"
    store = await Store.open(f"sqlite:///{path}")
    await store.close()
    _downgrade_to_version_1(path)
    assert "WITHOUT ROWID" not in _table_sql(path, "execution_logs")

    with capture_logs() as logs:
        store = await Store.open(f"sqlite:///{path}")
    assert [(e["event"], e["migration"], e["name"]) for e in logs] == [
        ("applying database migration", 2, "clustered_log_lines"),
        ("applying database migration", 3, "delivery_guarantees"),
        ("applying database migration", 4, "dashboard_indexes"),
        ("applying database migration", 5, "completed_index"),
    ]
    try:
        assert await store.schema_version() == 5
        lines = await store.read_logs(_EXECUTION_ID, 0, 10)
    finally:
        await store.close()
    assert lines == [(1, "first line"), (2, "second é line")]
    assert "WITHOUT ROWID" in _table_sql(path, "execution_logs")


async def test_version_3_database_gains_the_dashboard_indexes(tmp_path: Path) -> None:
    """Migrations 4 and 5 add the dashboard's indexes to an existing database."""
    path = tmp_path / "server.db"
    store = await Store.open(f"sqlite:///{path}")
    await store.close()
    db = sqlite3.connect(path)
    try:
        for name in ("ix_executions_created", "ix_executions_updated", "ix_executions_completed"):
            db.execute(f"DROP INDEX {name}")
        db.execute("UPDATE schema_version SET version = 3")
        db.commit()
    finally:
        db.close()
    store = await Store.open(f"sqlite:///{path}")
    try:
        assert await store.schema_version() == 5
    finally:
        await store.close()
    db = sqlite3.connect(path)
    try:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        db.close()
    assert {
        "ix_executions_created",
        "ix_executions_completion_created",
        "ix_executions_runner_created",
        "ix_executions_updated",
        "ix_executions_completed",
    } <= names
