"""Runner-facing endpoints (docs/protocol.md §4, with the fixes of §8 and signatures of §3, §9)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive

from flomation.server.assignment_hints import AssignmentHints
from flomation.server.auth import SignatureError, VerifiedKey, client_ip, v1_claim_staleness
from flomation.server.crypto_box import SecretKeyError
from flomation.server.http_io import (
    PARSE_ON_LOOP_MAX_BYTES,
    HttpError,
    decode_body,
    json_response,
    leading_fields,
    parse_body,
    parse_body_off_loop,
    parse_text,
    read_body,
    read_body_gated,
)
from flomation.server.records import (
    ClaimedExecution,
    ExecutionCall,
    RunnerIdentity,
    RunnerRecord,
    RunnerScope,
)
from flomation.server.services import Services
from flomation.server.store import (
    ConfirmOutcome,
    LogBatch,
    LogBatchError,
    NewRunner,
    NotAssignedError,
    ReplayedNonceError,
    ResultOutcome,
    SignatureNonce,
)
from flomation.server.views import (
    environment_item_view,
    environment_view,
    pending_execution_view,
    runner_registration_view,
)
from flomation.wire.models import (
    LOG_BATCH_KEY_HEADER,
    LogsRequest,
    RegistrationRequest,
    ResultRequest,
    StateRequest,
)
from flomation.wire.paths import is_safe_id
from flomation.wire.signing import SIGNATURE_V2_HEADER, V2_ACCEPTED_HEADER, KeyFormatError

__all__ = [
    "MAX_CLAIM_BODY_BYTES",
    "MAX_LOGS_BODY_BYTES",
    "MAX_OPEN_REGISTRATION_BODY_BYTES",
    "MAX_REGISTRATION_BODY_BYTES",
    "MAX_RESULT_BODY_BYTES",
    "RunnerEndpoints",
    "environment_refusal",
]

_MIB = 1024 * 1024
MAX_REGISTRATION_BODY_BYTES = 64 * _MIB
# What anybody may make the server read of a registration before showing a credential: the
# fields before the manifest (identifier, name, registration code) fit many times over, in the
# order both runners send them (flomation-co/runner: internal/runner/service.go, the Runner
# struct; flomation.runner.api.registration_body).
MAX_OPEN_REGISTRATION_BODY_BYTES = 16 * 1024
MAX_RESULT_BODY_BYTES = 32 * _MIB
MAX_LOGS_BODY_BYTES = 4 * _MIB
MAX_CLAIM_BODY_BYTES = 64 * 1024
_DEFAULT_RUNNER_NAME = "Flo Runner"
_ITEM_KINDS = ("property", "secret", "credential")
_RUNNING_STATUSES = ("allocated", "running")

_log = structlog.get_logger("flomation.server.runner")


async def _watch_disconnect(receive: Receive, on_gone: Callable[[], None]) -> None:
    """Call ``on_gone`` when the client hangs up (the body has already been read)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            on_gone()
            return


def _log_batch(body: bytes, key: str | None) -> LogBatch:
    """A logs body as a batch: its lines, the JSON text they came from and its batch key."""
    text = decode_body(body)
    return LogBatch(parse_text(LogsRequest, text).lines, text, key)


def _accepting_v2(response: Response) -> Response:
    """A claim answer telling the runner that v2 alone is enough (docs/protocol.md §9.4)."""
    response.headers[V2_ACCEPTED_HEADER] = "1"
    return response


def environment_refusal(execution: ExecutionCall) -> str | None:
    """Why the environment of ``execution`` may not be read now, or None while it runs.

    A look-up is signed over the execution id alone (§3.2), and the executor reuses
    that one signature for the whole execution (§3.3), so a signature seen once would read
    secrets forever. Answering only while the execution is allocated or running bounds what a
    leaked signature, a finished executor's leftover process or a captured request can read.
    """
    if execution.execution_status in _RUNNING_STATUSES and execution.completion_status == "pending":
        return None
    if execution.execution_status == "executed":
        state = f"finished ({execution.completion_status})"
    else:
        state = execution.execution_status
    return f"execution {execution.id} is {state}: its environment is only readable while it runs"


