"""One execution's lifecycle (docs/protocol.md §5) with a real executor process and an HTTP fake.

The journal here posts results straight to the fake server: the durable outbox is exercised by
the agent tests; what these tests pin is what one execution hands over.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import structlog
from structlog.testing import capture_logs

from fixtures.agents import SCRIPTED_EXECUTOR as SCRIPTED
from fixtures.fake_control_plane import FakeControlPlane, pending_execution
from fixtures.fork_probe import forked_python
from flomation.runner.api import RunnerApi, registration_body
from flomation.runner.execution import (
    ExecutionControl,
    ExecutionReport,
    ExecutionServices,
    ExecutionSettings,
    LaunchExecutor,
    run_execution,
)
from flomation.runner.outcome import OutcomeKind, StopReason
from flomation.runner.process import ExecutorStartError
from flomation.runner.workdir import ExecutorSettings, WorkdirError, WorkdirRetention
from flomation.wire.masking import SecretMasker
from flomation.wire.models import LOG_BATCH_KEY_HEADER
from flomation.wire.signing import generate_private_key, public_key_pem

KEY = generate_private_key()
IDENTIFIER = "qWeRtYuIoPaSdFgH"


@dataclass
class _PostingJournal:
    """Records the journal calls and posts results directly."""

    api: RunnerApi
    events: list[tuple[str, str]] = field(default_factory=list)
    pgids: list[int] = field(default_factory=list)

    async def started(self, execution_id: str, flo_id: str, workdir: Path) -> None:
        self.events.append(("started", execution_id))

    async def process_started(self, execution_id: str, pgid: int) -> None:
        self.events.append(("process", execution_id))
        self.pgids.append(pgid)

    async def store_result(self, execution_id: str, body: bytes) -> asyncio.Future[float | None]:
        self.events.append(("result", execution_id))
        response = await self.api.post_result(execution_id, body)
        assert response.status == 200
        acknowledged: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(time.monotonic())
        return acknowledged

    async def finished(self, execution_id: str) -> None:
        self.events.append(("finished", execution_id))


@dataclass
class _GatedJournal(_PostingJournal):
    """Holds each result at ``gate`` before storing it, so a test can cancel meanwhile."""

    storing: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def store_result(self, execution_id: str, body: bytes) -> asyncio.Future[float | None]:
        self.storing.set()
        await self.gate.wait()
        return await super().store_result(execution_id, body)


@dataclass
class _Harness:
    fake: FakeControlPlane
    api: RunnerApi
    journal: _PostingJournal
    root: Path
    records: Path
    executable: tuple[str, ...]
    secrets: list[str]
    launch: LaunchExecutor | None = None

    def settings(self, **overrides: Any) -> ExecutionSettings:
        values: dict[str, Any] = {
            "execution_root": self.root,
            "executor": ExecutorSettings(
                executable=self.executable,
                api_url=self.fake.url,
                runner_name="Flo Runner",
                runner_identifier=IDENTIFIER,
                key_path=self.root.parent / "key.pem",
                tls=None,
            ),
            "environment": {**os.environ, "SCRIPTED_EXECUTOR_RECORD_DIR": str(self.records)},
            "kill_grace_s": 1.0,
            "status_poll_interval_s": 0.1,
            "state_retry_delays_s": (0.05,),
        }
        if self.launch is not None:
            values["launch"] = self.launch
        values.update(overrides)
        return ExecutionSettings(**values)

    async def run(
        self,
        claim: Any,
        control: ExecutionControl | None = None,
        **overrides: Any,
    ) -> ExecutionReport:
        if isinstance(claim, dict) and isinstance(claim.get("execution"), dict):
            self.fake.state.status.setdefault(str(claim["execution"].get("id")), "pending")
        services = ExecutionServices(
            settings=self.settings(**overrides),
            api=self.api,
            journal=self.journal,
            masker=SecretMasker(self.secrets),
            retention=WorkdirRetention(self.root, keep_failed=5),
        )
        return await run_execution(
            claim,
            services,
            control=control or ExecutionControl(),
            log=structlog.get_logger("test"),
        )

    def record(self, execution_id: str, n: int = 1) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.records / f"{execution_id}-{n}.json").read_text())
        return data


@pytest.fixture
def launch_mode(request: pytest.FixtureRequest) -> str:
    """How the harness starts executors: "spawned" unless a test runs over both modes."""
    return str(getattr(request, "param", "spawned"))


# Runs a test with spawned executors and with executors forked from a warm fork server
# (runner/warm_executor.py), which must behave the same.
BOTH_LAUNCH_MODES = pytest.mark.parametrize("launch_mode", ["spawned", "forked"], indirect=True)


@pytest.fixture
async def harness(tmp_path: Path, launch_mode: str) -> AsyncIterator[_Harness]:
    root = tmp_path / "exec"
    root.mkdir()
    records = tmp_path / "records"
    records.mkdir()
    async with contextlib.AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeControlPlane())
        api = await stack.enter_async_context(RunnerApi(fake.url, IDENTIFIER, KEY))
        response = await api.register(
            registration_body(
                identifier=IDENTIFIER,
                name="Flo Runner",
                registration_code="c",
                version="1",
                executor_version="1",
                manifest={},
                public_key_pem=public_key_pem(KEY),
            )
        )
        assert response.status == 200
        executable: tuple[str, ...] = (sys.executable, str(SCRIPTED))
        launch = None
        if launch_mode == "forked":
            forked = await stack.enter_async_context(forked_python(root, dict(os.environ)))
            executable = (*forked.command, str(SCRIPTED))
            launch = forked.warm.launch
        yield _Harness(
            fake, api, _PostingJournal(api), root, records, executable, [], launch=launch
        )


@BOTH_LAUNCH_MODES
async def test_successful_run_posts_state_logs_and_result(harness: _Harness) -> None:
    """A run marks running, streams lines, posts a success result with every line, cleans up."""
    claim = pending_execution(script={"lines": 3, "outputs": {"x": 1}}, trigger_data={"k": "v"})
    execution_id = claim["execution"]["id"]
    report = await harness.run(claim)
    assert report.kind is OutcomeKind.SUCCESS
    result = harness.fake.state.results[execution_id]
    assert result["has_errored"] is False and "cancelled" not in result
    state = result["state"]
    assert state["status"] == 0 and state["outputs"] == {"x": 1}
    assert state["billingDuration"] == 7
    lines = state["logs"].split("\n")
    assert sum(line.startswith("__NODE__:") for line in lines) == 3
    assert harness.fake.state.logs[execution_id] == lines
    assert harness.fake.requests_to("/state")[0].body == b'{"state":"running"}'
    assert all(r.signature_ok for r in harness.fake.state.requests)
    assert [e for e, _ in harness.journal.events] == ["started", "process", "result"]
    workdir = harness.root / claim["flo"]["id"] / execution_id
    assert not workdir.exists()


async def test_running_state_is_retried_until_accepted_before_the_executor_starts(
    harness: _Harness,
) -> None:
    """A refused state post is retried; the executor starts only after it was accepted."""
    harness.fake.state_failures = 2
    claim = pending_execution(script={"lines": 2})
    report = await harness.run(claim, state_retry_delays_s=(0.05, 0.05, 0.05))
    assert report.kind is OutcomeKind.SUCCESS
    paths = [r.path.rsplit("/", 1)[-1] for r in harness.fake.state.requests]
    assert paths.count("state") == 3
    assert max(i for i, p in enumerate(paths) if p == "state") < paths.index("logs")


@pytest.mark.parametrize("status", [409, 404])
async def test_refused_confirmation_drops_the_execution_without_running_it(
    harness: _Harness, status: int
) -> None:
    """409 (lease expired, offered again) or 404 on ``state``: no executor, no result, no log."""
    harness.fake.state_failures = 1
    harness.fake.state_failure_status = status
    claim = pending_execution(script={"lines": 2})
    execution_id = claim["execution"]["id"]
    report = await harness.run(claim)
    assert report.kind is None and report.error is not None and "refused" in report.error
    assert list(harness.records.iterdir()) == []
    assert execution_id not in harness.fake.state.results
    assert harness.fake.requests_to("/logs") == []
    assert harness.journal.events == []
    assert len(harness.fake.requests_to("/state")) == 1
    assert not (harness.root / claim["flo"]["id"] / execution_id).exists()


async def test_never_confirmed_execution_is_not_run(harness: _Harness) -> None:
    """A state post never accepted within the retries leaves the executor unstarted."""
    harness.fake.state_failures = 10
    claim = pending_execution(script={})
    report = await harness.run(claim, state_retry_delays_s=(0.05, 0.05))
    assert report.kind is None and report.error is not None and "unanswered" in report.error
    assert len(harness.fake.requests_to("/state")) == 3
    assert list(harness.records.iterdir()) == []
    assert claim["execution"]["id"] not in harness.fake.state.results


async def test_every_log_batch_carries_a_key_of_its_own(harness: _Harness) -> None:
    """Each /logs batch has its own X-Flomation-Log-Batch key (a retry would repeat it)."""
    claim = pending_execution(script={"lines": 3, "sleep_s": 0.6})
    await harness.run(claim, log_flush_interval_s=0.0)
    keys = [r.headers[LOG_BATCH_KEY_HEADER] for r in harness.fake.requests_to("/logs")]
    assert len(keys) >= 1 and len(set(keys)) == len(keys)
    assert all(len(key) == 32 for key in keys)


@BOTH_LAUNCH_MODES
async def test_executor_receives_exact_files_and_argv(harness: _Harness) -> None:
    """The executor runs in its work directory with the §5.6 argv and the §5.2-5.4 files."""
    claim = pending_execution(script={}, trigger_data={"k": "v"}, environment_id="env-9")
    execution_id, flo_id = claim["execution"]["id"], claim["flo"]["id"]
    await harness.run(claim)
    record = harness.record(execution_id)
    assert record["argv"] == [
        "--output", "json", "--path", "execution.flow", "--entry", "",
        "--id", execution_id, "--flow", flo_id, "--api", harness.fake.url,
        "--runner", "Flo Runner", "--environment", "env-9",
        "--trigger-data", "trigger-data.json", "--context", "context.json",
        "--key", str(harness.root.parent / "key.pem"),
    ]  # fmt: skip
    assert record["cwd"] == str(harness.root / flo_id / execution_id)
    assert record["cwd_mode"] == "0o750"
    assert record["pgid"] == record["pid"]
    files = record["files"]
    assert json.loads(files["execution.flow"]["content"]) == claim["data"]
    assert json.loads(files["trigger-data.json"]["content"]) == {"k": "v"}
    assert json.loads(files["context.json"]["content"])["runner_id"] == IDENTIFIER
    assert {f["mode"] for f in files.values()} == {"0o600"}
    assert "checkpoint.json" not in files


@BOTH_LAUNCH_MODES
async def test_cancel_via_status_stops_within_grace(harness: _Harness) -> None:
    """A `cancel` completion stops even a TERM-ignoring executor within grace + 1 s."""
    claim = pending_execution(script={"sleep_s": 60, "ignore_sigterm": True})
    execution_id = claim["execution"]["id"]
    task = asyncio.create_task(harness.run(claim))
    await _wait_for(lambda: any(harness.records.iterdir()))
    started = time.monotonic()
    harness.fake.set_completion(execution_id, "cancel")
    report = await asyncio.wait_for(task, 10)
    assert time.monotonic() - started < 1.0 + 1.0 + 0.5  # grace + 1 s, plus one poll period
    assert report.kind is OutcomeKind.CANCEL
    result = harness.fake.state.results[execution_id]
    assert result["cancelled"] is True and result["has_errored"] is True


@BOTH_LAUNCH_MODES
async def test_cancel_with_cooperative_executor_keeps_its_state(harness: _Harness) -> None:
    """An executor that exits on TERM reports status 2; the result is cancelled with its state."""
    claim = pending_execution(script={"sleep_s": 60})
    execution_id = claim["execution"]["id"]
    task = asyncio.create_task(harness.run(claim))
    await _wait_for(lambda: any(harness.records.iterdir()))
    harness.fake.set_completion(execution_id, "cancel")
    await asyncio.wait_for(task, 10)
    result = harness.fake.state.results[execution_id]
    assert result["cancelled"] is True and result["state"]["status"] == 2


async def test_finished_elsewhere_posts_no_result(harness: _Harness) -> None:
    """A completion decided by someone else stops the executor and posts no result."""
    claim = pending_execution(script={"sleep_s": 60})
    execution_id = claim["execution"]["id"]
    task = asyncio.create_task(harness.run(claim))
    await _wait_for(lambda: any(harness.records.iterdir()))
    harness.fake.set_completion(execution_id, "timeout")
    report = await asyncio.wait_for(task, 10)
    assert report.kind is None
    assert execution_id not in harness.fake.state.results
    assert [e for e, _ in harness.journal.events] == ["started", "process", "finished"]


@BOTH_LAUNCH_MODES
async def test_suspend_then_resume_with_checkpoint(harness: _Harness) -> None:
    """Status 3 with a checkpoint is posted suspended; the resume gets --checkpoint."""
    checkpoint = {"node_results": {"a": {}}, "entry_node_id": "p"}
    claim = pending_execution(script={"status": 3, "checkpoint": checkpoint})
    execution_id, flo_id = claim["execution"]["id"], claim["flo"]["id"]
    report = await harness.run(claim)
    assert report.kind is OutcomeKind.SUSPENDED
    result = harness.fake.state.results.pop(execution_id)
    assert result["suspended"] is True and result["has_errored"] is False
    assert result["state"]["checkpoint"] == checkpoint
    assert (harness.root / flo_id / execution_id).is_dir()  # kept until resumed
    resumed = pending_execution(execution_id=execution_id, flo_id=flo_id, checkpoint=checkpoint)
    report = await harness.run(resumed)
    assert report.kind is OutcomeKind.SUCCESS
    record = harness.record(execution_id, 2)
    assert record["argv"][-2:] == ["--checkpoint", "checkpoint.json"]
    assert "state.json" not in record["listing"]
    assert harness.fake.state.results[execution_id]["state"]["resumed_from"] == checkpoint


async def test_invalid_identifier_fails_without_touching_the_filesystem(
    harness: _Harness,
) -> None:
    """Unsafe ids yield a failed result `invalid identifier` and no directory is created."""
    claim = pending_execution(execution_id="..")
    report = await harness.run(claim)
    assert report.kind is OutcomeKind.FAIL
    result = harness.fake.state.results[".."]
    assert result["state"]["error"] == "invalid identifier"
    assert list(harness.root.iterdir()) == []


async def test_unreadable_claim_with_id_is_reported_failed(harness: _Harness) -> None:
    """A claim body that does not validate but has an id gets a failure result."""
    claim = {"execution": {"id": "abc", "flo_id": 5}}
    await harness.run(claim)
    error = harness.fake.state.results["abc"]["state"]["error"]
    assert error.startswith("invalid pending execution")


async def test_secrets_are_masked_everywhere(harness: _Harness) -> None:
    """A secret printed by the executor is masked in /logs and in state.logs."""
    harness.secrets.append("hunter2-secret")
    claim = pending_execution(script={"echo": ["token is hunter2-secret!"]})
    execution_id = claim["execution"]["id"]
    await harness.run(claim)
    logs = harness.fake.state.results[execution_id]["state"]["logs"]
    assert "token is ********!" in logs and "hunter2" not in logs
    assert "token is ********!" in harness.fake.state.logs[execution_id]


@BOTH_LAUNCH_MODES
async def test_runner_variables_do_not_reach_the_executor(harness: _Harness) -> None:
    """FLOMATION_* and MTLS_* variables are not inherited by the executor."""
    from flomation.runner.config import RunnerConfig, runner_environment

    config = RunnerConfig(url="http://127.0.0.1:1", execution_directory=Path(), executable=("x",))
    environ = {
        **os.environ,
        "SCRIPTED_EXECUTOR_RECORD_DIR": str(harness.records),
        "FLOMATION_REGISTRATION_CODE": "sekrit",
        "MTLS_KEY": "/k",
        "KEEP_ME": "1",
    }
    claim = pending_execution()
    await harness.run(claim, environment=runner_environment(config, environ))
    keys = harness.record(claim["execution"]["id"])["environ_keys"]
    assert "KEEP_ME" in keys
    assert "FLOMATION_REGISTRATION_CODE" not in keys and "MTLS_KEY" not in keys


@BOTH_LAUNCH_MODES
async def test_execution_timeout_cancels_with_reason(harness: _Harness) -> None:
    """Exceeding execution_timeout_s cancels the execution with reason `timeout`."""
    claim = pending_execution(script={"sleep_s": 60})
    report = await asyncio.wait_for(harness.run(claim, execution_timeout_s=0.3), 10)
    assert report.kind is OutcomeKind.CANCEL
    state = harness.fake.state.results[claim["execution"]["id"]]["state"]
    assert state["cancel_reason"] == "timeout"


@BOTH_LAUNCH_MODES
async def test_shutdown_stop_is_a_failure_not_a_cancel(harness: _Harness) -> None:
    """A runner shutdown stop reports the executor's status 2 as failed (not cancelled)."""
    control = ExecutionControl()
    claim = pending_execution(script={"sleep_s": 60})
    task = asyncio.create_task(harness.run(claim, control))
    await _wait_for(lambda: any(harness.records.iterdir()))
    control.stop(StopReason.SHUTDOWN)
    report = await asyncio.wait_for(task, 10)
    assert report.kind is OutcomeKind.FAIL
    result = harness.fake.state.results[claim["execution"]["id"]]
    assert "cancelled" not in result and result["state"]["error"] == "runner shutting down"


