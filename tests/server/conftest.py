"""Fixtures: a real server on 127.0.0.1 (port 0) with a temporary database, and clients."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import pytest

from flomation.server.admin_answers import FloAnswer, QueueAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.config import ServerSettings
from flomation.server.embedded import EmbeddedServer, running_server

from .databases import drop_emptied_databases, empty_database
from .runner_client import FLOW, SigningRunner, claim_new

_TEST_SECRET_KEY = base64.b64encode(bytes(range(32))).decode()

SettingsFactory = Callable[..., ServerSettings]


class RegisteredStack(NamedTuple):
    """A running server, its admin client, a registered runner and a flow it may run."""

    server: EmbeddedServer
    admin: AdminClient
    runner: SigningRunner
    flo_id: str


class ClaimedStack(NamedTuple):
    """A running server, its admin client, a registered runner and the execution it claimed."""

    server: EmbeddedServer
    admin: AdminClient
    runner: SigningRunner
    execution_id: str


@contextlib.asynccontextmanager
async def registered_runner(
    settings: ServerSettings, http: aiohttp.ClientSession
) -> AsyncIterator[RegisteredStack]:
    """A server started with ``settings`` with a new runner enrolled in a new queue and a new
    flow (no execution yet)."""
    async with (
        running_server(settings) as server,
        AdminClient(server.url, server.admin_token) as admin,
    ):
        queue = await admin.create_queue("q")
        runner = SigningRunner(server.url, http)
        assert (await runner.register(queue["registration_code"])).status == 200
        flo = await admin.create_flo("f", FLOW)
        yield RegisteredStack(server, admin, runner, flo["id"])


@contextlib.asynccontextmanager
async def claimed_execution(
    settings: ServerSettings, http: aiohttp.ClientSession
) -> AsyncIterator[ClaimedStack]:
    """A server started with ``settings`` on which a new runner has claimed one execution."""
    async with registered_runner(settings, http) as (server, admin, runner, flo_id):
        execution_id = await claim_new(runner, admin, flo_id)
        yield ClaimedStack(server, admin, runner, execution_id)


@pytest.fixture(scope="session")
def emptied_databases() -> Iterator[None]:
    """At the end of the session, drops the PostgreSQL databases kept for reuse between tests."""
    yield
    drop_emptied_databases()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, emptied_databases: None
) -> Iterator[str]:
    """Each server test runs on SQLite (a file under tmp_path) and on an empty PostgreSQL
    database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/state/server.db"
        return
    with empty_database() as url:
        yield url


@pytest.fixture
def make_settings(database_url: str) -> SettingsFactory:
    """Settings for a test server: free port, the test's database, 0.5 s polls."""

    def make(**overrides: Any) -> ServerSettings:
        values: dict[str, Any] = {
            "listen": "127.0.0.1:0",
            "database": database_url,
            "poll_hold_s": 0.5,
            "admin_token": "test-admin-token",
            # A server on PostgreSQL needs it configured; on SQLite it is generated in a file.
            "secret_key": _TEST_SECRET_KEY if database_url.startswith("postgresql") else None,
        }
        values.update(overrides)
        return ServerSettings(**values)

    return make


@pytest.fixture
async def server(make_settings: SettingsFactory) -> AsyncIterator[EmbeddedServer]:
    """A running server with default test settings."""
    async with running_server(make_settings()) as running:
        yield running


@pytest.fixture
async def admin(server: EmbeddedServer) -> AsyncIterator[AdminClient]:
    """An admin client of ``server``."""
    client = AdminClient(server.url, server.admin_token)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP session for runner requests."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def queue(admin: AdminClient) -> QueueAnswer:
    """A public queue."""
    return await admin.create_queue("default")


@pytest.fixture
async def runner(
    server: EmbeddedServer, http: aiohttp.ClientSession, queue: QueueAnswer
) -> SigningRunner:
    """A runner enrolled in ``queue``."""
    client = SigningRunner(server.url, http)
    answer = await client.register(queue["registration_code"])
    assert answer.status == 200, answer.body
    return client


@pytest.fixture
async def flo(admin: AdminClient) -> FloAnswer:
    """A public flow with one revision."""
    return await admin.create_flo("hello", FLOW)
