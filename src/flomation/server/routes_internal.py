"""Endpoints an executor calls to start another flow: ``common/start_flow`` (docs/protocol.md).

Upstream's executor (flomation-co/executor: actions/common/start_flow/action.go) posts to
``/api/v1/internal/flo/{flo_id}/execute`` (201 ``{"id"}``) and polls
``/api/v1/internal/execution/{execution_id}`` for ``{execution_status, completion_status,
result}``; upstream's API serves them behind mutual TLS. Here they are authenticated like the
environment look-ups: the header ``X-Flomation-Execution`` names the calling execution, the
request carries its runner's signature (``?token=`` over that execution id, or a v2 signature
over the request), and the calling execution must still be allocated or running. A flow can only
start, and read, flows and executions of its own organisation.
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flomation.server.admin_bodies import ExecuteRequest
from flomation.server.http_io import HttpError, json_response, parse_body, read_body
from flomation.server.records import ExecutionCall
from flomation.server.routes_runner import RunnerEndpoints, environment_refusal
from flomation.server.services import Services

__all__ = ["CALLER_HEADER", "MAX_INTERNAL_BODY_BYTES", "InternalEndpoints"]

CALLER_HEADER = "X-Flomation-Execution"
MAX_INTERNAL_BODY_BYTES = 1024 * 1024

_log = structlog.get_logger("flomation.server.internal")


class InternalEndpoints:
    """Start a flow from a running execution, and read the started execution's outcome."""

    def __init__(self, services: Services, runner_endpoints: RunnerEndpoints) -> None:
        self._s = services
        self._runner = runner_endpoints

    def routes(self) -> list[Route]:
        """Starlette routes of the internal endpoints."""
        return [
            Route("/api/v1/internal/flo/{flo_id}/execute", self.execute, methods=["POST"]),
            Route("/api/v1/internal/execution/{execution_id}", self.execution, methods=["GET"]),
        ]

    async def _caller(self, request: Request, body: bytes) -> tuple[ExecutionCall, str | None]:
        """The calling execution (signature verified, still running) and its organisation."""
        caller_id = request.headers.get(CALLER_HEADER, "").strip()
        if not caller_id:
            raise HttpError(401, f"header {CALLER_HEADER} naming the calling execution is required")
        # The executor's ?token= is signed once per execution and sent on every call, as on the
        # environment look-ups (docs/protocol.md §4.7): a repeated v1 signature is legitimate
        # here too, bounded by the calling execution still running.
        caller, _runner = await self._runner.assigned_caller(
            request, body, caller_id.encode("utf-8"), caller_id, v1_single_use=False
        )
        refusal = environment_refusal(caller)
        if refusal is not None:
            raise HttpError(403, refusal)
        flo = await self._s.store.get_flo(caller.flo_id)
        return caller, None if flo is None else flo.organisation_id

    async def execute(self, request: Request) -> Response:
        """``POST /api/v1/internal/flo/{flo_id}/execute``: 201 ``{"id"}`` of a new execution."""
        body = await read_body(request, MAX_INTERNAL_BODY_BYTES)
        caller, organisation_id = await self._caller(request, body)
        payload = parse_body(ExecuteRequest, body, empty_as=b"{}")
        flo_id = request.path_params["flo_id"]
        target = await self._s.store.get_flo(flo_id)
        if target is None or target.organisation_id != organisation_id:
            raise HttpError(404, "flo not found")
        calling = await self._s.store.get_execution(caller.id)
        owner_id = calling.owner_id if calling is not None else self._s.settings.admin_principal_id
        created = await self._s.store.create_execution(
            flo_id,
            data=payload.data if payload.data is not None else {},
            entry_node_id=payload.entry_node_id,
            owner_id=owner_id,
            now_s=self._s.clock(),
        )
        if created is None:
            raise HttpError(404, "flo not found")
        execution_id, dispatch_target = created
        self._s.metrics.executions_created.inc()
        self._s.dispatcher.notify(dispatch_target)
        _log.info(
            "flow started by an execution",
            flo_id=flo_id,
            execution_id=execution_id,
            caller=caller.id,
        )
        return json_response({"id": execution_id}, 201)

    async def execution(self, request: Request) -> Response:
        """``GET /api/v1/internal/execution/{execution_id}``: status and result."""
        _caller, organisation_id = await self._caller(request, b"")
        execution = await self._s.store.get_execution(request.path_params["execution_id"])
        if execution is None or execution.organisation_id != organisation_id:
            raise HttpError(404, "execution not found")
        return json_response(
            {
                "id": execution.id,
                "execution_status": execution.execution_status,
                "completion_status": execution.completion_status,
                "result": execution.result,
            }
        )
