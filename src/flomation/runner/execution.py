"""One execution from claim to stored result (docs/protocol.md §5).

Steps: validate the ids, have the server confirm the claim (``state running``; nothing runs
without it, docs/protocol.md §11.1), prepare the work directory, start the executor, stream its
masked output to ``/logs`` and to a spool file, poll ``/status`` for a cancel, read
``state.json`` as soon as the process exited and its pipes drained, decide the outcome, and hand
the result body to the durable outbox. Every failure along the way becomes a failed result
naming its cause; nothing here raises into the agent except cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import os
import random
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import structlog

from flomation.runner.api import ApiError, RunnerApi
from flomation.runner.isolation import Isolation
from flomation.runner.logs import (
    DEFAULT_BATCH_MAX_BYTES,
    LogShipper,
    PrepareBatch,
    SendOutcome,
    SendPrepared,
    ShipperStats,
)
from flomation.runner.outcome import (
    Outcome,
    OutcomeKind,
    StopReason,
    decide_outcome,
    failure_outcome,
    result_body,
)
from flomation.runner.process import ExecutorProcess, ExecutorStartError, kill_group
from flomation.runner.retry import ClaimConfirmation, confirm_claim
from flomation.runner.spool import SPOOL_FILE_NAME, OutputSpool
from flomation.runner.workdir import (
    ExecutorSettings,
    WorkdirError,
    WorkdirRetention,
    prepare_workdir,
    read_state_file,
)
from flomation.wire.jsontext import JsonValue, compact_json
from flomation.wire.masking import SecretMasker
from flomation.wire.paths import UnsafeIdError, work_directory

if TYPE_CHECKING:
    from flomation.wire.models import PendingExecution

__all__ = [
    "ExecutionControl",
    "ExecutionJournal",
    "ExecutionReport",
    "ExecutionServices",
    "ExecutionSettings",
    "LaunchExecutor",
    "fail_oversized_claim",
    "read_claim_ids",
    "run_execution",
]

Logger = structlog.typing.FilteringBoundLogger


class LaunchExecutor(Protocol):
    """How an execution's executor is started: ``ExecutorProcess.start`` (spawned) or
    ``WarmExecutor.launch`` (forked from the warm executor, runner/warm_executor.py)."""

    async def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        max_line_bytes: int = ...,
        pipe_grace_s: float = ...,
        pass_fds: Sequence[int] = ...,
    ) -> ExecutorProcess: ...


class ExecutionJournal(Protocol):
    """Where an execution's result goes and where its being in flight is recorded (the outbox)."""

    async def started(self, execution_id: str, flo_id: str, workdir: Path) -> None:
        """Record that the execution is in flight (crash recovery reads this)."""

    async def process_started(self, execution_id: str, pgid: int) -> None:
        """Record the executor's process group (crash recovery kills what is left of it)."""

    async def store_result(self, execution_id: str, body: bytes) -> asyncio.Future[float | None]:
        """Store the result body durably and end the in-flight record; delivery is elsewhere.

        The returned future resolves with ``time.monotonic()`` at which the server acknowledged
        the result (first delivery attempt), or None when that attempt did not succeed.
        """

    async def finished(self, execution_id: str) -> None:
        """End the in-flight record of an execution that ends without a stored result."""


@dataclass(frozen=True)
class ExecutionSettings:
    """Everything about the runner that one execution needs."""

    execution_root: Path
    executor: ExecutorSettings
    environment: Mapping[str, str]
    kill_grace_s: float = 10.0
    status_poll_interval_s: float = 2.0
    execution_timeout_s: float | None = None
    log_flush_interval_s: float = 0.25
    # A batch is sent again until accepted (the server stores it once, docs/protocol.md §11.3):
    # about 16 s of retries before it is given up.
    log_retry_delays_s: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0)
    # At the end, the live stream gets this long after its last accepted batch to deliver the
    # rest; what it cannot is in the result, from which the server fills the tail in (§11.4).
    log_close_timeout_s: float = 10.0
    log_batch_max_bytes: int = DEFAULT_BATCH_MAX_BYTES
    log_queue_max_bytes: int = 8 * 1024 * 1024
    max_line_bytes: int = 1024 * 1024
    max_result_log_bytes: int = 16 * 1024 * 1024
    max_spool_bytes: int | None = 64 * 1024 * 1024
    isolation: Isolation | None = None
    launch: LaunchExecutor = ExecutorProcess.start
    key_pem: bytes | None = field(default=None, repr=False)  # for an isolated executor only
    # About a minute of retries: a confirmation is safe to repeat, and giving up leaves the
    # execution to the claim lease (docs/protocol.md §11.1), or allocated for good upstream.
    state_retry_delays_s: Sequence[float] = (0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0)


