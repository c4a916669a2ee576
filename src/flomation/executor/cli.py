"""``flomation-executor``: the command line and start-up order of docs/flows.md §2.

Runs one execution of one flow and exits 0 whatever the flow's status (set-up errors exit 1,
flag errors 2). Imports only the standard library up front: start-up is paid once per execution.
"""

from __future__ import annotations

import os
import sys
import time

from flomation.executor.signals import CancelSignals
from flomation.version import distribution_version

# typing and pathlib are not imported at run time on the --version path (start-up budget).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main"]


def _write_stderr(text: str) -> None:
    try:
        os.write(2, text.encode("utf-8", "replace"))
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m flomation_executor``."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["--fork-server"]:
        # The runner's warm executor (executor/forkserver.py); not a user-facing flag.
        from flomation.executor.forkserver import serve

        return serve(arguments[1:])
    signals = CancelSignals()
    signals.install()
    try:
        return _main(signals, arguments)
    except Exception as error:  # never a traceback (§2.4); a run that started wrote state.json
        _write_stderr(f"flomation-executor: unexpected error: {type(error).__name__}: {error}\n")
        return 1


def _main(signals: CancelSignals, argv: list[str]) -> int:
    from flomation.executor.flags import FlagError, HelpRequested, parse_flags, usage_text

    if argv[:1] == ["completion"]:
        return _completion(argv[1:])
    try:
        options = parse_flags(argv, environ=os.environ)
        limits = _limits(options)
    except HelpRequested:
        _write_stderr(usage_text())
        return HelpRequested.exit_code
    except FlagError as error:
        _write_stderr(f"{error}\n{usage_text()}")
        return FlagError.exit_code

    key = str(options["key"])
    if key.startswith(_DESCRIPTOR_PREFIX):
        # Before anything else runs: the key must be gone from reach before a node can look.
        options["key"] = _take_key(key)

    version = distribution_version()
    if options["version"]:
        # Nothing is logged before this point, so choosing the log format (step 3) can wait.
        # ``NAME VERSION`` and a newline, like the other two programs; runners take the last
        # word (upstream prints the bare version), docs/flows.md §2.2.
        try:
            os.write(1, f"flomation-executor {version}\n".encode())
        except OSError:
            pass
        return 0
    from flomation.executor.events import Logger

    logger = Logger(json_format=str(options["output"]).lower() == "json")
    signals.attach_logger(logger)
    logger.log(
        "info",
        "Starting Flomation Executor",
        version=version,
        hash="",
        date="",
        runner=options["runner"],
    )
    if options["manifest"]:
        return _write_manifest(logger, str(options["manifest"]))
    if options["debug"]:
        logger.set_level("debug")
    return _run(signals, logger, options, limits)


class _Limits:
    """This project's limits on one run (docs/security.md): flags or FLOMATION_EXECUTOR_*."""

    __slots__ = ("max_value_bytes", "network_guard", "run_timeout_s")

    def __init__(self, max_value_bytes: int, network_guard: str, run_timeout_s: float) -> None:
        self.max_value_bytes = max_value_bytes
        self.network_guard = network_guard
        self.run_timeout_s = run_timeout_s


def _limits(options: dict[str, str | bool]) -> _Limits:
    """The limit flags checked; FlagError (exit 2) naming the flag for a bad value."""
    from flomation.executor.flags import FlagError
    from flomation.executor.network_guard import GUARD_LEVELS

    def invalid(name: str, expected: str) -> FlagError:
        return FlagError(f'invalid value "{options[name]}" for flag -{name}: expected {expected}')

    try:
        max_value_bytes = int(str(options["max-value-bytes"]))
    except ValueError:
        max_value_bytes = 0
    if max_value_bytes < 1:
        raise invalid("max-value-bytes", "a whole number of bytes, 1 or more")
    guard = str(options["network-guard"]).lower()
    if guard not in GUARD_LEVELS:
        raise invalid("network-guard", " or ".join(GUARD_LEVELS))
    try:
        run_timeout_s = float(str(options["run-timeout"]))
    except ValueError:
        run_timeout_s = -1.0
    if not 0 <= run_timeout_s < float("inf"):
        raise invalid("run-timeout", "seconds, 0 or more")
    return _Limits(max_value_bytes, guard, run_timeout_s)


