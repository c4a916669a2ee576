"""The runner agent: registration, claim slots, drain; it starts recovery and delivery.

``Agent.run`` owns one TaskGroup holding every long-lived task: a heartbeat, the outbox
delivery loop, the optional health listener, the idle watcher and exactly
``max_concurrent_executors`` slots. A slot long-polls only while it is free, so the runner never
runs more executions than it has slots. ``request_stop`` (wired to SIGTERM/SIGINT by the CLI)
starts a drain: claiming stops at once, running executions get ``drain_timeout_s`` to finish,
then they are stopped (TERM, grace, KILL); their results go to the outbox, which is flushed
briefly before the agent returns. A second request skips the wait. Result delivery is
``runner/delivery.py``; the report of executions a crash left in flight, ``runner/recovery.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import random
import shutil
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import structlog

from flomation.runner.api import (
    ApiError,
    ApiResponse,
    RunnerApi,
    client_ssl_context,
    executor_version,
    registration_body,
)
from flomation.runner.backoff import Backoff
from flomation.runner.config import RunnerConfig, runner_environment, secret_values
from flomation.runner.delivery import FreshResults, OutboxJournal, ResultDelivery
from flomation.runner.execution import (
    ExecutionControl,
    ExecutionReport,
    ExecutionServices,
    ExecutionSettings,
    fail_oversized_claim,
    read_claim_ids,
    run_execution,
)
from flomation.runner.health import OutboxGauges, RunnerMetrics, RunnerStatus
from flomation.runner.identity import LoadedKey
from flomation.runner.isolation import Isolation, IsolationError, find_bwrap
from flomation.runner.outbox import Outbox, OutboxError
from flomation.runner.outcome import OutcomeKind, StopReason
from flomation.runner.process import kill_group
from flomation.runner.recovery import recover_inflight
from flomation.runner.retry import (
    PreflightError,
    RegistrationRejectedError,
    register_until_accepted,
)
from flomation.runner.warm_executor import (
    WarmExecutor,
    WarmExecutorError,
    warm_executor_choice,
)
from flomation.runner.workdir import (
    ExecutorSettings,
    TlsFiles,
    WorkdirRetention,
)
from flomation.version import distribution_version
from flomation.wire.jsontext import JsonValue
from flomation.wire.masking import SecretMasker

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_OK", "Agent", "AgentTuning"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

_T = TypeVar("_T")
Logger = structlog.typing.FilteringBoundLogger
_DISK_CHECK_INTERVAL_S = 1.0
# Confirmed runs remembered to ignore a stale second claim answer for them (docs/protocol.md §11.5).
_RAN_REMEMBERED = 4096


@dataclass(frozen=True)
class AgentTuning:
    """Timings that are not user configuration (tests shorten them)."""

    fast_empty_poll_s: float = 2.0  # a 204 faster than this is followed by a pause
    empty_poll_pause_s: tuple[float, float] = (2.0, 5.0)
    claim_backoff_s: tuple[float, float] = (1.0, 30.0)
    registration_backoff_s: tuple[float, float] = (1.0, 60.0)
    delivery_backoff_s: tuple[float, float] = (1.0, 300.0)
    outbox_max_age_s: float = 24 * 3600.0
    outbox_keep_done_s: float = 24 * 3600.0
    forbidden_attempts: int = 10
    exit_flush_s: float = 3.0
    disk_recheck_s: float = 5.0
    heartbeat_s: float = 1.0
    preflight_timeout_s: float = 60.0
    ready_window_s: float = 60.0


class _Stop:
    """Drain state: first request stops claiming, second (or the deadline) stops executions."""

    def __init__(self) -> None:
        self.claims = asyncio.Event()
        self.force = asyncio.Event()


class Agent:
    """One runner process's worth of work; create, then ``await run()`` for the exit code."""

    def __init__(
        self,
        config: RunnerConfig,
        *,
        identifier: str,
        key: LoadedKey,
        environ: Mapping[str, str],
        log: Logger | None = None,
        tuning: AgentTuning | None = None,
        status: RunnerStatus | None = None,
    ) -> None:
        self._config = config
        self._identifier = identifier
        self._key = key
        self._environ = dict(environ)
        # What every executor gets (the preflight tools, the warm executor, executions): the
        # environment filtered by the secret patterns, made once (docs/security.md).
        self._executor_environ = runner_environment(config, self._environ)
        self._isolation: Isolation | None = None  # set by run() when execution.isolation is bwrap
        self._executor_version_output = ""  # the executor's --version, read before registering
        self._log = log or structlog.get_logger("flomation.runner")
        self._tuning = tuning or AgentTuning()
        self.status = status or RunnerStatus()
        self.metrics = RunnerMetrics(self.status, served=config.health_host_port is not None)
        self._stop = _Stop()
        self._running: dict[str, ExecutionControl] = {}
        # Runs this runner confirmed lately (execution id and suspend count: a resumed execution
        # is claimed again legitimately), oldest first, at most _RAN_REMEMBERED.
        self._ran: dict[str, None] = {}
        self._fresh = FreshResults()
        self._claims_left = _claim_budget(config)
        self._claims_in_flight = 0
        self._last_activity_s = time.monotonic()
        self._last_outcome: OutcomeKind | None = None
        self._slots = max(1, config.max_concurrent_executors)
        self._disk_low_logged = False
        self._disk_checked_at_s = -math.inf
        self.health_port: int | None = None

    # --- public control -------------------------------------------------------------------

    def request_stop(self) -> None:
        """First call: drain. Second call: stop running executions now.

        The events are set before anything is logged: stopping never depends on the log output.
        """
        if not self._stop.claims.is_set():
            self.status.draining = True
            self._stop.claims.set()
            self._log.info(
                "stop requested: no new claims; draining",
                running=len(self._running),
                drain_timeout_s=self._config.drain_timeout_s,
            )
        elif not self._stop.force.is_set():
            self._stop.force.set()
            self._log.warning("second stop request: stopping running executions now")

    async def run(self) -> int:
        """Run until drained; the process exit code."""
        config = self._config
        if config.isolation == "bwrap":
            try:
                self._isolation = self._sandbox(find_bwrap(self._environ.get("PATH")))
            except IsolationError as exc:
                self._log.error("cannot isolate executors", error=str(exc))
                return EXIT_CONFIG
        try:
            outbox = Outbox.open(config.outbox_file)
        except OutboxError as exc:
            self._log.error("cannot open the outbox", error=str(exc))
            return EXIT_CONFIG
        try:
            async with self._api() as api:
                return await self._run(api, outbox)
        finally:
            outbox.close()

    # --- orchestration --------------------------------------------------------------------

    def _api(self) -> RunnerApi:
        config = self._config
        ssl_context = None
        if config.tls_enabled and config.tls_cert and config.tls_key and _https(config.url):
            # Only a server that asks for a client certificate gets one; the extra CA is added
            # to the system trust, never replacing it.
            ssl_context = client_ssl_context(
                str(config.tls_ca_cert) if config.tls_ca_cert else None,
                str(config.tls_cert),
                str(config.tls_key),
            )
        return RunnerApi(
            config.url,
            self._identifier,
            self._key.private_key,
            signing_v2=config.signing_v2,
            ssl_context=ssl_context,
            observer=self.metrics,
            user_agent=f"flomation-runner-python/{distribution_version()}",
            max_claim_bytes=config.max_claim_bytes,
        )

    async def _run(self, api: RunnerApi, outbox: Outbox) -> int:
        config = self._config
        self.metrics.set_slots(self._slots)
        self.metrics.watch_outbox(
            lambda: OutboxGauges(outbox.depth(), outbox.oldest_age_s(time.time()) or 0.0)
        )
        health = None
        if config.health_host_port is not None:
            from flomation.runner.health_server import HealthServer  # aiohttp.web: ~1.3 MiB

            health = HealthServer(
                self.status, self.metrics, contact_window_s=self._tuning.ready_window_s
            )
            host, port = config.health_host_port
            await health.start(host, port)
            self.health_port = health.port
            self._log.info("health listener started", address=f"{host}:{health.port}")
        try:
            recover_inflight(
                outbox, max_result_log_bytes=config.max_result_log_bytes, log=self._log
            )
            delivery = ResultDelivery(
                self._fresh, tuning=self._tuning, metrics=self.metrics, log=self._log
            )
            async with asyncio.TaskGroup() as group:
                background = [
                    group.create_task(self._heartbeat()),
                    group.create_task(delivery.run(api, outbox)),
                ]
                exit_code = await self._register_and_work(api, outbox)
                await delivery.flush(outbox)
                for task in background:
                    task.cancel()
            return exit_code
        finally:
            if health is not None:
                await health.stop()

    async def _register_and_work(self, api: RunnerApi, outbox: Outbox) -> int:
        try:
            registered = await self._unless_stopping(self._register(api))
        except RegistrationRejectedError as exc:
            self._log.error(str(exc))
            return EXIT_CONFIG
        if registered is None:
            return EXIT_OK
        self.status.registered = True
        warm = self._warm_executor()
        try:
            return await self._work(api, outbox, warm)
        finally:
            if warm is not None:
                await warm.close()

    async def _work(self, api: RunnerApi, outbox: Outbox, warm: WarmExecutor | None) -> int:
        settings = self._execution_settings()
        if warm is not None:
            settings = dataclasses.replace(settings, launch=warm.launch)
        services = ExecutionServices(
            settings=settings,
            api=api,
            journal=OutboxJournal(outbox, self._fresh, api),
            masker=SecretMasker(secret_values(self._config, self._environ)),
            retention=WorkdirRetention(
                self._config.execution_directory, self._config.keep_failed_workdirs
            ),
        )
        async with asyncio.TaskGroup() as group:
            if self._config.idle_timeout_s:
                idle = group.create_task(self._idle_watch(self._config.idle_timeout_s))
            else:
                idle = None
            # The fork server starts beside the first claims (its hello takes 0.3-1 s): an
            # execution claimed meanwhile waits for it in WarmExecutor.launch.
            starting = group.create_task(self._start_warm(warm)) if warm is not None else None
            slots = [group.create_task(self._slot(n, services)) for n in range(self._slots)]
            drain = group.create_task(self._drain_watch())
            await asyncio.gather(*slots)
            drain.cancel()
            if idle is not None:
                idle.cancel()
            if starting is not None:
                starting.cancel()
        if self._config.once:
            return EXIT_OK if self._last_outcome in (OutcomeKind.SUCCESS, None) else EXIT_FAILURE
        return EXIT_OK

    async def _unless_stopping(self, awaitable: Awaitable[_T]) -> _T | None:
        """Await ``awaitable`` unless a stop is requested first (then cancel it, None)."""
        task = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self._stop.claims.wait())
        try:
            await asyncio.wait((task, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
                # If we are being cancelled ourselves, that cancellation keeps propagating.
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.cancelled():
            return None
        return task.result()

    # --- registration ---------------------------------------------------------------------

    async def _register(self, api: RunnerApi) -> ApiResponse:
        tuning = self._tuning
        backoff = Backoff(*tuning.registration_backoff_s)

        async def once() -> ApiResponse:
            executor_version, manifest = await self._preflight()
            body = registration_body(
                identifier=self._identifier,
                name=self._config.name,
                registration_code=self._config.registration_code,
                version=distribution_version(),
                executor_version=executor_version,
                manifest=manifest,
                public_key_pem=self._key.public_key_pem,
            )
            return await api.register(body)

        response = await register_until_accepted(once, backoff=backoff, log=self._log)
        if response.status == 200 and not response.body.strip():
            self._log.warning("registered, but the server could not import the manifest")
        self._log.info(
            "registered",
            identifier=self._identifier,
            known_identifier=response.status == 201,
            slots=self._slots,
        )
        return response

    async def _preflight(self) -> tuple[str, JsonValue]:
        """Run the executor's ``--version`` and ``--manifest`` in the execution directory."""
        directory = self._config.execution_directory
        directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        version_output = await self._run_executor_tool("--version")
        self._executor_version_output = version_output
        manifest_path = directory / "manifest.json"
        manifest_path.unlink(missing_ok=True)
        await self._run_executor_tool("--manifest", "manifest.json")
        try:
            manifest = json.loads(manifest_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise PreflightError(f"executor manifest {manifest_path} unusable: {exc}") from exc
        return executor_version(version_output), manifest

    async def _run_executor_tool(self, *args: str) -> str:
        argv = [*self._config.executable, *args]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=self._config.execution_directory,
                env=self._executor_environ,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise PreflightError(f"cannot run executor {argv[0]!r}: {exc}") from exc
        try:
            async with asyncio.timeout(self._tuning.preflight_timeout_s):
                output, _ = await process.communicate()
        except TimeoutError as exc:
            kill_group(process.pid)
            await process.wait()
            raise PreflightError(f"executor {' '.join(args)} timed out") from exc
        except asyncio.CancelledError:
            # Stopped during registration: leave no executor running and no pipe open.
            kill_group(process.pid)
            await process.wait()
            raise
        if process.returncode != 0:
            raise PreflightError(
                f"executor {' '.join(args)} exited with {process.returncode}: "
                f"{output.decode('utf-8', 'replace').strip()[:200]}"
            )
        return output.decode("utf-8", "replace")

    # --- claiming -------------------------------------------------------------------------

    def _take_claim_budget(self) -> bool:
        if self._claims_left is None:
            return True
        if self._claims_left <= 0:
            return False
        self._claims_left -= 1
        return True

    def _return_claim_budget(self) -> None:
        if self._claims_left is not None:
            self._claims_left += 1

    async def _slot(self, index: int, services: ExecutionServices) -> None:
        api = services.api
        tuning = self._tuning
        backoff = Backoff(*tuning.claim_backoff_s)
        log = self._log.bind(slot=index)
        while not self._stop.claims.is_set():
            if not self._disk_has_room():
                await self._pause(tuning.disk_recheck_s)
                continue
            if not self._take_claim_budget():
                return
            started_s = time.monotonic()
            claim_error: ApiError | None = None
            self._claims_in_flight += 1
            try:
                response = await self._unless_stopping(api.claim())
            except ApiError as exc:
                claim_error, response = exc, None
            finally:
                self._claims_in_flight -= 1
            claimed_at_s = time.monotonic()
            if claim_error is not None:
                self._return_claim_budget()
                self.metrics.count_claim("error")
                delay_s = backoff.next_delay_s()
                log.warning("claim failed", error=str(claim_error), retry_in_s=round(delay_s, 1))
                await self._pause(delay_s)
                continue
            if response is None:
                self._return_claim_budget()
                return
            if response.status == 200:
                backoff.reset()
                self.metrics.count_claim("work")
                await self._execute(response, claimed_at_s, services, log)
                continue
            self._return_claim_budget()
            if response.status == 204:
                backoff.reset()
                self.metrics.count_claim("empty")
                if time.monotonic() - started_s < tuning.fast_empty_poll_s:
                    await self._pause(random.uniform(*tuning.empty_poll_pause_s))
                continue
            self.metrics.count_claim(str(response.status))
            delay_s = backoff.next_delay_s()
            if response.status == 403:
                log.warning(
                    "claim refused (403); if this runner's key was replaced, delete flo.state "
                    "to enrol with a new identifier",
                    retry_in_s=round(delay_s, 1),
                )
            elif response.status == 404:
                log.error(
                    "claim endpoint not found (404): the server does not support long-polling",
                    retry_in_s=round(delay_s, 1),
                )
            else:
                log.warning("claim failed", status=response.status, retry_in_s=round(delay_s, 1))
            await self._pause(delay_s)

    async def _pause(self, delay_s: float) -> None:
        """Sleep, but wake up at once when a stop is requested."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await self._stop.claims.wait()

    def _disk_has_room(self) -> bool:
        # Free space changes slowly; one statfs per claim cost 1 % of the loop at 80 claims/s.
        now_s = time.monotonic()
        if now_s - self._disk_checked_at_s < _DISK_CHECK_INTERVAL_S:
            return self.status.disk_ok
        self._disk_checked_at_s = now_s
        minimum = self._config.min_free_disk_bytes
        try:
            free = shutil.disk_usage(self._config.execution_directory).free
        except OSError:
            return True
        ok = free >= minimum
        self.status.disk_ok = ok
        if not ok and not self._disk_low_logged:
            self._log.error(
                "free disk space below the threshold; not claiming work",
                free_bytes=free,
                min_free_disk_bytes=minimum,
                directory=str(self._config.execution_directory),
            )
        elif ok and self._disk_low_logged:
            self._log.info("free disk space back above the threshold; claiming again")
        self._disk_low_logged = not ok
        return ok

    async def _execute(
        self,
        response: ApiResponse,
        claimed_at_s: float,
        services: ExecutionServices,
        log: Logger,
    ) -> None:
        control = ExecutionControl()
        claim = None if response.too_large else response.json()
        execution_id, _ = read_claim_ids(claim)
        key = execution_id or f"claim-{id(control)}"
        run = _run_key(claim, execution_id)
        if key in self._running or (run is not None and run in self._ran):
            # A claim answer held up past the claim lease, while another slot of this runner got
            # the execution offered again (docs/protocol.md §11.1): it runs once, there. The
            # server cannot tell this runner's late confirmation from a repeated one.
            log.warning(
                "claimed an execution this runner is already running or has run; ignored",
                execution_id=execution_id,
            )
            self._return_claim_budget()
            return
        self._running[key] = control
        self.metrics.set_running(len(self._running))
        self._last_activity_s = time.monotonic()
        try:
            if response.too_large:
                report = await fail_oversized_claim(
                    response.body, self._config.max_claim_bytes, services, log=log
                )
            else:
                report = await run_execution(
                    claim, services, control=control, log=log, claimed_at_s=claimed_at_s
                )
        except Exception:
            # A defect (or a failing outbox file) must not take the other slots down; the
            # execution stays journaled and is reported at the next start.
            log.exception("execution aborted by an unexpected error")
            report = ExecutionReport(None, None, None, "unexpected error")
        finally:
            del self._running[key]
            self.metrics.set_running(len(self._running))
            self._last_activity_s = time.monotonic()
        if run is not None and report.confirmed:
            self._ran[run] = None
            if len(self._ran) > _RAN_REMEMBERED:
                del self._ran[next(iter(self._ran))]
        self._account(report)

    def _account(self, report: ExecutionReport) -> None:
        if report.kind is not None:
            self.metrics.count_result(report.kind.value)
            self._last_outcome = report.kind
        else:
            self.metrics.count_result("not_reported")
            self._last_outcome = OutcomeKind.FAIL
        stats = report.log_stats
        if stats is not None:
            self.metrics.count_logs(stats)
        # A claim still in flight may bring the last execution of the budget: stopping now
        # would abandon it on the server.
        if self._claims_left == 0 and not self._running and not self._claims_in_flight:
            self._log.info("execution limit reached; exiting")
            self._stop.claims.set()

    def _warm_executor(self) -> WarmExecutor | None:
        """The warm executor when it is used (runner/warm_executor.py), not started; else None."""
        config = self._config
        choice = warm_executor_choice(
            config.warm_executor,
            isolated=self._isolation is not None,
            version_output=self._executor_version_output,
        )
        self._log.info("warm executor", used=choice.use, reason=choice.reason)
        if not choice.use:
            return None
        return WarmExecutor(
            config.executable,
            env=self._executor_environ,
            cwd=config.execution_directory,
            log=self._log,
        )

    async def _start_warm(self, warm: WarmExecutor) -> None:
        """Start the fork server; when it fails, executions are spawned until it is retried."""
        try:
            await warm.start()
        except WarmExecutorError as exc:
            # Executions are spawned meanwhile; the warm executor tries again later.
            self._log.error("warm executor could not be started", error=str(exc))

    def _sandbox(self, bwrap: str) -> Isolation:
        """What the sandbox hides: the runner's state, outbox, key and other executions."""
        config = self._config
        directories = {
            config.state_directory,
            config.execution_directory,
            config.outbox_file.parent,
        }
        return Isolation(
            bwrap,
            hidden_directories=tuple(sorted(path.resolve() for path in directories)),
            hidden_files=(self._key.path.resolve(),),
        )

    def _execution_settings(self) -> ExecutionSettings:
        config = self._config
        isolation = self._isolation
        tls = None
        if config.tls_enabled:
            tls = TlsFiles(
                ca_cert=str(config.tls_ca_cert or ""),
                cert=str(config.tls_cert or ""),
                key=str(config.tls_key or ""),
                api_url=config.tls_api_url or "",
            )
        return ExecutionSettings(
            execution_root=config.execution_directory.resolve(),
            executor=ExecutorSettings(
                executable=config.executable,
                api_url=config.url.rstrip("/"),
                runner_name=config.name,
                runner_identifier=self._identifier,
                # Isolated, the key reaches the executor on a pipe only (isolation.py).
                key_path=self._key.path if isolation is None else None,
                tls=tls,
            ),
            isolation=isolation,
            key_pem=None if isolation is None else self._key.path.read_bytes(),
            environment=self._executor_environ,
            kill_grace_s=config.kill_grace_s,
            status_poll_interval_s=config.status_poll_interval_s,
            execution_timeout_s=config.execution_timeout_s or None,
            log_flush_interval_s=config.log_flush_interval_s,
            log_batch_max_bytes=config.log_batch_max_bytes,
            log_queue_max_bytes=config.log_queue_max_bytes,
            max_line_bytes=config.max_line_bytes,
            max_result_log_bytes=config.max_result_log_bytes,
            max_spool_bytes=config.max_spool_bytes,
        )

    # --- drain, idle, heartbeat -----------------------------------------------------------

    async def _drain_watch(self) -> None:
        """After a stop request: wait for running executions, then stop what is left."""
        await self._stop.claims.wait()
        if self._running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._config.drain_timeout_s):
                    await self._stop.force.wait()
        for control in list(self._running.values()):
            control.stop(StopReason.SHUTDOWN)

    async def _idle_watch(self, idle_timeout_s: float) -> None:
        while not self._stop.claims.is_set():
            idle_s = time.monotonic() - self._last_activity_s
            if not self._running and idle_s >= idle_timeout_s:
                self._log.info("idle timeout reached; exiting", idle_timeout_s=idle_timeout_s)
                self.request_stop()
                return
            await self._pause(max(0.05, idle_timeout_s - idle_s))

    async def _heartbeat(self) -> None:
        while True:
            self.status.beat()
            await asyncio.sleep(self._tuning.heartbeat_s)


def _run_key(claim: JsonValue, execution_id: str | None) -> str | None:
    """Which run of an execution a claim hands out: its id and suspend count."""
    if execution_id is None:
        return None
    execution = claim.get("execution") if isinstance(claim, dict) else None
    suspend_count = execution.get("suspend_count") if isinstance(execution, dict) else None
    return f"{execution_id}/{suspend_count}"


def _claim_budget(config: RunnerConfig) -> int | None:
    if config.once:
        return 1
    return config.max_executions or None


def _https(url: str) -> bool:
    return url.lower().startswith("https://")
