"""``flomation-runner local`` and ``flomation-runner dev``.

``local`` validates the flow (docs/flows.md), then runs it through the runner's execution steps
on this machine (``flomation.local.execute``; no server), showing node events, script output,
warnings and failure reasons as they come. ``dev`` keeps a server and a runner up.

Exit codes of ``local``: 0 the flow succeeded, 1 it failed (or was cancelled or timed out),
2 bad input (flow file, trigger data, options, a flow that fails validation), 3 it suspended and
``--resume`` was not given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flomation.console import ArgumentParser, survive_closed_output
from flomation.local.flowfile import InputError, load_flow_file, parse_trigger_data
from flomation.local.progress import NodeProgress, failure_reason
from flomation.runner.outcome import OutcomeKind

if TYPE_CHECKING:
    from flomation.local.execute import LocalExecution

__all__ = ["dev_command", "dev_parser", "local_command", "local_parser"]

EXIT_SUCCESS, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_SUSPENDED = 0, 1, 2, 3


def local_parser() -> argparse.ArgumentParser:
    """The options of ``flomation-runner local``."""
    local = ArgumentParser(
        prog="flomation-runner local",
        description="Validate one flow file, then run it end to end on this machine. Exit code "
        "0 success, 1 failed, 2 bad input or an invalid flow, 3 suspended.",
    )
    local.add_argument("flow_file", type=Path, metavar="FLOW_FILE")
    local.add_argument("--data", help="trigger data: a JSON object")
    local.add_argument("--data-file", type=Path, help="trigger data from a JSON file")
    local.add_argument("--entry", help="id of the node to start from")
    local.add_argument(
        "--resume",
        nargs="?",
        const="null",
        metavar="JSON",
        help="when the flow suspends, resume it at once (optionally with resume data)",
    )
    local.add_argument(
        "--home", type=Path, help="keep work directories and results here (default: a temp dir)"
    )
    local.add_argument(
        "-v", "--verbose", action="store_true", help="also show node outputs and executor info"
    )
    local.add_argument(
        "--no-validate", action="store_true", help="run the flow even if validation finds errors"
    )
    return local


def dev_parser() -> argparse.ArgumentParser:
    """The options of ``flomation-runner dev``."""
    dev = ArgumentParser(
        prog="flomation-runner dev",
        description="Keep a local server and runner up for trying flows through the admin API. "
        "Starting it again on the same --home reuses its queue, flows, admin token and runner "
        "identity.",
    )
    dev.add_argument("--listen", default="127.0.0.1:8888", help="server address (HOST:PORT)")
    dev.add_argument("--slots", type=int, default=4, help="concurrent executions")
    dev.add_argument(
        "--home",
        type=Path,
        default=Path(".flomation/dev"),
        help="directory holding the server database, the admin token, the runner's identity "
        "and work directories (default .flomation/dev)",
    )
    return dev


def local_command(argv: list[str]) -> int:
    """``flomation-runner local FLOW_FILE``: the exit codes of this module's docstring."""
    survive_closed_output()
    args = local_parser().parse_args(argv)
    try:
        return _local(args)
    except InputError as exc:
        print(f"flomation-runner local: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def dev_command(argv: list[str]) -> int:
    """``flomation-runner dev``: serve until SIGINT/SIGTERM; 1 when the stack cannot start."""
    survive_closed_output()
    args = dev_parser().parse_args(argv)
    # Only ``dev`` runs the server (and imports structlog): ``local`` stays free of both.
    from flomation.local.dev import serve
    from flomation.local.stack import StackError
    from flomation.runner.logging import configure_logging

    # The embedded server's own info lines would drown the runner's; keep its warnings.
    configure_logging(level="warning", stream=sys.stderr)
    home = args.home.resolve()
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return asyncio.run(serve(home, args.listen, args.slots))
    except StackError as exc:
        print(f"flomation-runner dev: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"flomation-runner dev: {home}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED


def _validate(path: Path, text: str, data: dict[str, Any] | None) -> bool:
    """Print the flow's problems (docs/flows.md); False when it has errors."""
    from flomation.executor.validation import format_problem, validate_flow

    problems = validate_flow(text, trigger_data_keys=list(data or {}))
    for problem in problems:
        print(format_problem(str(path), problem), file=sys.stderr)
    if any(problem.severity == "error" for problem in problems):
        print(
            f"flomation-runner local: {path} is not a valid flow; not running it "
            "(fix it, or run it anyway with --no-validate)",
            file=sys.stderr,
        )
        return False
    return True


def _local(args: argparse.Namespace) -> int:
    flow, text = load_flow_file(args.flow_file)
    data = parse_trigger_data(args.data, args.data_file)
    resume_data: Any = None
    if args.resume is not None:
        try:
            resume_data = json.loads(args.resume)
        except json.JSONDecodeError as exc:
            raise InputError(f"--resume: invalid JSON: {exc.msg}") from None
    entry = args.entry
    if entry is not None and entry not in {node["id"] for node in flow.get("nodes", [])}:
        raise InputError(f"--entry {entry!r}: no node with that id in {args.flow_file}")
    if not args.no_validate and not _validate(args.flow_file, text, data):
        return EXIT_BAD_INPUT
    from flomation.local.execute import LocalExecution

    run = LocalExecution(
        name=args.flow_file.name.removesuffix(".json").removesuffix(".flow"),
        flow=flow,
        data=data,
        entry=entry,
        resume=args.resume is not None,
        resume_data=resume_data,
    )
    with contextlib.ExitStack() as stack:
        if args.home is None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flomation-")))
        else:
            home = args.home.resolve()
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return asyncio.run(
            _run_flow(home, run, verbose=args.verbose, keep_home=args.home is not None)
        )


async def _run_flow(home: Path, run: LocalExecution, *, verbose: bool, keep_home: bool) -> int:
    from flomation.local.execute import run_local_execution
    from flomation.runner.workdir import WorkdirError

    progress = NodeProgress(sys.stderr, live=sys.stderr.isatty(), verbose=verbose)
    try:
        result = await run_local_execution(run, home, progress, dict(os.environ))
    except WorkdirError as exc:
        print(f"flomation-runner local: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(result.outputs, indent=2, sort_keys=True, ensure_ascii=False))
    kind = result.outcome.kind
    if kind is OutcomeKind.SUCCESS:
        soft = [event for event in progress.failures if event.get("status") == "failed"]
        if soft:
            progress.message(
                f"flow succeeded; {len(soft)} node(s) failed without stopping it: "
                + "; ".join(f"{e.get('id')}: {failure_reason(e)}" for e in soft)
            )
        else:
            progress.message("flow succeeded")
        return EXIT_SUCCESS
    if kind is OutcomeKind.SUSPENDED:
        progress.message("flow suspended; run again with --resume to continue it")
        return EXIT_SUSPENDED
    state = result.outcome.state
    reason = _failure_reason(state, progress)
    label = "cancelled" if kind is OutcomeKind.CANCEL else "failed"
    print(f"flomation-runner local: flow {label}: {reason}", file=sys.stderr)
    if keep_home:
        print(f"flomation-runner local: result and logs in {result.result_path}", file=sys.stderr)
    return EXIT_FAILED


def _failure_reason(state: dict[str, Any], progress: NodeProgress) -> str:
    for event in progress.failures:
        if event.get("error"):
            return f"node {event.get('id')} ({event.get('action')}) failed: {event['error']}"
    node_results = state.get("node_results")
    if isinstance(node_results, dict):
        for record in node_results.values():
            if isinstance(record, dict) and record.get("status") == "failed":
                return (
                    f"node {record.get('id')} ({record.get('action')}) failed: "
                    f"{failure_reason(record)}"
                )
    if state.get("error"):
        return str(state["error"])
    for record in reversed(progress.errors):
        node = f" (node {record['id']})" if isinstance(record.get("id"), str) else ""
        return f"{record['error']}{node}"
    if state.get("output"):
        return "the executor said: " + str(state["output"]).strip().splitlines()[-1]
    return "no reason recorded"