_DESCRIPTOR_PREFIX = "/dev/fd/"
_PR_SET_DUMPABLE = 4


def _take_key(path: str) -> str:
    """The PEM read from an inherited descriptor (``--key /dev/fd/N``), which is then closed.

    The runner hands its key over this way when the executor runs isolated (runner/isolation.py):
    no file holds it inside the sandbox. The process then makes itself non-dumpable, so that
    the scripts it starts (same user) cannot read its memory, environment or descriptors
    through /proc. An unreadable descriptor gives an empty key (look-ups then fail, logged).
    """
    chunks = []
    try:
        descriptor = int(path.removeprefix(_DESCRIPTOR_PREFIX))
        while chunk := os.read(descriptor, 65536):
            chunks.append(chunk)
        os.close(descriptor)
    except (OSError, ValueError):
        return ""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    return b"".join(chunks).decode("utf-8", "replace")


def _write_manifest(logger: Any, path: str) -> int:
    from pathlib import Path

    from flomation.executor.manifest import write_manifest
    from flomation.executor.registry import Registry

    try:
        write_manifest(Registry(), Path(path))
    except Exception as error:  # any failure is logged; the exit code stays 0 (§2.2)
        logger.log("error", "unable to write manifest", error=f"{error}")
    return 0


def _run(
    signals: CancelSignals, logger: Any, options: dict[str, str | bool], limits: _Limits
) -> int:
    from pathlib import Path

    from flomation.executor.flags import usage_text
    from flomation.executor.flow import FlowError, load_flow

    path = str(options["path"])
    if not path:
        logger.log("error", "no path specified")
        _write_stderr(usage_text())
        return 1
    try:
        flow = load_flow(Path(path))
    except FlowError as error:
        logger.log("error", "Unable to load flow", error=str(error))
        return 1
    execution_id = str(options["id"]) or _random_uuid()
    environment = None
    if options["environment"] != "default":
        try:
            environment = _environment_client(logger, options, execution_id)
        except Exception as error:
            logger.log("error", "unable to configure environment", error=str(error))
            return 1
    # The same client makes the actions' control-plane calls (common/start_flow); without an
    # environment it is built on first use, so executions that never call pay nothing.
    client = environment or _LazyControlPlane(
        lambda: _environment_client(logger, options, execution_id)
    )
    _inject_trigger_data(logger, flow, str(options["trigger-data"]))
    context = _read_context(logger, str(options["context"]))
    checkpoint = None
    if options["checkpoint"]:
        from flomation.executor.checkpoint import CheckpointError, load_checkpoint

        try:
            checkpoint = load_checkpoint(Path(str(options["checkpoint"])))
        except CheckpointError as error:
            logger.log("error", "unable to load checkpoint", error=str(error))
            return 1
    return _execute(
        signals,
        logger,
        flow,
        execution_id=execution_id,
        flow_id=str(options["flow"]),
        entry=str(options["entry"]),
        debug=bool(options["debug"]),
        context=context,
        environment=environment,
        control_plane=client,
        checkpoint=checkpoint,
        limits=limits,
    )


def _random_uuid() -> str:
    import uuid

    return str(uuid.uuid4())