# --- misbehaving executors: each ends failed with a clear error, and nothing raises -----------


async def _failed_error(harness: _Harness, claim: dict[str, Any], **overrides: Any) -> str:
    report = await harness.run(claim, **overrides)
    assert report.kind is OutcomeKind.FAIL
    result = harness.fake.state.results[claim["execution"]["id"]]
    assert result["has_errored"] is True
    error: str = result["state"]["error"]
    return error


async def test_executor_not_found(harness: _Harness, tmp_path: Path) -> None:
    """A missing executor program is a failed execution naming it."""
    missing = str(tmp_path / "no-such-executor")
    error = await _failed_error(
        harness, pending_execution(), executor=_with_executable(harness, (missing,))
    )
    assert "program not found" in error and "no-such-executor" in error


async def test_executor_start_failure_is_logged_with_its_cause(
    harness: _Harness, tmp_path: Path
) -> None:
    """The runner's error line for an executor that cannot start carries the exception (a
    traceback in the rendered log) chained to the operating system's error."""
    missing = str(tmp_path / "no-such-executor")
    with capture_logs() as logs:
        await harness.run(pending_execution(), executor=_with_executable(harness, (missing,)))
    (entry,) = [e for e in logs if e["event"] == "executor could not be started"]
    assert entry["log_level"] == "error"
    assert isinstance(entry["exc_info"], ExecutorStartError)
    assert isinstance(entry["exc_info"].__cause__, FileNotFoundError)