@dataclass(frozen=True)
class ExecutionServices:
    """What the agent lends every execution it runs: the same five for all of them."""

    settings: ExecutionSettings
    api: RunnerApi
    journal: ExecutionJournal  # the outbox: in-flight record and durable result
    masker: SecretMasker
    retention: WorkdirRetention  # keeps or removes the work directory at the end


class _Ending(enum.Enum):
    """How supervision ended, beyond what the outcome table needs."""

    NORMAL = "normal"
    FINISHED_ELSEWHERE = "finished elsewhere"


class ExecutionControl:
    """Lets the agent stop one execution (drain, timeout); the first reason given wins."""

    def __init__(self) -> None:
        self._reason: StopReason | None = None
        self._requested = asyncio.Event()

    @property
    def reason(self) -> StopReason | None:
        """Why the execution is being stopped, or None."""
        return self._reason

    def stop(self, reason: StopReason) -> None:
        """Ask the execution to stop its executor (TERM, grace, KILL)."""
        if self._reason is None:
            self._reason = reason
            self._requested.set()

    async def wait(self) -> StopReason:
        """Return once a stop was requested."""
        await self._requested.wait()
        assert self._reason is not None
        return self._reason


@dataclass(frozen=True)
class ExecutionReport:
    """What happened, for the agent's metrics and ephemeral modes."""

    execution_id: str | None
    flo_id: str | None
    kind: OutcomeKind | None  # None: no result posted (finished elsewhere, unreadable claim)
    error: str | None = None
    log_stats: ShipperStats | None = None
    confirmed: bool = True  # False: the server did not confirm the claim, nothing ran


def read_claim_ids(claim: JsonValue) -> tuple[str | None, str | None]:
    """Best-effort ids of a claim body, even when it does not validate."""
    if not isinstance(claim, dict):
        return None, None
    execution = claim.get("execution")
    if not isinstance(execution, dict):
        return None, None
    execution_id, flo_id = execution.get("id"), execution.get("flo_id")
    return (
        execution_id if isinstance(execution_id, str) and execution_id else None,
        flo_id if isinstance(flo_id, str) else None,
    )


async def run_execution(
    claim: JsonValue,
    services: ExecutionServices,
    *,
    control: ExecutionControl,
    log: Logger,
    claimed_at_s: float | None = None,
) -> ExecutionReport:
    """Run one claimed execution (the parsed 200 body of the claim) to a stored result.

    ``claimed_at_s`` (``time.monotonic()`` when the claim response arrived) lets the execution
    log its phase timings: claim -> executor spawned, and executor exited -> result acknowledged.
    """
    execution_id, flo_id = read_claim_ids(claim)
    log = log.bind(execution_id=execution_id, flo_id=flo_id)
    run = _Run(services, control, log, claimed_at_s)
    # The wire models bring pydantic (~10 MiB): imported with the first claim, not at start
    # (docs/benchmarks.md, runner start-up).
    from pydantic import ValidationError

    from flomation.wire.models import PendingExecution

    try:
        pending = PendingExecution.model_validate(claim)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        error = f"invalid pending execution: {where}: {problem['msg']}"
        if execution_id is None:
            log.error(
                "claimed execution is unreadable and has no id; nothing to report", error=error
            )
            return ExecutionReport(None, flo_id, None, error)
        return await run.fail_early(execution_id, flo_id, error)
    return await run.execute(pending, pending.data)


# The ids of a claim answer too large to parse: the execution object's own "id" and "flo_id"
# (docs/protocol.md §4.2.1), before any nested object of it. Both are JSON strings without escapes.
_EXECUTION_OBJECT = re.compile(rb'"execution"\s*:\s*\{([^{}]*)')
_ID_FIELD = re.compile(rb'"(id|flo_id)"\s*:\s*"([^"\\]{1,200})"')


def _ids_from_head(head: bytes) -> tuple[str | None, str | None]:
    """The execution and flow ids found in the first bytes of a claim answer, if any."""
    found = _EXECUTION_OBJECT.search(head)
    if found is None:
        return None, None
    fields = {
        name.decode(): value.decode("utf-8", "replace")
        for name, value in _ID_FIELD.findall(found.group(1))
    }
    return fields.get("id"), fields.get("flo_id")


