"""The Starlette application: routes, JSON errors, and a lifespan owning the background tasks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flomation.server.dashboard import dashboard_routes
from flomation.server.http_io import HttpError, error_response, json_response
from flomation.server.metrics import CONTENT_TYPE
from flomation.server.openapi import OPENAPI_PATH, openapi_document
from flomation.server.reaper import run_claim_leases, run_pruner, run_reaper, run_shared_wakeups
from flomation.server.routes_admin import AdminEndpoints
from flomation.server.routes_internal import InternalEndpoints
from flomation.server.routes_runner import RunnerEndpoints
from flomation.server.services import Services

__all__ = ["create_app"]

_log = structlog.get_logger("flomation.server.app")


def create_app(services: Services) -> Starlette:
    """An app serving the runner protocol, the admin API and its OpenAPI document (no token
    needed: it holds no data), ``/healthz``, ``/metrics`` and the dashboard (``/``).

    The caller owns ``services.store`` (opens it before, closes it after the app).
    """

    async def healthz(request: Request) -> Response:
        await services.store.ping()
        return json_response({"status": "ok"})

    api_description = openapi_document()

    async def openapi(request: Request) -> Response:
        return json_response(api_description)

    async def metrics(request: Request) -> Response:
        body = await services.metrics.render(services.store, services.dispatcher.waiting)
        return Response(body, media_type=CONTENT_TYPE)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HttpError)
        return error_response(exc.status, exc.message)

    async def on_starlette_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error_response(404, "not found")
        return error_response(exc.status_code, str(exc.detail))

    async def on_crash(request: Request, exc: Exception) -> Response:
        _log.error("handler crashed", path=request.url.path, error=repr(exc))
        return error_response(500, "internal server error")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(run_reaper(services, stop), name="reaper")
            tasks.create_task(run_pruner(services, stop), name="retention")
            tasks.create_task(run_claim_leases(services, stop), name="claim-leases")
            tasks.create_task(run_shared_wakeups(services, stop), name="shared-wakeups")
            if services.store.backend == "postgresql":
                # Imported here: psycopg alone is ~56 ms of import (python -X importtime -c
                # "import psycopg") that a server on SQLite never needs.
                from flomation.server.changes import PostgresChangeFeed

                feed = PostgresChangeFeed(
                    services.settings.database, services.dispatcher, services.events
                )
                tasks.create_task(feed.run(stop), name="replica-changes")
            try:
                yield
            finally:
                services.begin_shutdown()
                stop.set()

    runner_endpoints = RunnerEndpoints(services)
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route(OPENAPI_PATH, openapi, methods=["GET"]),
        *runner_endpoints.routes(),
        *InternalEndpoints(services, runner_endpoints).routes(),
        *AdminEndpoints(services).routes(),
        *dashboard_routes(services),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HttpError: on_http_error,
            HTTPException: on_starlette_error,
            Exception: on_crash,
        },
    )
