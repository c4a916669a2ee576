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
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flomation.local.flowfile import InputError, load_flow_file, parse_trigger_data
from flomation.local.progress import NodeProgress, failure_reason
from flomation.runner.outcome import OutcomeKind

if TYPE_CHECKING:
    from flomation.local.execute import LocalExecution

__all__ = ["main"]

EXIT_SUCCESS, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_SUSPENDED = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flomation-runner", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run one flow end to end on this machine")
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
    dev = commands.add_parser("dev", help="keep a local server and runner up")
    dev.add_argument("--listen", default="127.0.0.1:8888", help="server address (HOST:PORT)")
    dev.add_argument("--slots", type=int, default=4, help="concurrent executions")
    dev.add_argument("--home", type=Path, default=Path(".flomation/dev"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``local`` and ``dev`` commands."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "dev":
            _quiet_server_logs()
            home = args.home.resolve()
            home.mkdir(parents=True, exist_ok=True)
            return asyncio.run(_dev(home, args.listen, args.slots))
        return _local(args)
    except InputError as exc:
        print(f"flomation-runner local: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def _quiet_server_logs() -> None:
    """The embedded server's own info lines would drown the runner's; keep its warnings."""
    import structlog  # only ``dev`` runs the server: ``local`` stays free of this import

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


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
            home.mkdir(parents=True, exist_ok=True)
        return asyncio.run(_run_flow(home, run, verbose=args.verbose))


async def _run_flow(home: Path, run: LocalExecution, *, verbose: bool) -> int:
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
    if state.get("output"):
        return "the executor said: " + str(state["output"]).strip().splitlines()[-1]
    return "no reason recorded"


async def _dev(home: Path, listen: str, slots: int) -> int:
    from flomation.local.stack import local_stack

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with local_stack(
        home, once=False, slots=slots, listen=listen, runner_output=sys.stderr
    ) as stack:
        print(f"server:      {stack.url}")
        print(f"admin token: {stack.admin_token}")
        print(f"queue id:    {stack.queue_id}")
        print(f"data in:     {home}")
        print("submit flows with the admin API, e.g.:")
        print(
            f"  curl -H 'Authorization: Bearer {stack.admin_token}' -d @flow.json "
            f"{stack.url}/api/v1/flo"
        )
        print("Ctrl-C stops the runner (it drains) and the server.", flush=True)
        runner_exit = asyncio.ensure_future(stack.runner.wait())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({runner_exit, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (runner_exit, stopped):
            task.cancel()
    return EXIT_SUCCESS