async def fail_oversized_claim(
    head: bytes,
    max_claim_bytes: int,
    services: ExecutionServices,
    *,
    log: Logger,
) -> ExecutionReport:
    """Fail a claimed execution whose answer was longer than ``max_claim_bytes`` (not read).

    The server assigned it to this runner, so it is reported failed, by the ids read from the
    answer's first bytes; the runner goes on claiming (docs/security.md).
    """
    execution_id, flo_id = _ids_from_head(head)
    log = log.bind(execution_id=execution_id, flo_id=flo_id)
    error = (
        f"claim answer larger than max_claim_bytes ({max_claim_bytes} bytes); "
        "the execution was not read"
    )
    if execution_id is None:
        log.error("over-size claim answer without a readable id; nothing to report", error=error)
        return ExecutionReport(None, flo_id, None, error)
    run = _Run(services, ExecutionControl(), log)
    return await run.fail_early(execution_id, flo_id, error)


def _key_pipe(pem: bytes) -> int:
    """The read end of a pipe holding ``pem`` (a key fits the pipe buffer many times over)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, pem)
    finally:
        os.close(write_end)
    return read_end


class _Run:
    """The state of one execution while it runs."""

    def __init__(
        self,
        services: ExecutionServices,
        control: ExecutionControl,
        log: Logger,
        claimed_at_s: float | None = None,
    ) -> None:
        self._services = services
        self._claimed_at_s = claimed_at_s
        self._control = control
        self._log = log
        self._ending = _Ending.NORMAL
        self._result_stored = False

    async def fail_early(
        self, execution_id: str, flo_id: str | None, error: str, cause: Exception | None = None
    ) -> ExecutionReport:
        """Report a failure found before the executor ran (nothing on disk to keep).

        ``cause``, an exception from the machine (a failing file system), is logged with its
        traceback; bad input from the server is not (the error names the field).
        """
        self._log.error("execution failed before the executor started", error=error, exc_info=cause)
        outcome = failure_outcome(error)
        await self._store(execution_id, self._result_bytes(outcome, ""))
        return ExecutionReport(execution_id, flo_id, outcome.kind, error)

    async def execute(self, pending: PendingExecution, flow_document: JsonValue) -> ExecutionReport:
        execution = pending.execution
        settings = self._services.settings
        try:
            workdir = work_directory(settings.execution_root, execution.flo_id, execution.id)
        except UnsafeIdError as exc:
            self._log.error("refusing unsafe ids", reason=str(exc))
            return await self.fail_early(execution.id, execution.flo_id, "invalid identifier")
        # The claim's answer may have come too late, after the server offered the execution
        # again: it is ours to run only once the server says so (docs/protocol.md §11.1).
        confirmation = await self._confirm(execution.id)
        if confirmation is not ClaimConfirmation.CONFIRMED:
            outcome = "stopped while confirming" if confirmation is None else confirmation.value
            error = f"claim {outcome}; the executor was not started"
            return ExecutionReport(execution.id, execution.flo_id, None, error, confirmed=False)
        # Journaled before anything else happens, so that a crash from here on is reported.
        await self._services.journal.started(execution.id, execution.flo_id, workdir)
        # The files are written on the event loop: from a worker thread, the thread hand-offs
        # cost more than the system calls they take off the loop (bench/runner_bench.py).
        try:
            prepared = prepare_workdir(
                workdir, pending, flow_document, settings.executor, datetime.now(UTC)
            )
        except WorkdirError as exc:
            return await self.fail_early(execution.id, execution.flo_id, str(exc), exc)
        report = await self._supervise(execution.id, execution.flo_id, prepared.path, prepared.argv)
        if not self._result_stored:
            await self._services.journal.finished(execution.id)
        return report

    async def _confirm(self, execution_id: str) -> ClaimConfirmation | None:
        """The server's answer to the claim's confirmation; None when a stop came first.

        A drain or timeout does not wait for a server that does not answer: unconfirmed, the
        execution goes back to the queue when its claim lease ends (docs/protocol.md §11.1).
        """
        confirming = asyncio.ensure_future(
            confirm_claim(
                self._services.api,
                execution_id,
                log=self._log,
                retry_delays_s=self._services.settings.state_retry_delays_s,
            )
        )
        stopping = asyncio.ensure_future(self._control.wait())
        try:
            await asyncio.wait((confirming, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (confirming, stopping):
                task.cancel()
            await asyncio.gather(confirming, stopping, return_exceptions=True)
        if confirming.cancelled():
            self._log.info("stop requested while confirming the claim; not running it")
            return None
        return confirming.result()

    async def _supervise(
        self, execution_id: str, flo_id: str, workdir: Path, argv: list[str]
    ) -> ExecutionReport:
        settings = self._services.settings
        spool = OutputSpool(workdir / SPOOL_FILE_NAME, max_bytes=settings.max_spool_bytes)
        key_pipe: int | None = None
        if settings.isolation is not None:
            key_pipe = _key_pipe(settings.key_pem or b"")
            argv = settings.isolation.wrap(argv, workdir, key_pipe)
        try:
            process = await settings.launch(
                argv,
                cwd=workdir,
                env=settings.environment,
                max_line_bytes=settings.max_line_bytes,
                pass_fds=() if key_pipe is None else (key_pipe,),
            )
        except ExecutorStartError as exc:
            spool.close()
            error = str(exc)
            self._log.error("executor could not be started", error=error, exc_info=exc)
            outcome = failure_outcome(error)
            await self._store(execution_id, self._result_bytes(outcome, ""))
            await self._finish(workdir, outcome)
            return ExecutionReport(execution_id, flo_id, outcome.kind, error)
        finally:
            if key_pipe is not None:
                os.close(key_pipe)
        spawned_at_s = time.monotonic()
        log = self._log.bind(pid=process.pid)
        log.info("executor started")
        await self._services.journal.process_started(execution_id, process.pgid)
        shipper = LogShipper(
            self._log_sender(execution_id),
            flush_interval_s=settings.log_flush_interval_s,
            max_batch_bytes=settings.log_batch_max_bytes,
            max_queue_bytes=settings.log_queue_max_bytes,
            retry_delays_s=settings.log_retry_delays_s,
            backlog=spool.read_lines,
            log=log,
        )
        try:
            exit_code = await self._watch(execution_id, process, spool, shipper)
        finally:
            # Only reached early on cancellation of the whole execution: leave nothing running.
            if process.returncode is None:
                kill_group(process.pgid)
            spool.close()
        if self._ending is _Ending.FINISHED_ELSEWHERE:
            log.info("execution finished elsewhere; no result posted", exit_code=exit_code)
            await self._services.retention.apply(workdir, succeeded=False, suspended=False)
            return ExecutionReport(execution_id, flo_id, None, "finished elsewhere", shipper.stats)
        state_file = read_state_file(workdir)
        logs = spool.result_logs(settings.max_result_log_bytes)
        outcome = decide_outcome(
            state=state_file.state,
            state_error=state_file.error,
            exit_code=exit_code,
            stop_reason=self._control.reason,
            output=logs if state_file.state is None else "",
        )
        body = self._result_bytes(outcome, logs)
        # The output can be the largest object of the runner: let it go before the result is
        # stored and sent, which hold their own copies for a while.
        del logs
        log.info(
            "executor finished",
            exit_code=exit_code,
            outcome=outcome.kind.value,
            error=state_file.error,
        )
        acknowledged = await self._store(execution_id, body)
        del body
        exited_at_s = process.exited_at_s
        assert exited_at_s is not None  # wait() returned
        acknowledged.add_done_callback(
            functools.partial(self._log_timings, log, spawned_at_s, exited_at_s)
        )
        await self._finish(workdir, outcome)
        return ExecutionReport(execution_id, flo_id, outcome.kind, state_file.error, shipper.stats)

    def _log_timings(
        self,
        log: Logger,
        spawned_at_s: float,
        exited_at_s: float,
        acknowledged: asyncio.Future[float | None],
    ) -> None:
        """One line with the runner's own time around the executor (the bench parses it)."""
        acknowledged_at_s = None
        if not acknowledged.cancelled() and acknowledged.exception() is None:
            acknowledged_at_s = acknowledged.result()
        claimed_at_s = self._claimed_at_s
        log.info(
            "execution timings",
            claim_to_spawn_ms=None
            if claimed_at_s is None
            else round((spawned_at_s - claimed_at_s) * 1000, 2),
            executor_ms=round((exited_at_s - spawned_at_s) * 1000, 2),
            exit_to_ack_ms=None
            if acknowledged_at_s is None
            else round((acknowledged_at_s - exited_at_s) * 1000, 2),
        )

    async def _watch(
        self,
        execution_id: str,
        process: ExecutorProcess,
        spool: OutputSpool,
        shipper: LogShipper,
    ) -> int:
        """Pump output until both pipes end, while watching for cancel, stop and timeout."""
        async with asyncio.TaskGroup() as group:
            shipping = group.create_task(shipper.run())
            watchers = [
                group.create_task(self._poll_status(execution_id)),
                group.create_task(self._stop_on_request(process)),
            ]
            if self._services.settings.execution_timeout_s:
                watchers.append(
                    group.create_task(self._timeout(self._services.settings.execution_timeout_s))
                )
            # One substring scan per batch: most output holds no secret, and the line-by-line
            # scan cost more than anything else per line (py-spy, log step).
            mask_lines = self._services.masker.mask_lines
            async for batch in process.batches():
                texts = mask_lines(batch.lines)
                spool.append_many(texts)
                shipper.add_many(texts)
            exit_code = await process.wait()
            for watcher in watchers:
                watcher.cancel()
            await shipper.close(self._services.settings.log_close_timeout_s)
            await shipping
        return exit_code

    async def _poll_status(self, execution_id: str) -> None:
        """Every poll interval: stop on ``cancel`` or a completion decided elsewhere (§4.5)."""
        interval_s = self._services.settings.status_poll_interval_s
        # The first poll comes at a random point of the first interval: executions that started
        # together (a burst of claims) would otherwise poll, and sign, in lock-step forever,
        # and an execution starting then waits behind a burst of 200 signatures (bench scale).
        delay_s = interval_s * random.random()
        while True:
            await asyncio.sleep(delay_s)
            delay_s = interval_s
            try:
                result = await self._services.api.get_status(execution_id)
            except ApiError:
                continue  # never cancel because of a failed poll
            if result.body is None:
                continue
            completion = result.body.completion_status
            if completion == "pending":
                continue
            if completion == "cancel":
                self._log.info("cancel requested by the server")
                self._control.stop(StopReason.CANCEL_REQUESTED)
            else:
                self._log.info("execution completed elsewhere; stopping", completion=completion)
                self._ending = _Ending.FINISHED_ELSEWHERE
                self._control.stop(StopReason.CANCEL_REQUESTED)
            return

    async def _stop_on_request(self, process: ExecutorProcess) -> None:
        reason = await self._control.wait()
        self._log.info("stopping the executor", reason=reason.value)
        await process.terminate(self._services.settings.kill_grace_s)

    async def _timeout(self, timeout_s: float) -> None:
        await asyncio.sleep(timeout_s)
        self._log.warning("execution timeout reached", timeout_s=timeout_s)
        self._control.stop(StopReason.TIMEOUT)

    def _log_sender(self, execution_id: str) -> PrepareBatch:
        api = self._services.api

        async def prepare(lines: list[str]) -> SendPrepared:
            # One key per batch, kept by its retries: the server stores it once (§11.3).
            request = await api.prepare_logs(execution_id, lines, secrets.token_hex(16))

            async def send() -> SendOutcome:
                try:
                    response = await api.send_prepared(request)
                except ApiError:
                    return SendOutcome.NO_ANSWER
                if response.status == 200:
                    return SendOutcome.SENT
                if response.status in (400, 404, 413):
                    return SendOutcome.DROP
                return SendOutcome.RETRY

            return send

        return prepare

    def _result_bytes(self, outcome: Outcome, logs: str) -> bytes:
        """The result body with every string of the executor's state masked (docs/security.md).

        ``logs`` is masked already, line by line as it was read; the state (outputs, node
        results, errors, trigger data echoes) is masked here, before anything is stored.
        """
        masked = replace(outcome, state=self._services.masker.mask_value(outcome.state))
        return compact_json(result_body(masked, logs))

    async def _store(self, execution_id: str, body: bytes) -> asyncio.Future[float | None]:
        # Shielded: once the executor is done, its result must reach the outbox even if the
        # agent is being cancelled around us.
        acknowledged = await asyncio.shield(self._services.journal.store_result(execution_id, body))
        self._result_stored = True
        return acknowledged

    async def _finish(self, workdir: Path, outcome: Outcome) -> None:
        with contextlib.suppress(OSError):
            await self._services.retention.apply(
                workdir,
                succeeded=outcome.kind is OutcomeKind.SUCCESS,
                suspended=outcome.kind is OutcomeKind.SUSPENDED,
            )
