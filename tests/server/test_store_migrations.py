"""Schema migrations (Alembic): empty databases, databases from before Alembic, and the head."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from flomation.server.store import Store
from flomation.server.store.migrations import HEAD_REVISION
from flomation.server.store.schema import metadata

from .databases import run_sql

_LEGACY_DUMP = Path(__file__).with_name("data") / "server-db-schema-version-2.sql"
# The execution that the dump holds, with two log lines.
_LEGACY_EXECUTION_ID = "6f1d0c9e-0000-4000-8000-000000000001"


def _legacy_database(path: Path, *, version: int = 2) -> None:
    """A server.db as the server wrote it before Alembic, at ``schema_version`` ``version``."""
    dump = _LEGACY_DUMP.read_text(encoding="utf-8")
    execution_id = dump.split('INSERT INTO "executions" VALUES(\'', 1)[1].split("'", 1)[0]
    with sqlite3.connect(path) as db:
        db.executescript(dump.replace(execution_id, _LEGACY_EXECUTION_ID))
        if version == 1:
            # Migration 1 created execution_logs as a rowid table.
            db.executescript(
                """
                ALTER TABLE execution_logs RENAME TO clustered;
                CREATE TABLE execution_logs (
                    execution_id TEXT NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL,
                    PRIMARY KEY (execution_id, seq)
                );
                INSERT INTO execution_logs SELECT * FROM clustered;
                DROP TABLE clustered;
                UPDATE schema_version SET version = 1;
                """
            )
    db.close()


def _table_sql(path: Path, table: str) -> str:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    db.close()
    return "" if row is None else str(row[0])


async def test_database_from_before_alembic_opens_with_its_data(tmp_path: Path) -> None:
    """A schema_version 2 database is stamped at revision 0002 and upgraded (delivery tables,
    dashboard indexes), its rows intact."""
    path = tmp_path / "server.db"
    _legacy_database(path)
    store = await Store.open(f"sqlite:///{path}")
    try:
        assert await store.schema_revision() == HEAD_REVISION
        execution = await store.get_execution(_LEGACY_EXECUTION_ID)
        lines = await store.read_logs(_LEGACY_EXECUTION_ID, 0, 10)
        queues = await store.list_queues()
    finally:
        await store.close()
    assert execution is not None and execution.data == {"name": "Ada"}
    assert lines == [(1, "first line"), (2, "second é line")]
    assert [queue.name for queue in queues] == ["legacy"]
    assert _table_sql(path, "schema_version") == ""
    assert "PRIMARY KEY" in _table_sql(path, "claim_lapses")
    for index in ("ix_executions_updated", "ix_executions_completed"):
        assert index in _table_sql(path, index)


async def test_version_1_log_lines_survive_the_clustered_log_table(tmp_path: Path) -> None:
    """Revision 0002 rebuilds a version 1 execution_logs WITHOUT ROWID, keeping its lines."""
    path = tmp_path / "server.db"
    _legacy_database(path, version=1)
    assert "WITHOUT ROWID" not in _table_sql(path, "execution_logs")
    store = await Store.open(f"sqlite:///{path}")
    try:
        assert await store.schema_revision() == HEAD_REVISION
        lines = await store.read_logs(_LEGACY_EXECUTION_ID, 0, 10)
    finally:
        await store.close()
    assert lines == [(1, "first line"), (2, "second é line")]
    assert "WITHOUT ROWID" in _table_sql(path, "execution_logs")


async def test_empty_database_gets_exactly_the_tables_the_queries_use(database_url: str) -> None:
    """Upgrading an empty database (SQLite and PostgreSQL) yields schema.py's tables, no more."""
    store = await Store.open(database_url)
    try:
        assert await store.schema_revision() == HEAD_REVISION
    finally:
        await store.close()
    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert differences == []


async def test_opening_a_migrated_database_again_changes_nothing(database_url: str) -> None:
    """A second start finds the head revision and applies nothing (the data stays)."""
    store = await Store.open(database_url)
    try:
        await store.create_queue("q", None, 1.0)
    finally:
        await store.close()
    store = await Store.open(database_url)
    try:
        assert [queue.name for queue in await store.list_queues()] == ["q"]
    finally:
        await store.close()
    assert run_sql(database_url, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def test_head_revision_names_the_newest_revision_file() -> None:
    """HEAD_REVISION (the start-up fast path) equals the head of alembic/versions."""
    config = Config()
    location = Path(__file__).parents[2] / "src/flomation/server/store/alembic"
    config.set_main_option("script_location", str(location))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]