@BOTH_LAUNCH_MODES
async def test_result_is_stored_even_when_the_execution_is_cancelled_meanwhile(
    harness: _Harness,
) -> None:
    """Cancelling an execution while its result is being stored (a drain's force stop, the
    agent shutting down) still stores the result: the store runs shielded."""
    journal = _GatedJournal(harness.api)
    harness.journal = journal
    claim = pending_execution()
    execution = asyncio.create_task(harness.run(claim))
    async with asyncio.timeout(20):
        await journal.storing.wait()
    execution.cancel()
    with pytest.raises(asyncio.CancelledError):
        await execution
    journal.gate.set()
    result = await harness.fake.wait_for_result(claim["execution"]["id"], 10)
    assert result["has_errored"] is False


async def test_executor_not_executable(harness: _Harness, tmp_path: Path) -> None:
    """A program without execute permission is a failed execution saying so."""
    plain = tmp_path / "plain"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    error = await _failed_error(
        harness, pending_execution(), executor=_with_executable(harness, (str(plain),))
    )
    assert "not executable" in error


@BOTH_LAUNCH_MODES
async def test_executor_crash(harness: _Harness) -> None:
    """A crashing executor is reported with the missing state.json and its traceback output."""
    claim = pending_execution(script={"crash": True})
    error = await _failed_error(harness, claim)
    assert error == "executor exited without writing state.json"
    state = harness.fake.state.results[claim["execution"]["id"]]["state"]
    assert "scripted crash" in state["output"] and state["exit_code"] == 1


