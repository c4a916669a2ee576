"""Retention: old finished executions pruned with their logs in small batches, and the total
log size capped by dropping the oldest finished executions' logs."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from flomation.server.admin_client import AdminApiError, AdminClient
from flomation.server.embedded import EmbeddedServer
from flomation.server.reaper import prune_once

from .conftest import SettingsFactory, registered_runner
from .databases import run_sql
from .runner_client import SigningRunner, claim_new

_DAY_S = 86400.0
# The delivery guarantees' tables (store/delivery.py) and a row's values after its execution id.
_DELIVERY_ROWS = {
    "log_batch_keys": "'batch-1'",
    "sealed_logs": "0",
    "claim_lapses": "'runner-1', 0",
}


async def _finished(
    runner: SigningRunner, admin: AdminClient, flo_id: str, lines: list[str]
) -> str:
    execution_id = await claim_new(runner, admin, flo_id)
    for start in range(0, len(lines), 1000):
        assert (await runner.logs(execution_id, lines[start : start + 1000])).status == 200
    assert (await runner.result(execution_id)).status == 200
    return execution_id


def _age(server: EmbeddedServer, execution_id: str, days: float) -> None:
    run_sql(
        server.settings.database,
        "UPDATE executions SET created_at = created_at - :age WHERE id = :id",
        age=days * _DAY_S,
        id=execution_id,
    )


async def _metrics(http: aiohttp.ClientSession, server: EmbeddedServer) -> str:
    async with http.get(server.url + "/metrics") as response:
        return await response.text()


def _log_lines(server: EmbeddedServer, execution_id: str) -> int:
    rows = run_sql(
        server.settings.database,
        "SELECT count(*) FROM execution_logs WHERE execution_id = :id",
        id=execution_id,
    )
    return int(rows[0][0])


async def test_old_finished_executions_go_with_their_logs_and_nothing_else_does(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """Finished executions older than the retention go (a 4,500-line log over several batches)
    with their delivery records; recent ones, old unfinished ones and the flows stay."""
    settings = make_settings(retention_s=7 * _DAY_S)
    async with registered_runner(settings, http) as (server, admin, runner, flo_id):
        long_log = await _finished(runner, admin, flo_id, [f"l{n}" for n in range(4500)])
        short_log = await _finished(runner, admin, flo_id, ["one", "two"])
        recent = await _finished(runner, admin, flo_id, ["kept"])
        unfinished = await claim_new(runner, admin, flo_id)
        for old in (long_log, short_log, unfinished):
            _age(server, old, days=8)
        for execution_id in (short_log, recent):
            for table, columns in _DELIVERY_ROWS.items():
                run_sql(
                    server.settings.database,
                    f"INSERT INTO {table} VALUES (:id, {columns})",
                    id=execution_id,
                )

        pruned = await prune_once(server.services, asyncio.Event())

        assert (pruned.executions, pruned.log_lines) == (2, 4502)
        for gone in (long_log, short_log):
            with pytest.raises(AdminApiError, match="404"):
                await admin.get_execution(gone)
            assert _log_lines(server, gone) == 0
        assert (await admin.get_execution(recent))["completion_status"] == "success"
        assert _log_lines(server, recent) == 1
        for table in _DELIVERY_ROWS:
            left = run_sql(server.settings.database, f"SELECT execution_id FROM {table}")
            assert left == [(recent,)], table
        assert (await admin.get_execution(unfinished))["execution_status"] == "allocated"
        flows = run_sql(server.settings.database, "SELECT id FROM flos")
        assert flows == [(flo_id,)]
        metrics = await _metrics(http, server)
        assert "flomation_pruned_executions_total 2.0" in metrics
        assert "flomation_pruned_log_lines_total 4502.0" in metrics


async def test_total_log_size_cap_drops_the_oldest_finished_logs_first(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """Above the cap the oldest finished execution's log is dropped (marked truncated) until the
    total fits; the executions themselves stay."""
    line = "x" * 99  # 100 bytes a line, counting its newline
    settings = make_settings(retention_s=0, max_total_log_bytes=25_000)
    async with registered_runner(settings, http) as (server, admin, runner, flo_id):
        oldest, middle, newest = [
            await _finished(runner, admin, flo_id, [line] * 100) for _ in range(3)
        ]

        pruned = await prune_once(server.services, asyncio.Event())

        assert pruned.log_lines == 100
        dropped = await admin.get_execution(oldest)
        assert (dropped["log_bytes"], dropped["log_truncated"]) == (0, True)
        assert _log_lines(server, oldest) == 0
        for kept in (middle, newest):
            assert (await admin.get_execution(kept))["log_bytes"] == 10_000
            assert _log_lines(server, kept) == 100
        assert "flomation_stored_log_bytes 20000.0" in await _metrics(http, server)


async def test_a_batch_takes_the_oldest_executions_whose_logs_fit_in_its_line_budget(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """One retention batch removes the oldest old executions up to the first whose log would
    exceed its line budget; that one and the newer ones wait for the next batch."""
    settings = make_settings(retention_s=7 * _DAY_S)
    async with registered_runner(settings, http) as (server, admin, runner, flo_id):
        sizes = (3, 4, 5, 1)
        oldest_first = [await _finished(runner, admin, flo_id, ["x"] * size) for size in sizes]
        for execution_id in oldest_first:
            _age(server, execution_id, days=8)
        cutoff_s = server.services.clock() - 7 * _DAY_S

        first = await server.services.store.prune_finished_before(cutoff_s, 7)
        second = await server.services.store.prune_finished_before(cutoff_s, 7)

        assert (first.executions, first.log_lines) == (2, 7)
        assert (second.executions, second.log_lines) == (2, 6)
        assert first.log_bytes == 2 * 7  # "x" and its newline a line
        for gone in oldest_first:
            with pytest.raises(AdminApiError, match="404"):
                await admin.get_execution(gone)