class RunnerEndpoints:
    """Handlers of the runner protocol, bound to one app's services."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._hints = AssignmentHints()

    def routes(self) -> list[Route]:
        """Starlette routes of the runner protocol."""
        execution = "/api/v1/execution/{execution_id}"
        environment = execution + "/environment/{environment}"
        return [
            Route("/api/v1/runner", self.register, methods=["POST"]),
            Route("/api/v1/runner/{identifier}/execution", self.claim, methods=["POST"]),
            Route(execution + "/state", self.state, methods=["POST"]),
            Route(execution + "/logs", self.logs, methods=["POST"]),
            Route(execution + "/status", self.status, methods=["GET"]),
            Route(execution, self.result, methods=["POST"]),
            Route(environment, self.environment, methods=["GET"]),
            Route(environment + "/{kind}/{name}", self.environment_item, methods=["GET"]),
        ]

    async def _verify(
        self,
        request: Request,
        body: bytes,
        v1_message: bytes,
        key: VerifiedKey,
        *,
        v1_single_use: bool = True,
        defer_nonce: bool = False,
    ) -> SignatureNonce | None:
        try:
            return await self._s.verifier.verify(
                request,
                body,
                v1_message,
                key,
                v1_single_use=v1_single_use,
                defer_nonce=defer_nonce,
            )
        except SignatureError as exc:
            self._s.metrics.rejected_signatures.inc()
            raise HttpError(403, str(exc)) from exc

    @contextmanager
    def _store_refusals(self) -> Iterator[None]:
        """403 for a store operation that found the request's deferred nonce seen before, or the
        execution no longer assigned to the runner that signed the request."""
        try:
            yield
        except ReplayedNonceError as exc:
            self._s.metrics.rejected_signatures.inc()
            raise HttpError(403, str(exc)) from exc
        except NotAssignedError as exc:
            raise HttpError(403, str(exc)) from exc

    def _runner_key(self, runner: RunnerRecord | RunnerIdentity) -> VerifiedKey:
        try:
            return self._s.verifier.key(runner.public_key)
        except KeyFormatError as exc:
            raise HttpError(403, f"stored key of runner {runner.identifier} is unusable") from exc

    # ------------------------------------------------------------ registration

    async def register(self, request: Request) -> Response:
        """``POST /api/v1/runner`` (§4.1, §8.1 A3/A5/A7)."""

        async def may_read_more(prefix: bytes) -> str | None:
            return await self._large_registration_refusal(request, prefix)

        body = await read_body_gated(
            request, MAX_OPEN_REGISTRATION_BODY_BYTES, MAX_REGISTRATION_BODY_BYTES, may_read_more
        )
        payload = await parse_body_off_loop(RegistrationRequest, body)
        if not is_safe_id(payload.identifier):
            raise HttpError(400, "field 'identifier': must be 1-128 letters, digits, '-' or '_'")
        now_s = self._s.clock()
        ip_address = client_ip(request, self._s.settings.trusted_proxies)
        signed = self._s.verifier.is_signed(request) or self._s.settings.require_v2
        existing = await self._s.store.find_runner(payload.identifier)
        if existing is not None:
            return await self._reregister(request, body, payload, existing, signed, ip_address)
        if not payload.public_key:
            raise HttpError(400, "field 'public_key': an RSA public key is required")
        try:
            key = self._s.verifier.key(payload.public_key)
        except KeyFormatError as exc:
            raise HttpError(400, f"field 'public_key': {exc}") from exc
        if signed:
            await self._verify(request, body, body, key)
        if not payload.registration_code:
            raise HttpError(404, "unknown registration code")
        outcome = await self._s.store.register_runner(
            NewRunner(
                identifier=payload.identifier,
                name=payload.name or _DEFAULT_RUNNER_NAME,
                registration_code=payload.registration_code,
                version=payload.version,
                executor_version=payload.executor_version,
                manifest=payload.manifest,
                public_key=payload.public_key,
                ip_address=ip_address,
            ),
            now_s,
        )
        if outcome.unknown_code:
            raise HttpError(404, "unknown registration code")
        if outcome.runner is None:
            return Response(status_code=201)
        _log.info("runner enrolled", runner_id=outcome.runner.id, identifier=payload.identifier)
        return json_response(
            runner_registration_view(outcome.runner, payload.registration_code, now_s)
        )

    async def _large_registration_refusal(self, request: Request, prefix: bytes) -> str | None:
        """Why a registration over MAX_OPEN_REGISTRATION_BODY_BYTES may not be read further.

        Only these are worth reading up to MAX_REGISTRATION_BODY_BYTES (large manifests): a body
        whose start carries a registration code the server issued, or a signed one from a
        runner it knows. Anybody else is answered before the rest is read, so the server's
        memory and event loop stay free whatever is sent without credentials.
        """
        fields = leading_fields(prefix)
        code = fields.get("registration_code")
        if isinstance(code, str) and code and await self._s.store.registration_code_exists(code):
            return None
        identifier = fields.get("identifier")
        if (
            isinstance(identifier, str)
            and self._s.verifier.is_signed(request)
            and await self._s.store.find_runner(identifier) is not None
        ):
            return None
        return (
            f"registration body over {MAX_OPEN_REGISTRATION_BODY_BYTES} bytes: its first "
            f"{MAX_OPEN_REGISTRATION_BODY_BYTES} bytes must carry a known registration_code, "
            "or the identifier of a known runner with a signature"
        )

    async def _reregister(
        self,
        request: Request,
        body: bytes,
        payload: RegistrationRequest,
        runner: RunnerRecord,
        signed: bool,
        ip_address: str | None,
    ) -> Response:
        if signed:
            await self._verify(request, body, body, self._runner_key(runner))
        await self._s.store.refresh_runner(
            runner.id,
            version=payload.version,
            executor_version=payload.executor_version,
            ip_address=ip_address,
            now_s=self._s.clock(),
            signed=signed,
            signed_name=payload.name or None,
            signed_manifest=payload.manifest,
        )
        return Response(status_code=201)

    # ------------------------------------------------------------------- claim

    async def claim(self, request: Request) -> Response:
        """``POST /api/v1/runner/{identifier}/execution``: the long-poll (§4.2, §8.1 A2/A12)."""
        identifier = request.path_params["identifier"]
        runner = await self._s.store.runner_identity(identifier)
        if runner is None:
            raise HttpError(403, "unknown runner")
        body = await read_body(request, MAX_CLAIM_BODY_BYTES)
        nonce = await self._verify(request, body, body, self._runner_key(runner), defer_nonce=True)
        self._check_v1_claim_is_current(request, body)
        ip_address = client_ip(request, self._s.settings.trusted_proxies)
        with self._store_refusals():
            scope, claimed = await self._s.store.poll(runner.id, ip_address, self._s.clock(), nonce)
        if claimed is None:
            claimed = await self._hold(request, runner, scope)
            if claimed is None:
                return _accepting_v2(Response(status_code=204))
        self._s.metrics.claims.inc()
        self._hints.remember(claimed.execution.id, runner)
        self._s.events.publish(claimed.execution.id)
        return _accepting_v2(json_response(pending_execution_view(claimed)))

    async def _hold(
        self, request: Request, runner: RunnerIdentity, scope: RunnerScope | None
    ) -> ClaimedExecution | None:
        """Hold a poll that claimed nothing until an execution the runner may take is claimed
        for it (None when the hold ends first). Registered for wake-ups before it claims again,
        so an execution committed after the poll's first claim is not missed; a claim made
        after the runner hung up is released.

        A paused runner (no ``scope``) is held like any other, but no execution ever wakes it.
        """
        store, dispatcher = self._s.store, self._s.dispatcher

        async def claim_once() -> ClaimedExecution | None:
            return await store.claim_next(runner.id, self._s.clock())

        ticket = dispatcher.register(scope, runner.id)
        watcher = asyncio.create_task(_watch_disconnect(request.receive, ticket.abandon))
        try:
            claimed = await dispatcher.claim_until(
                ticket, claim_once if scope is not None else None, self._s.settings.poll_hold_s
            )
        finally:
            watcher.cancel()
            dispatcher.unregister(ticket)
        if claimed is not None and ticket.abandoned:
            await self._release(claimed, runner)
            return None
        return claimed

    def _check_v1_claim_is_current(self, request: Request, body: bytes) -> None:
        """403 for a claim signed with v1 only whose requested_at is stale (a replay)."""
        if request.headers.get(SIGNATURE_V2_HEADER):
            return  # the v2 timestamp was checked; its nonce is recorded by the heartbeat
        stale = v1_claim_staleness(body, self._s.clock(), self._s.settings.signature_window_s)
        if stale is not None:
            self._s.metrics.rejected_signatures.inc()
            raise HttpError(403, stale)

    async def _release(self, claimed: ClaimedExecution, runner: RunnerIdentity) -> None:
        """Put back a claim that could not be delivered, and wake someone else for it."""
        execution_id = claimed.execution.id
        if await self._s.store.release_claim(execution_id, runner.id, self._s.clock()):
            _log.info("claim released", execution_id=execution_id, runner_id=runner.id)
            target = await self._s.store.dispatch_target(execution_id)
            if target is not None:
                self._s.dispatcher.notify(target)
            self._s.events.publish(execution_id)

    # ------------------------------------------------------ execution requests

    async def _execution_and_runner(self, execution_id: str) -> tuple[ExecutionCall, RunnerRecord]:
        """The execution and the runner it is assigned to (not yet authenticated), remembered
        as the execution's hint."""
        execution = await self._s.store.execution_call(execution_id)
        if execution is None:
            raise HttpError(404, "execution not found")
        runner = execution.runner
        if runner is None:
            raise HttpError(403, "execution is not assigned to a runner")
        self._hints.remember(execution_id, runner)
        return execution, runner

    async def _caller(
        self, request: Request, body: bytes, v1_message: bytes
    ) -> tuple[RunnerIdentity | RunnerRecord, SignatureNonce | None]:
        """The runner that signed a state, logs, status or result request, and the request's
        nonce for the handler's write to record: the execution's hinted runner when it signed
        it, otherwise the execution's runner as the database has it (docs/architecture.md,
        "Assignment hints").

        The hinted runner may no longer hold the execution: the handler's write is guarded by
        the runner's id and refuses it then (NotAssignedError, ConfirmOutcome.LAPSED, no status).
        """
        execution_id = request.path_params["execution_id"]
        hinted = self._hints.get(execution_id)
        if hinted is not None:
            try:
                key = self._runner_key(hinted)
                return hinted, await self._s.verifier.verify(
                    request, body, v1_message, key, defer_nonce=True
                )
            except SignatureError:
                pass  # claimed by another runner since, or badly signed: the database decides
        _, runner = await self._execution_and_runner(execution_id)
        key = self._runner_key(runner)
        return runner, await self._verify(request, body, v1_message, key, defer_nonce=True)

    async def _assigned(
        self, request: Request, body: bytes, v1_message: bytes, *, v1_single_use: bool = True
    ) -> tuple[ExecutionCall, RunnerRecord, SignatureNonce | None]:
        """The execution and its runner, once the request is proven to come from that runner,
        and the request's nonce for the handler's first write to record."""
        execution, runner = await self._execution_and_runner(request.path_params["execution_id"])
        nonce = await self._verify(
            request,
            body,
            v1_message,
            self._runner_key(runner),
            v1_single_use=v1_single_use,
            defer_nonce=True,
        )
        return execution, runner, nonce

    async def assigned_caller(
        self,
        request: Request,
        body: bytes,
        v1_message: bytes,
        execution_id: str,
        *,
        v1_single_use: bool = True,
    ) -> tuple[ExecutionCall, RunnerRecord]:
        """``execution_id`` and its runner, once the request is proven to come from that runner
        (its nonce recorded).

        Serves the internal endpoints (routes_internal), which name the calling execution in a
        header rather than in the path.
        """
        execution, runner = await self._execution_and_runner(execution_id)
        await self._verify(
            request, body, v1_message, self._runner_key(runner), v1_single_use=v1_single_use
        )
        return execution, runner

    async def _caller_post(
        self, request: Request, max_bytes: int
    ) -> tuple[RunnerIdentity | RunnerRecord, bytes, SignatureNonce | None]:
        """:meth:`_caller` for a POST, with its body. Without a hint the execution is looked up
        before the body is read, so a request for an unknown or unassigned execution is refused
        unread; the look-up leaves the hint :meth:`_caller` verifies against."""
        execution_id = request.path_params["execution_id"]
        if self._hints.get(execution_id) is None:
            await self._execution_and_runner(execution_id)
        body = await read_body(request, max_bytes)
        runner, nonce = await self._caller(request, body, body)
        return runner, body, nonce

    async def state(self, request: Request) -> Response:
        """``POST /execution/{id}/state``: only ``running`` is accepted (§8.2).

        It confirms the claim (docs/protocol.md §11): from the runner the
        execution was handed to before its lease expired, it is refused with 409.
        """
        body = await read_body(request, MAX_CLAIM_BODY_BYTES)
        execution_id = request.path_params["execution_id"]
        try:
            runner, nonce = await self._caller(request, body, body)
        except HttpError as refused:
            if refused.status == 403 and await self._from_lapsed_claimant(request, body):
                raise self._lapsed(execution_id) from refused
            raise
        payload = parse_body(StateRequest, body)
        now_s = self._s.clock()
        with self._store_refusals():
            if payload.state != "running":
                await self._s.store.touch_execution(execution_id, runner.id, now_s, nonce)
                raise HttpError(400, "invalid state")
            outcome = await self._s.store.confirm_claim(execution_id, runner.id, now_s, nonce)
        if outcome is ConfirmOutcome.LAPSED:
            if await self._claim_lapsed(execution_id, runner.id):
                raise self._lapsed(execution_id)
            raise HttpError(403, f"execution {execution_id} is not assigned to this runner")
        if outcome is ConfirmOutcome.FINISHED:
            # A claim answer delayed past a cancel, or past a run elsewhere (§11.2).
            raise HttpError(409, "the execution is no longer pending; do not run it")
        if outcome is ConfirmOutcome.STARTED:
            self._s.events.publish(execution_id)
        return Response(status_code=200)

    async def _claim_lapsed(self, execution_id: str, runner_id: str) -> bool:
        """True when ``runner_id``'s claim on the execution lapsed (it was offered again)."""
        lapsed = await self._s.store.lapsed_claimants(execution_id)
        return any(runner.id == runner_id for runner in lapsed)

    async def _from_lapsed_claimant(self, request: Request, body: bytes) -> bool:
        """True when a runner whose claim on the execution lapsed signed the request."""
        for runner in await self._s.store.lapsed_claimants(request.path_params["execution_id"]):
            try:
                await self._s.verifier.verify(request, body, body, self._runner_key(runner))
            except (SignatureError, HttpError):
                continue
            return True
        return False

    def _lapsed(self, execution_id: str) -> HttpError:
        _log.info("late claim confirmation refused", execution_id=execution_id)
        return HttpError(
            409,
            "the claim lease expired before this confirmation: the execution was offered "
            "again; do not run it",
        )

    async def logs(self, request: Request) -> Response:
        """``POST /execution/{id}/logs``: persisted under the cap (§8.3), once per batch key."""
        execution_id = request.path_params["execution_id"]
        runner, body, nonce = await self._caller_post(request, MAX_LOGS_BODY_BYTES)
        key = request.headers.get(LOG_BATCH_KEY_HEADER)
        if key is not None and not is_safe_id(key):
            raise HttpError(
                400, f"header {LOG_BATCH_KEY_HEADER}: must be 1-128 letters, digits, '-' or '_'"
            )
        if len(body) > PARSE_ON_LOOP_MAX_BYTES:
            batch = await asyncio.to_thread(_log_batch, body, key)
        else:
            batch = _log_batch(body, key)
        try:
            with self._store_refusals():
                stored = await self._s.store.append_logs(
                    execution_id,
                    runner.id,
                    batch,
                    self._s.settings.max_log_bytes,
                    self._s.clock(),
                    nonce,
                )
        except LogBatchError as exc:
            raise HttpError(400, str(exc)) from exc
        if stored:
            self._s.events.publish(execution_id)
        return Response(status_code=200)

    async def status(self, request: Request) -> Response:
        """``GET /execution/{id}/status``: the cancellation poll (§4.5)."""
        execution_id = request.path_params["execution_id"]
        runner, nonce = await self._caller(request, b"", execution_id.encode("utf-8"))
        with self._store_refusals():
            status = await self._s.store.touch_execution(
                execution_id, runner.id, self._s.clock(), nonce
            )
        if status is None:
            raise HttpError(403, f"execution {execution_id} is not assigned to this runner")
        execution_status, completion_status = status
        return json_response(
            {"execution_status": execution_status, "completion_status": completion_status}
        )

    async def result(self, request: Request) -> Response:
        """``POST /execution/{id}``: the final or suspended result, idempotent (§4.6, §8.2)."""
        execution_id = request.path_params["execution_id"]
        runner, body, nonce = await self._caller_post(request, MAX_RESULT_BODY_BYTES)
        payload = await parse_body_off_loop(ResultRequest, body)
        with self._store_refusals():
            outcome = await self._s.store.store_result(
                execution_id,
                runner.id,
                has_errored=payload.has_errored,
                cancelled=payload.cancelled,
                suspended=payload.suspended,
                state=payload.state,
                now_s=self._s.clock(),
                nonce=nonce,
            )
        self._s.metrics.results.labels(outcome=outcome.value).inc()
        if outcome in (ResultOutcome.COMPLETED, ResultOutcome.RESULT_ADDED):
            await self._fill_live_log(execution_id, payload.state)
        if outcome is not ResultOutcome.UNCHANGED:
            self._s.events.publish(execution_id)
        return Response(status_code=200)

    async def _fill_live_log(self, execution_id: str, state: Any) -> None:
        """Append the end of the output the live stream missed (docs/protocol.md, "Delivery
        guarantees")."""
        logs = state.get("logs") if isinstance(state, dict) else None
        if not isinstance(logs, str):
            return
        filled = await self._s.store.fill_log_tail(
            execution_id, logs, self._s.settings.max_log_bytes, self._s.clock()
        )
        if filled:
            self._s.metrics.log_lines_filled.inc(filled)
            _log.info("live log completed from the result", execution_id=execution_id, lines=filled)

    # ------------------------------------------------------------ environments

    async def _flow_environment(self, request: Request) -> tuple[str, str, Any]:
        """(execution id, environment id, environment record) after the checks of 4.7."""
        execution_id = request.path_params["execution_id"]
        # The executor signs its ?token= once and sends it on every look-up (docs/protocol.md
        # §3.3; flomation-co/executor: internal/environment/environment.go, Key), so a repeated
        # v1 signature is legitimate here: environment_refusal bounds look-ups instead.
        execution, runner, nonce = await self._assigned(
            request, b"", execution_id.encode("utf-8"), v1_single_use=False
        )
        refusal = environment_refusal(execution)
        if refusal is not None:
            raise HttpError(403, refusal)
        with self._store_refusals():
            await self._s.store.touch_execution(execution.id, runner.id, self._s.clock(), nonce)
        flo = await self._s.store.get_flo(execution.flo_id)
        if flo is None or flo.environment_id is None:
            raise HttpError(403, "the execution's flow has no environment")
        environment = await self._s.store.resolve_environment(
            request.path_params["environment"], flo.organisation_id
        )
        if environment is None:
            raise HttpError(404, "environment not found")
        if environment.id != flo.environment_id:
            raise HttpError(403, "the environment is not the flow's environment")
        return execution.id, environment.id, environment

    async def environment(self, request: Request) -> Response:
        """``GET /execution/{id}/environment/{environment}`` (§4.7)."""
        _, _, environment = await self._flow_environment(request)
        return json_response(environment_view(environment))

    async def environment_item(self, request: Request) -> Response:
        """``GET .../environment/{environment}/{property|secret|credential}/{name}`` (§4.7)."""
        kind = request.path_params["kind"]
        if kind not in _ITEM_KINDS:
            raise HttpError(404, f"unknown environment item kind {kind!r}")
        _, environment_id, _ = await self._flow_environment(request)
        name = request.path_params["name"]
        item = await self._s.store.get_environment_item(environment_id, kind, name)
        if item is None:
            raise HttpError(404, f"{kind} {name!r} not found")
        value = item.value
        if item.sealed is not None:
            try:
                value = self._s.secret_box.open(item.sealed, f"{environment_id}/{kind}/{name}")
            except SecretKeyError as exc:
                _log.error("secret cannot be decrypted", kind=kind, name=name)
                raise HttpError(500, f"stored {kind} {name!r} cannot be decrypted") from exc
        return json_response(environment_item_view(item, value or ""))