@BOTH_LAUNCH_MODES
async def test_executor_without_state(harness: _Harness) -> None:
    """Exit 0 without state.json is a failure."""
    error = await _failed_error(harness, pending_execution(script={"no_state": True}))
    assert error == "executor exited without writing state.json"


async def test_executor_invalid_state(harness: _Harness) -> None:
    """An unparseable state.json is a failure saying so."""
    error = await _failed_error(harness, pending_execution(script={"invalid_state": True}))
    assert error.startswith("state.json is not valid JSON")


async def test_executor_oversized_state(harness: _Harness) -> None:
    """A state.json over 64 MiB is refused."""
    claim = pending_execution(script={"state_bytes": 64 * 1024 * 1024 + 10})
    error = await _failed_error(harness, claim)
    assert error.startswith("state.json is too large")


async def test_unwritable_work_directory(harness: _Harness) -> None:
    """A work directory that cannot be created is a failure naming it."""
    claim = pending_execution()
    (harness.root / claim["flo"]["id"]).write_text("not a directory")
    error = await _failed_error(harness, claim)
    assert error.startswith("unable to prepare work directory")


async def test_work_directory_failure_is_logged_with_its_cause(harness: _Harness) -> None:
    """The error line for a work directory that cannot be prepared carries the OS error."""
    claim = pending_execution()
    (harness.root / claim["flo"]["id"]).write_text("not a directory")
    with capture_logs() as logs:
        await harness.run(claim)
    (entry,) = [e for e in logs if e["event"] == "execution failed before the executor started"]
    assert isinstance(entry["exc_info"], WorkdirError)
    assert isinstance(entry["exc_info"].__cause__, NotADirectoryError)


