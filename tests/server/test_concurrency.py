"""Many runners, many executions: every execution is claimed by exactly one runner (§8.1 A2)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp
import pytest

from flomation.server.admin_client import AdminClient
from flomation.server.embedded import EmbeddedServer

from .runner_client import FLOW, SigningRunner

RUNNERS = 20
EXECUTIONS = 500


# The bounds only stop a hang; they are not a speed target. Under a parallel run (./scripts/test's
# pytest-xdist workers) on the shared 2-core machine the 500 claims took over 60 s.
@pytest.mark.timeout(300)
async def test_each_execution_is_claimed_exactly_once(
    server: EmbeddedServer, admin: AdminClient
) -> None:
    """20 runners poll while 500 executions are created; each is handed out once, none lost."""
    queue = await admin.create_queue("q")
    flo = await admin.create_flo("f", FLOW)
    claims: list[tuple[str, str]] = []
    done = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        runners = [SigningRunner(server.url, http) for _ in range(RUNNERS)]
        for runner in runners:
            assert (await runner.register(queue["registration_code"])).status == 200

        async def work(runner: SigningRunner) -> None:
            while not done.is_set():
                answer = await runner.poll()
                if answer.status == 200:
                    execution_id = answer.json["execution"]["id"]
                    assert answer.json["execution"]["runner_id"] == runner.runner_id
                    claims.append((execution_id, runner.identifier))
                    assert (await runner.result(execution_id)).status == 200
                    if len(claims) >= EXECUTIONS:
                        done.set()
                else:
                    assert answer.status == 204

        async def create() -> list[str]:
            ids = []
            for start in range(0, EXECUTIONS, 50):
                batch = [admin.execute(flo["id"]) for _ in range(start, start + 50)]
                ids += await asyncio.gather(*batch)
            return ids

        started = time.monotonic()
        async with asyncio.timeout(240):
            workers = [asyncio.create_task(work(runner)) for runner in runners]
            created = await create()
            await done.wait()
            await asyncio.gather(*workers)
        elapsed = time.monotonic() - started

    counts = Counter(execution_id for execution_id, _ in claims)
    assert set(counts) == set(created)
    assert max(counts.values()) == 1
    assert len({identifier for _, identifier in claims}) > 1
    finished = await admin.list_executions(
        flo_id=flo["id"], completion_status="success", limit=1000
    )
    assert len(finished) == EXECUTIONS
    print(f"{EXECUTIONS} executions through {RUNNERS} runners in {elapsed:.2f} s")
