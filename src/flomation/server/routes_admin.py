"""The admin API under the bearer admin token (docs/protocol.md §10)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from flomation.server.admin_bodies import (
    CredentialPut,
    EnvironmentCreate,
    ExecuteRequest,
    FloCreate,
    PropertyPut,
    QueueCreate,
    ResumeRequest,
    RevisionCreate,
    RunnerPatch,
    SecretPut,
)
from flomation.server.auth import admin_authorised
from flomation.server.http_io import HttpError, json_response, parse_body, read_body
from flomation.server.operations import (
    cancel_execution,
    execute_flow,
    put_environment_item,
    resume_execution,
)
from flomation.server.records import EnvironmentItemRecord
from flomation.server.services import Services
from flomation.server.sse import execution_stream
from flomation.server.store import (
    CancelOutcome,
    ConflictError,
    ExecutionFilter,
    ResumeOutcome,
    StoreNotFoundError,
)
from flomation.server.views import (
    environment_item_view,
    environment_view,
    execution_view,
    flo_view,
    queue_view,
    rfc3339,
    runner_admin_view,
)
from flomation.wire.models import COMPLETION_STATUSES, EXECUTION_STATUSES

__all__ = ["MAX_ADMIN_BODY_BYTES", "AdminEndpoints"]

MAX_ADMIN_BODY_BYTES = 16 * 1024 * 1024
_MAX_LIST_LIMIT = 1000

_Handler = Callable[[Request], Awaitable[Response]]


class AdminEndpoints:
    """Handlers of the admin API, bound to one app's services."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def _guard(self, handler: _Handler) -> _Handler:
        async def guarded(request: Request) -> Response:
            if not admin_authorised(request, self._s.admin_token):
                raise HttpError(401, "unauthorized")
            return await handler(request)

        return guarded

    def routes(self) -> list[Route]:
        """Starlette routes of the admin API (all behind the admin token)."""
        table: list[tuple[str, _Handler, str]] = [
            ("/api/v1/queue", self.create_queue, "POST"),
            ("/api/v1/queue", self.list_queues, "GET"),
            ("/api/v1/flo", self.create_flo, "POST"),
            ("/api/v1/flo/{flo_id}/revision", self.add_revision, "POST"),
            ("/api/v1/flo/{flo_id}/execute", self.execute, "POST"),
            ("/api/v1/execution", self.list_executions, "GET"),
            ("/api/v1/execution/{execution_id}", self.get_execution, "GET"),
            ("/api/v1/execution/{execution_id}/cancel", self.cancel, "POST"),
            ("/api/v1/execution/{execution_id}/resume", self.resume, "POST"),
            ("/api/v1/execution/{execution_id}/stream", self.stream, "GET"),
            ("/api/v1/runner", self.list_runners, "GET"),
            ("/api/v1/runner/{runner_id}", self.patch_runner, "PATCH"),
            ("/api/v1/environment", self.create_environment, "POST"),
            ("/api/v1/environment/{environment_id}/property/{name}", self.put_property, "PUT"),
            ("/api/v1/environment/{environment_id}/secret/{name}", self.put_secret, "PUT"),
            (
                "/api/v1/environment/{environment_id}/credential/{name}",
                self.put_credential,
                "PUT",
            ),
        ]
        return [
            Route(path, self._guard(handler), methods=[method]) for path, handler, method in table
        ]

    async def _body(self, request: Request) -> bytes:
        return await read_body(request, MAX_ADMIN_BODY_BYTES)

    # ------------------------------------------------------------------ queues

    async def create_queue(self, request: Request) -> Response:
        """Create a queue with a fresh registration code (§10.1)."""
        payload = parse_body(QueueCreate, await self._body(request))
        try:
            queue = await self._s.store.create_queue(
                payload.name, payload.organisation_id, self._s.clock()
            )
        except ConflictError as exc:
            raise HttpError(409, str(exc)) from exc
        return json_response(queue_view(queue), 201)

    async def list_queues(self, request: Request) -> Response:
        """All queues, newest first."""
        return json_response([queue_view(queue) for queue in await self._s.store.list_queues()])

    # ------------------------------------------------------------------- flows

    async def create_flo(self, request: Request) -> Response:
        """Create a flow and its revision 1 (§10.2)."""
        payload = parse_body(FloCreate, await self._body(request))
        try:
            flo = await self._s.store.create_flo(
                name=payload.name,
                data=payload.data,
                organisation_id=payload.organisation_id,
                author_id=payload.author_id,
                environment_id=payload.environment_id,
                queue_id=payload.queue_id,
                now_s=self._s.clock(),
            )
        except StoreNotFoundError as exc:
            raise HttpError(400, str(exc)) from exc
        return json_response(flo_view(flo), 201)

    async def add_revision(self, request: Request) -> Response:
        """Add a revision; the newest one is dispatched from now on."""
        payload = parse_body(RevisionCreate, await self._body(request))
        revision = await self._s.store.add_revision(
            request.path_params["flo_id"], payload.data, self._s.clock()
        )
        if revision is None:
            raise HttpError(404, "flo not found")
        return json_response({**revision, "created_at": rfc3339(revision["created_at"])}, 201)

    async def execute(self, request: Request) -> Response:
        """Create a ``created``/``pending`` execution and wake a runner that can take it (T1)."""
        payload = parse_body(ExecuteRequest, await self._body(request), empty_as=b"{}")
        execution_id = await execute_flow(
            self._s,
            request.path_params["flo_id"],
            payload.data if payload.data is not None else {},
            payload.entry_node_id,
        )
        if execution_id is None:
            raise HttpError(404, "flo not found")
        return json_response({"id": execution_id}, 201)

    # -------------------------------------------------------------- executions

    async def get_execution(self, request: Request) -> Response:
        """One execution (§10.3)."""
        execution = await self._s.store.get_execution(request.path_params["execution_id"])
        if execution is None:
            raise HttpError(404, "execution not found")
        return json_response(execution_view(execution))

    async def list_executions(self, request: Request) -> Response:
        """Executions filtered by flo, status and completion, newest first."""
        query = request.query_params
        status = query.get("status") or None
        completion = query.get("completion_status") or None
        if status is not None and status not in EXECUTION_STATUSES:
            raise HttpError(400, f"unknown status value {status!r}")
        if completion is not None and completion not in COMPLETION_STATUSES:
            raise HttpError(400, f"unknown completion_status value {completion!r}")
        limit_text = query.get("limit") or "100"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= _MAX_LIST_LIMIT:
            raise HttpError(400, f"limit must be an integer from 1 to {_MAX_LIST_LIMIT}")
        executions = await self._s.store.list_executions(
            ExecutionFilter(
                flo_id=query.get("flo_id") or None,
                execution_status=status,
                completion_status=completion,
                limit=int(limit_text),
            )
        )
        return json_response([execution_view(execution) for execution in executions])

    async def cancel(self, request: Request) -> Response:
        """Cancel an execution in progress or suspended (T8); 409 when already finished."""
        outcome, execution = await cancel_execution(self._s, request.path_params["execution_id"])
        if outcome is CancelOutcome.NOT_FOUND or execution is None:
            raise HttpError(404, "execution not found")
        if outcome is CancelOutcome.NOT_IN_PROGRESS:
            raise HttpError(409, "execution is not in progress")
        return json_response(execution_view(execution))

    async def resume(self, request: Request) -> Response:
        """Put a suspended execution back in the queue (T9) and wake a runner for it."""
        payload = parse_body(ResumeRequest, await self._body(request), empty_as=b"{}")
        outcome, execution = await resume_execution(
            self._s,
            request.path_params["execution_id"],
            payload.resume_data,
            "resume_data" in payload.model_fields_set,
        )
        if outcome is ResumeOutcome.NOT_FOUND or execution is None:
            raise HttpError(404, "execution not found")
        if outcome is ResumeOutcome.NOT_SUSPENDED:
            raise HttpError(409, "execution is not suspended")
        return json_response(execution_view(execution))

    async def stream(self, request: Request) -> Response:
        """Server-Sent Events of the execution's log and status (§10.6)."""
        execution_id = request.path_params["execution_id"]
        if await self._s.store.get_execution(execution_id) is None:
            raise HttpError(404, "execution not found")
        last_event_id = request.headers.get("last-event-id", "").strip()
        after_seq = int(last_event_id) if last_event_id.isdigit() else 0
        return StreamingResponse(
            execution_stream(self._s, execution_id, after_seq),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    # ----------------------------------------------------------------- runners

    async def list_runners(self, request: Request) -> Response:
        """All runners, without registration codes or manifests (§10.4)."""
        now_s = self._s.clock()
        runners = await self._s.store.list_runners()
        return json_response([runner_admin_view(runner, now_s) for runner in runners])

    async def patch_runner(self, request: Request) -> Response:
        """Pause or resume a runner."""
        payload = parse_body(RunnerPatch, await self._body(request))
        runner = await self._s.store.set_runner_active(
            request.path_params["runner_id"], payload.active
        )
        if runner is None:
            raise HttpError(404, "runner not found")
        return json_response(runner_admin_view(runner, self._s.clock()))

    # ------------------------------------------------------------ environments

    async def create_environment(self, request: Request) -> Response:
        """Create an environment (§10.5)."""
        payload = parse_body(EnvironmentCreate, await self._body(request))
        try:
            environment = await self._s.store.create_environment(
                payload.name,
                self._s.settings.admin_principal_id,
                payload.organisation_id,
                self._s.clock(),
            )
        except ConflictError as exc:
            raise HttpError(409, str(exc)) from exc
        return json_response(environment_view(environment), 201)

    async def _put_item(
        self,
        request: Request,
        kind: str,
        *,
        value: str | None = None,
        secret_value: str | None = None,
        provider: str | None = None,
        expires_at: str | None = None,
        metadata: object = None,
    ) -> EnvironmentItemRecord:
        try:
            return await put_environment_item(
                self._s,
                request.path_params["environment_id"],
                kind,
                request.path_params["name"],
                value=value,
                secret_value=secret_value,
                provider=provider,
                expires_at=expires_at,
                metadata=metadata,
            )
        except StoreNotFoundError as exc:
            raise HttpError(404, str(exc)) from exc

    async def put_property(self, request: Request) -> Response:
        """Create or replace a property."""
        payload = parse_body(PropertyPut, await self._body(request))
        item = await self._put_item(request, "property", value=payload.value)
        return json_response(environment_item_view(item, payload.value))

    async def put_secret(self, request: Request) -> Response:
        """Create or replace a secret, encrypted at rest; the answer omits the value."""
        payload = parse_body(SecretPut, await self._body(request))
        item = await self._put_item(
            request,
            "secret",
            secret_value=payload.value,
            provider=payload.provider,
            expires_at=payload.expires_at,
        )
        return json_response(environment_item_view(item, None))

    async def put_credential(self, request: Request) -> Response:
        """Create or replace a credential, encrypted at rest; answers name and metadata."""
        payload = parse_body(CredentialPut, await self._body(request))
        item = await self._put_item(
            request, "credential", secret_value=payload.value, metadata=payload.metadata
        )
        return json_response(environment_item_view(item, None))