def _with_executable(harness: _Harness, executable: tuple[str, ...]) -> ExecutorSettings:
    base = harness.settings().executor
    return ExecutorSettings(
        executable=executable,
        api_url=base.api_url,
        runner_name=base.runner_name,
        runner_identifier=base.runner_identifier,
        key_path=base.key_path,
        tls=None,
    )


async def _wait_for(condition: Any, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


async def test_secrets_in_structured_result_fields_are_masked(harness: _Harness) -> None:
    """Every string of the result, and a secret's encoded forms in it, is masked when stored."""
    secret = 'hunter2-s/cr3t "välue"'
    harness.secrets.append(secret)
    encoded = base64.b64encode(b"x" + secret.encode()).decode()
    outputs = {
        "plain": f"the token is {secret}",
        "nested": [{"deep": secret}, 7, None],
        secret: "a key holding the secret",
        "base64": encoded,
        "url": "https://h/?q=" + quote(secret, safe=""),
        "json": json.dumps({"t": secret}),
    }
    claim = pending_execution(script={"outputs": outputs, "echo": [encoded]})
    execution_id = claim["execution"]["id"]
    await harness.run(claim)
    stored = json.dumps(harness.fake.state.results[execution_id])
    for form in (secret, encoded[4:20], quote(secret, safe=""), "hunter2"):
        assert form not in stored
    state_outputs = harness.fake.state.results[execution_id]["state"]["outputs"]
    assert state_outputs["plain"] == "the token is ********"
    assert state_outputs["nested"] == [{"deep": "********"}, 7, None]
    assert state_outputs["********"] == "a key holding the secret"
    assert state_outputs["json"] == '{"t": "********"}'
    assert "hunter2" not in "".join(harness.fake.state.logs[execution_id])


@BOTH_LAUNCH_MODES
async def test_secret_variables_stay_out_of_the_executor_unless_passed(
    harness: _Harness, tmp_path: Path
) -> None:
    """Secret-named variables are not inherited unless passed through; passed ones are masked."""
    from flomation.runner.config import RunnerConfig, runner_environment, secret_values

    config = RunnerConfig(
        url="http://127.0.0.1:1",
        execution_directory=tmp_path,
        executable=("x",),
        secret_env_passthrough=("CLOUD_API_KEY",),
    )
    environ = {
        **os.environ,
        "SCRIPTED_EXECUTOR_RECORD_DIR": str(harness.records),
        "MY_API_TOKEN": "tok-never-in-executor",
        "DB_PASSWORD": "pw-never-in-executor",
        "CLOUD_API_KEY": "cloud-key-passed-masked",
        "KEEP_ME": "1",
    }
    harness.secrets.extend(secret_values(config, environ))
    claim = pending_execution(script={"echo_env": ["CLOUD_API_KEY", "MY_API_TOKEN"]})
    execution_id = claim["execution"]["id"]
    await harness.run(claim, environment=runner_environment(config, environ))
    keys = harness.record(execution_id)["environ_keys"]
    assert "KEEP_ME" in keys and "CLOUD_API_KEY" in keys
    assert "MY_API_TOKEN" not in keys and "DB_PASSWORD" not in keys
    shipped = "\n".join(harness.fake.state.logs[execution_id])
    assert "cloud-key-passed-masked" not in shipped and "********" in shipped


async def test_output_spool_is_capped_and_the_result_marks_the_cut(harness: _Harness) -> None:
    """An executor printing far more than max_spool_bytes leaves at most that much on disk;
    the result keeps head and tail with a truncation marker."""
    claim = pending_execution(script={"counter_lines": 200_000, "status": 1})
    execution_id = claim["execution"]["id"]
    await harness.run(claim, max_spool_bytes=64 * 1024)
    workdir = next(harness.root.glob(f"*/{execution_id}"))
    spooled = sum(
        p.stat().st_size for p in workdir.iterdir() if p.name.startswith(".flomation-output")
    )
    assert spooled <= 64 * 1024 + 128 * 1024  # one pipe read more at most
    logs = harness.fake.state.results[execution_id]["state"]["logs"]
    assert "output truncated:" in logs
    assert logs.startswith("line 0\n") or "\nline 0\n" in logs
    assert "\nline 199999" in logs
