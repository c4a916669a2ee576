"""The reaper (docs/protocol.md §8.2): silent runners and over-long executions."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from flomation.server.admin_answers import ExecutionAnswer
from flomation.server.admin_client import AdminClient

from .conftest import SettingsFactory, claimed_execution


async def _wait_for_completion(
    admin: AdminClient, execution_id: str, limit_s: float
) -> ExecutionAnswer:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        execution = await admin.get_execution(execution_id)
        if execution["completion_status"] != "pending":
            return execution
        await asyncio.sleep(0.05)
    raise AssertionError(f"execution {execution_id} not reaped within {limit_s} s")


async def test_silent_runner_execution_fails_with_reason(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """A claimed execution without runner contact is failed within lost_after + one period."""
    settings = make_settings(runner_lost_after_s=1.0, reaper_interval_s=0.2)
    async with claimed_execution(settings, http) as (_, admin, runner, execution_id):
        claimed_at = time.monotonic()
        await runner.set_running(execution_id)
        execution = await _wait_for_completion(admin, execution_id, 5.0)
        assert time.monotonic() - claimed_at >= 0.9
        assert execution["execution_status"] == "executed"
        assert execution["completion_status"] == "fail"
        assert execution["completion_reason"] == "runner lost: no contact for 1 s"
        status = await runner.status(execution_id)
        assert status.json["completion_status"] == "fail"
        assert (await runner.result(execution_id, state={"late": True})).status == 200
        after = await admin.get_execution(execution_id)
        assert after["completion_status"] == "fail" and after["result"] == {"late": True}


async def test_runner_in_contact_is_not_reaped_but_times_out(
    make_settings: SettingsFactory, http: aiohttp.ClientSession
) -> None:
    """Status polls keep an execution alive; the execution timeout still ends it."""
    settings = make_settings(
        runner_lost_after_s=0.6, execution_timeout_s=1.5, reaper_interval_s=0.1
    )
    async with claimed_execution(settings, http) as (_, admin, runner, execution_id):
        deadline = time.monotonic() + 5
        completion = "pending"
        while completion == "pending" and time.monotonic() < deadline:
            completion = (await runner.status(execution_id)).json["completion_status"]
            await asyncio.sleep(0.1)
        execution = await admin.get_execution(execution_id)
        assert execution["completion_status"] == "timeout"
        assert execution["completion_reason"] == "execution timeout"
