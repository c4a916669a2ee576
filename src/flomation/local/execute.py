"""One local execution through the runner's own execution steps, without a server.

``flomation-runner local`` prepares the work directory with the runner's ``prepare_workdir``
(execution.flow, trigger-data.json, context.json, checkpoint.json), starts the executor with the
runner's ``ExecutorProcess``, masks and spools its output exactly as a claimed execution does,
reads ``state.json`` back and decides the outcome with ``decide_outcome``; the result body goes to
``HOME/results/<execution id>.json`` instead of the server, and the work directory retention policy
applies as on a runner. Output lines are shown as they arrive (docs/flows.md "Running a flow
locally"). Starting a server and a runner process cost 2-3 s per run; this costs neither.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flomation.local.progress import NodeProgress
from flomation.runner.outcome import Outcome, OutcomeKind, StopReason, decide_outcome, result_body
from flomation.runner.process import ExecutorProcess, ExecutorStartError
from flomation.runner.spool import SPOOL_FILE_NAME, OutputSpool
from flomation.runner.workdir import (
    ExecutorSettings,
    WorkdirError,
    WorkdirRetention,
    prepare_workdir,
    read_state_file,
    write_private_file,
)
from flomation.wire.jsontext import compact_json
from flomation.wire.masking import SecretMasker
from flomation.wire.paths import work_directory

__all__ = ["LocalExecution", "LocalRunResult", "run_local_execution"]

_KILL_GRACE_S = 10.0
_MAX_RESULT_LOG_BYTES = 16 * 1024 * 1024
_KEEP_FAILED = 5
_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")
# The executor's environment client is never reachable from a local run: ${env.*} and
# ${secret.*} stay literal (docs/flows.md "Running a flow locally").
_NO_API = "http://127.0.0.1:9"


@dataclass(frozen=True)
class LocalExecution:
    """What to run: the flow document and how to start it."""

    name: str
    flow: Mapping[str, Any]
    data: Mapping[str, Any] | None
    entry: str | None
    resume: bool
    resume_data: Any


@dataclass(frozen=True)
class LocalRunResult:
    """How the run ended (after any resumes) and what it left."""

    outcome: Outcome
    outputs: Any
    execution_id: str
    result_path: Path


def _executor_settings() -> ExecutorSettings:
    return ExecutorSettings(
        executable=(sys.executable, "-m", "flomation_executor"),
        api_url=_NO_API,
        runner_name="local",
        runner_identifier="local",
        key_path=None,
        tls=None,
    )


@dataclass(frozen=True)
class _Flo:
    organisation_id: str | None = None
    environment_id: str | None = None
    system_prompt: str | None = None
    system_flow: bool = False


@dataclass(frozen=True)
class _Run:
    id: str
    flo_id: str
    data: Any
    entry_node_id: str | None
    owner_id: str = ""
    sequence: int = 0
    trigger_type: str | None = "manual"
    author_email: str | None = None
    triggerer_email: str | None = None
    checkpoint: Any = None


@dataclass(frozen=True)
class _Claim:
    """The local stand-in for a claimed PendingExecution (runner.workdir.ClaimedExecution)."""

    flo: _Flo
    execution: _Run
    checkpoint: Any


def _claim(run: LocalExecution, flo_id: str, execution_id: str, checkpoint: Any) -> _Claim:
    data = dict(run.data) if run.data else None
    return _Claim(_Flo(), _Run(execution_id, flo_id, data, run.entry), checkpoint)


def _suspended_node(checkpoint: Mapping[str, Any]) -> str | None:
    info = checkpoint.get("suspend_info")
    node_id = info.get("suspend_node_id") if isinstance(info, dict) else None
    return node_id if isinstance(node_id, str) else None


class _Stop:
    """SIGINT/SIGTERM while the executor runs: stop it (TERM, grace, KILL) and keep its output."""

    def __init__(self) -> None:
        self.reason: StopReason | None = None
        self.requested = asyncio.Event()

    def request(self) -> None:
        if self.reason is None:
            self.reason = StopReason.CANCEL_REQUESTED
            self.requested.set()


async def _run_once(
    run: LocalExecution,
    *,
    workdir: Path,
    pending: _Claim,
    progress: NodeProgress,
    environment: Mapping[str, str],
    stop: _Stop,
) -> tuple[Outcome, str]:
    """One executor run in ``workdir``: its outcome and its (masked) output as result logs."""
    prepared = prepare_workdir(
        workdir, pending, dict(run.flow), _executor_settings(), datetime.now(UTC)
    )
    masker = SecretMasker(())
    spool = OutputSpool(workdir / SPOOL_FILE_NAME)
    try:
        process = await ExecutorProcess.start(prepared.argv, cwd=workdir, env=environment)
    except ExecutorStartError as exc:
        spool.close()
        raise WorkdirError(str(exc)) from exc

    async def stop_on_request() -> None:
        await stop.requested.wait()
        progress.message("stopping the flow (Ctrl-C): the executor gets SIGTERM")
        await process.terminate(_KILL_GRACE_S)

    try:
        async with asyncio.TaskGroup() as group:
            stopper = group.create_task(stop_on_request())
            async for batch in process.batches():
                texts = masker.mask_lines(batch.lines)
                spool.append_many(texts)
                for text in texts:
                    progress.output_line(batch.stream, text)
            exit_code = await process.wait()
            stopper.cancel()
    finally:
        spool.close()
    state_file = read_state_file(workdir)
    logs = spool.result_logs(_MAX_RESULT_LOG_BYTES)
    outcome = decide_outcome(
        state=state_file.state,
        state_error=state_file.error,
        exit_code=exit_code,
        stop_reason=stop.reason,
        output=logs if state_file.state is None else "",
    )
    return outcome, logs


async def run_local_execution(
    run: LocalExecution, home: Path, progress: NodeProgress, environment: Mapping[str, str]
) -> LocalRunResult:
    """Run the flow (and its resumes when ``run.resume``) to an outcome; WorkdirError on setup."""
    flo_id = _UNSAFE_ID_CHARACTERS.sub("-", run.name).strip("-") or "local"
    execution_id = str(uuid.uuid4())
    execution_root = home / "work"
    execution_root.mkdir(parents=True, exist_ok=True)
    workdir = work_directory(execution_root, flo_id, execution_id)
    results = home / "results"
    results.mkdir(parents=True, exist_ok=True)
    stop = _Stop()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.request)
    try:
        checkpoint: Any = None
        progress.message(f"execution {execution_id} of {run.name} in {workdir}")
        while True:
            pending = _claim(run, flo_id, execution_id, checkpoint)
            outcome, logs = await _run_once(
                run,
                workdir=workdir,
                pending=pending,
                progress=progress,
                environment=environment,
                stop=stop,
            )
            result_path = results / f"{execution_id}.json"
            # Written without awaiting: a Ctrl-C (which only sets a flag) cannot interrupt it, and
            # a worker thread would cost more than this small write (a thread to join at exit).
            write_private_file(result_path, compact_json(result_body(outcome, logs)))
            await WorkdirRetention(execution_root, _KEEP_FAILED).apply(
                workdir,
                succeeded=outcome.kind is OutcomeKind.SUCCESS,
                suspended=outcome.kind is OutcomeKind.SUSPENDED,
            )
            if outcome.kind is not OutcomeKind.SUSPENDED or not run.resume:
                break
            saved = outcome.state.get("checkpoint")  # a dict: the outcome is suspended
            checkpoint = dict(saved) if isinstance(saved, dict) else {}
            if run.resume_data is not None:
                checkpoint["resume_data"] = run.resume_data
            progress.resuming(_suspended_node(checkpoint))
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return LocalRunResult(
        outcome=outcome,
        outputs=outcome.state.get("outputs"),
        execution_id=execution_id,
        result_path=result_path,
    )
