"""The admin API (docs/protocol.md §10): bearer token, queues, flows, executions, runners."""

from __future__ import annotations

import aiohttp
import pytest

from flomation.server.admin_client import AdminApiError, AdminClient
from flomation.server.embedded import EmbeddedServer
from flomation.wire.jsontext import JsonObject

from .runner_client import FLOW, SigningRunner


async def test_admin_routes_need_the_token(
    server: EmbeddedServer, http: aiohttp.ClientSession
) -> None:
    """Every admin route answers 401 ``unauthorized`` without the right bearer token."""
    routes = [
        ("GET", "/api/v1/queue"),
        ("POST", "/api/v1/queue"),
        ("POST", "/api/v1/flo"),
        ("GET", "/api/v1/execution"),
        ("GET", "/api/v1/execution/x"),
        ("POST", "/api/v1/execution/x/cancel"),
        ("GET", "/api/v1/runner"),
        ("PATCH", "/api/v1/runner/x"),
        ("POST", "/api/v1/environment"),
        ("PUT", "/api/v1/environment/x/secret/y"),
    ]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        for method, path in routes:
            async with http.request(method, server.url + path, headers=headers) as response:
                assert response.status == 401, (method, path)
                assert await response.json() == {"error": "unauthorized"}


async def test_bearer_scheme_is_case_insensitive(
    server: EmbeddedServer, http: aiohttp.ClientSession
) -> None:
    """The ``Bearer`` scheme is matched in any case (RFC 7235 2.1); the token itself is not."""
    url = server.url + "/api/v1/queue"
    token = server.admin_token
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        headers = {"Authorization": f"{scheme} {token}"}
        async with http.get(url, headers=headers) as response:
            assert response.status == 200, scheme
    refused = (f"Bearer {token.upper()}x", f"Bearerx {token}", f"Basic {token}", token)
    for value in refused:
        async with http.get(url, headers={"Authorization": value}) as response:
            assert response.status == 401, value


async def test_queue_codes_are_unique_hex(admin: AdminClient) -> None:
    """Queues get 32-hex registration codes; duplicate names are 409."""
    first = await admin.create_queue("a")
    second = await admin.create_queue("b", organisation_id="acme")
    assert len(first["registration_code"]) == 32
    assert int(first["registration_code"], 16) >= 0
    assert first["registration_code"] != second["registration_code"]
    assert first["organisation_id"] is None and second["organisation_id"] == "acme"
    with pytest.raises(AdminApiError) as caught:
        await admin.create_queue("a")
    assert caught.value.status == 409
    assert [queue["name"] for queue in await admin.queues()] == ["b", "a"]


async def test_flows_revisions_and_execution_listing(
    runner: SigningRunner, admin: AdminClient
) -> None:
    """The newest revision is dispatched; executions list newest first with filters."""
    flo = await admin.create_flo("f", FLOW)
    assert flo["queue_id"] is None and flo["execution_count"] == 0
    second_graph: JsonObject = {"nodes": [], "edges": [], "v": 2}
    revision = await admin.add_revision(flo["id"], second_graph)
    assert revision["flo_id"] == flo["id"]
    first = await admin.execute(flo["id"])
    second = await admin.execute(flo["id"], data={"k": "v"})
    claimed = await runner.poll()
    assert claimed.json["data"] == second_graph
    assert claimed.json["execution"]["id"] == first
    assert claimed.json["execution"]["sequence"] == 1
    listed = await admin.list_executions(flo_id=flo["id"])
    assert [execution["id"] for execution in listed] == [second, first]
    assert [e["id"] for e in await admin.list_executions(status="created")] == [second]
    assert len(await admin.list_executions(limit=1)) == 1
    execution = await admin.get_execution(second)
    assert execution["sequence"] == 2 and execution["data"] == {"k": "v"}
    with pytest.raises(AdminApiError) as caught:
        await admin.execute("no-such-flo")
    assert caught.value.status == 404
    with pytest.raises(AdminApiError):
        await admin.get_execution("no-such-execution")


async def test_cancel_a_created_execution(admin: AdminClient, runner: SigningRunner) -> None:
    """A queued execution can be cancelled and is then never handed out."""
    flo = await admin.create_flo("f", FLOW)
    execution_id = await admin.execute(flo["id"])
    cancelled = await admin.cancel(execution_id)
    assert (cancelled["execution_status"], cancelled["completion_status"]) == ("executed", "cancel")
    assert (await runner.poll()).status == 204


async def test_runner_patch_unknown_is_404(admin: AdminClient) -> None:
    """Pausing an unknown runner is 404."""
    with pytest.raises(AdminApiError) as caught:
        await admin.set_runner_active("missing", False)
    assert caught.value.status == 404


async def test_metrics_expose_pending_per_queue(
    server: EmbeddedServer, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    """``/metrics`` has a pending-executions gauge per queue (what KEDA scales on)."""
    busy = await admin.create_queue("busy")
    await admin.create_queue("idle", organisation_id="other")
    pinned = await admin.create_flo("p", FLOW, queue_id=busy["id"])
    for _ in range(3):
        await admin.execute(pinned["id"])
    public = await admin.create_flo("q", FLOW)
    await admin.execute(public["id"])
    async with http.get(server.url + "/metrics") as response:
        text = await response.text()
    assert 'flomation_pending_executions{queue="busy"} 4.0' in text
    assert 'flomation_pending_executions{queue="idle"} 0.0' in text
    async with http.get(server.url + "/healthz") as response:
        assert await response.json() == {"status": "ok"}