class _LazyControlPlane:
    """A ``ControlPlane`` whose client (and its imports) is created by the first call."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._client: Any = None

    def call(
        self, method: str, path: str, body: bytes | None = None, *, timeout_s: float = 30.0
    ) -> tuple[int, bytes]:
        if self._client is None:
            self._client = self._make()
        result: tuple[int, bytes] = self._client.call(method, path, body, timeout_s=timeout_s)
        return result


def _environment_client(logger: Any, options: dict[str, str | bool], execution_id: str) -> Any:
    from flomation.executor.environment import EnvironmentClient

    return EnvironmentClient(
        api_url=str(options["api"]).rstrip("/"),
        execution_id=execution_id,
        environment=str(options["environment"]),
        key_path=str(options["key"]),
        token=str(options["token"]),
        user=str(options["user"]),
        password=str(options["password"]),
        identity_url=str(options["identity"]),
        log=logger.log,
    )


def _inject_trigger_data(logger: Any, flow: Any, path: str) -> None:
    from pathlib import Path

    if not path:
        return
    import json

    from flomation.executor.flow import inject_trigger_data

    try:
        data = json.loads(Path(path).read_bytes())
        if isinstance(data, str):
            data = json.loads(data)
    except (OSError, ValueError) as error:
        logger.log("warning", "unable to parse trigger data", error=str(error))
        return
    if not isinstance(data, dict):
        logger.log("warning", "unable to parse trigger data", error="not a JSON object")
        return
    injected = inject_trigger_data(flow, data)
    if injected is not None:
        node, keys = injected
        logger.log(
            "info",
            "injected trigger data into trigger node",
            node_id=node.id,
            label=node.label,
            keys=keys,
        )


def _read_context(logger: Any, path: str) -> Any:
    from pathlib import Path

    if not path:
        return None
    from flomation.executor.context import ContextError, load_context

    try:
        return load_context(Path(path))
    except ContextError as error:
        logger.log("warning", "unable to parse context", error=str(error))
        return None


def _execute(
    signals: CancelSignals,
    logger: Any,
    flow: Any,
    *,
    execution_id: str,
    flow_id: str,
    entry: str,
    debug: bool,
    context: Any,
    environment: Any,
    control_plane: Any,
    checkpoint: Any,
    limits: _Limits,
) -> int:
    import threading
    from pathlib import Path

    from flomation.executor.deep_stack import run_with_deep_stack
    from flomation.executor.engine import Engine
    from flomation.executor.events import EventSink, render_state, write_state
    from flomation.executor.network_guard import configure
    from flomation.executor.registry import Registry
    from flomation.executor.result import STATUS_FAILED, ExecutionResult

    configure(limits.network_guard)
    engine = Engine(
        flow,
        registry=Registry(),
        logger=logger,
        events=EventSink(),
        cancel_event=signals.cancel_event,
        work_dir=Path.cwd(),
        context=context,
        environment=environment,
        control_plane=control_plane,
        entry=entry,
        debug=debug,
        max_value_bytes=limits.max_value_bytes,
    )
    if checkpoint is not None:
        engine.restore(checkpoint)
    timed_out = threading.Event()
    timer = None
    if limits.run_timeout_s:
        # The same cancellation a SIGTERM from the runner causes; the run is then failed.
        def time_out() -> None:
            timed_out.set()
            logger.log("error", "run timeout reached", run_timeout_s=limits.run_timeout_s)
            signals.cancel_event.set()

        timer = threading.Timer(limits.run_timeout_s, time_out)
        timer.daemon = True
        timer.start()
    started = time.perf_counter()
    try:
        result = run_with_deep_stack(engine.run)
    except BaseException as error:  # last line of defence: state.json is still written (§2.4)
        logger.log("error", "Error executing flow", error=f"{type(error).__name__}: {error}")
        result = ExecutionResult(
            status=STATUS_FAILED,
            outputs=None,
            records=engine.records,
            checkpoint=None,
            error=str(error),
        )
    if timer is not None:
        timer.cancel()
    if timed_out.is_set():
        result = ExecutionResult(
            status=STATUS_FAILED,
            outputs=result.outputs,
            records=result.records,
            checkpoint=None,
            error=f"run timeout of {limits.run_timeout_s:g} s reached (-run-timeout)",
        )
    duration_ms = int((time.perf_counter() - started) * 1000)
    logger.log("info", "Finished processing Flow", duration_ms=duration_ms, status=result.status)
    state = render_state(
        execution_id=execution_id,
        flow_id=flow_id,
        status=result.status,
        duration_ms=duration_ms,
        outputs=result.outputs,
        records=result.records,
        checkpoint=result.checkpoint.to_json() if result.checkpoint is not None else None,
    )
    try:
        write_state(Path("state.json"), state)
    except OSError as error:
        logger.log("error", "unable to write state file", error=str(error))
    return 0


def _completion(argv: list[str]) -> int:
    """``flomation-executor completion SHELL``: a completion script of the Go-style flags."""
    from flomation.console import Command, print_completion

    def words() -> tuple[dict[str, Command], Command]:
        from flomation.executor.flags import FLAGS

        return {}, Command("", ["--help", *(f"--{spec.name}" for spec in FLAGS)])

    return print_completion(argv, "flomation-executor", words)
