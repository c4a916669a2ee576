"""The runner's optional HTTP listener: ``/healthz``, ``/readyz`` and ``/metrics``.

A module of its own because ``aiohttp.web`` costs ~1.3 MiB of resident memory (docs/benchmarks.md,
runner item 15): the agent imports it only when a listener is configured.
"""

from __future__ import annotations

import socket

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from flomation.runner.health import RunnerMetrics, RunnerStatus

__all__ = ["HealthServer"]


class HealthServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        status: RunnerStatus,
        metrics: RunnerMetrics,
        *,
        contact_window_s: float = 60.0,
    ) -> None:
        self._status = status
        self._metrics = metrics
        self._contact_window_s = contact_window_s
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        """Start listening."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        if self._status.live():
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "event loop stalled"}, status=503)

    async def _readyz(self, request: web.Request) -> web.Response:
        reasons = self._status.not_ready_reasons(self._contact_window_s)
        if reasons:
            return web.json_response({"status": "not ready", "reasons": reasons}, status=503)
        return web.json_response({"status": "ready"})

    async def _metrics_page(self, request: web.Request) -> web.Response:
        body = self._metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
