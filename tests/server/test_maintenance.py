"""Backup and restore (SQLite online backup; PostgreSQL with pg_dump) and migrating alone."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import aiohttp
import pytest

from flomation.server.admin_client import AdminClient
from flomation.server.config import ServerSettings
from flomation.server.embedded import running_server
from flomation.server.maintenance import MaintenanceError, backup_sqlite, migrate_database
from flomation.server.store.migrations import HEAD_REVISION

from .conftest import registered_runner
from .databases import fresh_database
from .runner_client import FLOW, claim_new


async def _one_finished_execution(settings: ServerSettings, http: aiohttp.ClientSession) -> str:
    async with registered_runner(settings, http) as (_, admin, runner, flo_id):
        execution_id = await claim_new(runner, admin, flo_id)
        assert (await runner.logs(execution_id, ["kept in the backup"])).status == 200
        assert (await runner.result(execution_id)).status == 200
        return execution_id


async def _logs_of(settings: ServerSettings, execution_id: str) -> list[str]:
    async with (
        running_server(settings) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        execution = await admin.get_execution(execution_id)
        assert execution["completion_status"] == "success"
        return [event.data async for event in admin.stream(execution_id) if event.id]


async def test_sqlite_backup_taken_while_serving_restores_every_row(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """A backup taken while a server writes is a private file that a server opens with the data."""
    source = ServerSettings(
        listen="127.0.0.1:0", database=f"sqlite:///{tmp_path}/live/server.db", admin_token="t"
    )
    execution_id = await _one_finished_execution(source, http)
    backup = tmp_path / "server-backup.db"
    async with running_server(source) as server, AdminClient(server.url, "t") as admin:
        flo = await admin.create_flo("busy", FLOW)
        writes = asyncio.gather(*(admin.execute(flo["id"]) for _ in range(50)))
        size = await asyncio.to_thread(backup_sqlite, source.database, backup)
        await writes
    assert size == backup.stat().st_size > 0
    assert backup.stat().st_mode & 0o777 == 0o600
    with pytest.raises(MaintenanceError, match="already exists"):
        backup_sqlite(source.database, backup)

    restored = source.model_copy(update={"database": f"sqlite:///{backup}"})
    (tmp_path / "secret-key").write_bytes((tmp_path / "live" / "secret-key").read_bytes())
    assert await _logs_of(restored, execution_id) == ["kept in the backup"]


async def test_postgresql_is_backed_up_with_pg_dump_and_restored_with_pg_restore(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """backup names pg_dump for PostgreSQL; the documented dump and restore keep every row."""
    with fresh_database() as source_url, fresh_database() as restored_url:
        source = ServerSettings(
            listen="127.0.0.1:0", database=source_url, admin_token="t", secret_key="A" * 43 + "="
        )
        execution_id = await _one_finished_execution(source, http)
        with pytest.raises(MaintenanceError, match="pg_dump --format=custom"):
            backup_sqlite(source_url, tmp_path / "dump")
        dump = tmp_path / "flomation.dump"
        for command in (
            ["pg_dump", "--format=custom", f"--file={dump}", source_url],
            ["pg_restore", "--no-owner", f"--dbname={restored_url}", str(dump)],
        ):
            await asyncio.to_thread(subprocess.run, command, check=True, timeout=60)
        restored = source.model_copy(update={"database": restored_url})
        assert await _logs_of(restored, execution_id) == ["kept in the backup"]


def test_migrate_alone_brings_an_empty_database_to_the_head_once(database_url: str) -> None:
    """migrate on an empty database goes from nothing to the head; a second run changes nothing."""
    assert migrate_database(database_url) == (None, HEAD_REVISION)
    assert migrate_database(database_url) == (HEAD_REVISION, HEAD_REVISION)
