"""Run the server inside the current event loop, on a real socket (tests, local mode, benches).

Usage::

    from flomation.server.config import ServerSettings
    from flomation.server.embedded import running_server

    settings = ServerSettings(listen="127.0.0.1:0", database=f"sqlite:///{tmp}/server.db",
                              poll_hold_s=0.5)
    async with running_server(settings) as server:
        print(server.url, server.admin_token)   # "http://127.0.0.1:PORT", bearer token

The database file (and its directory) is created if missing; the admin token comes from
``settings.admin_token`` or a file beside the database. On exit held long-polls are released,
the reaper stops, uvicorn shuts down and the database is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass

import structlog
import uvicorn

from flomation.server import state_files
from flomation.server.app import create_app
from flomation.server.config import ServerSettings
from flomation.server.crypto_box import SecretBox
from flomation.server.http_protocol import GatheringHttpToolsProtocol
from flomation.server.services import Services
from flomation.server.store import Store, sqlite_path

__all__ = ["EmbeddedServer", "ServerStartError", "running_server"]

_log = structlog.get_logger("flomation.server")
_GRACEFUL_SHUTDOWN_S = 10
_STARTUP_POLL_S = 0.01


class ServerStartError(RuntimeError):
    """uvicorn did not come up (port in use, lifespan failure...)."""


@dataclass(frozen=True)
class EmbeddedServer:
    """A running server: its base URL (no trailing slash), admin token and settings."""

    url: str
    admin_token: str
    admin_token_generated: bool
    settings: ServerSettings
    services: Services


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling, releasing long-polls before draining."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The owner of the event loop decides what signals do.
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def running_server(settings: ServerSettings) -> AsyncIterator[EmbeddedServer]:
    """Start the server on ``settings.listen`` (port 0 = any free port) and yield it."""
    database = sqlite_path(settings.database)
    state_files.create_private_database(database)
    directory = database.parent
    token, generated = state_files.admin_token(settings.admin_token, directory)
    box = SecretBox(state_files.secret_key(settings.secret_key, directory))
    store = await Store.open(settings.database)
    for exposed, mode in state_files.exposed_files(database):
        _log.warning(
            "server file is accessible to other users; chmod go-rwx it",
            path=str(exposed.absolute()),
            mode=f"{mode:04o}",
        )
    try:
        services = Services(settings=settings, store=store, admin_token=token, secret_box=box)
        sock = _bind(settings.host, settings.port)
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(
            create_app(services),
            lifespan="on",
            http=GatheringHttpToolsProtocol,
            # Forwarded headers are honoured by the app, and only from trusted_proxies (§8.1 A14).
            proxy_headers=False,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
            timeout_keep_alive=30,
        )
        server = _Server(config, services.begin_shutdown)
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
        try:
            while not server.started:
                if serving.done():
                    serving.result()
                    raise ServerStartError("the server stopped during start-up")
                await asyncio.sleep(_STARTUP_POLL_S)
            shown_host = f"[{host}]" if ":" in host else host
            yield EmbeddedServer(
                url=f"http://{shown_host}:{port}",
                admin_token=token,
                admin_token_generated=generated,
                settings=settings,
                services=services,
            )
        finally:
            server.should_exit = True
            await serving
            sock.close()
    finally:
        await store.close()
