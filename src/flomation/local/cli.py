"""``flomation-runner local`` and ``flomation-runner dev``.

Exit codes of ``local``: 0 the flow succeeded, 1 it failed (or was cancelled or timed out),
2 bad input (flow file, trigger data, options), 3 it suspended and ``--resume`` was not given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from flomation.local.flowfile import InputError, load_flow_file, parse_trigger_data
from flomation.local.progress import NodeProgress

if TYPE_CHECKING:
    from flomation.local.stack import LocalStack

__all__ = ["main"]

EXIT_SUCCESS, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_SUSPENDED = 0, 1, 2, 3
_LOG_TAIL_LINES = 20


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
    local.add_argument("--home", type=Path, help="keep the server database and work dirs here")
    dev = commands.add_parser("dev", help="keep a local server and runner up")
    dev.add_argument("--listen", default="127.0.0.1:8888", help="server address (HOST:PORT)")
    dev.add_argument("--slots", type=int, default=4, help="concurrent executions")
    dev.add_argument("--home", type=Path, default=Path(".flomation/dev"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``local`` and ``dev`` commands."""
    args = _parser().parse_args(argv)
    # The embedded server's own info lines would drown the node events; keep its warnings.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    try:
        if args.command == "dev":
            home = args.home.resolve()
            home.mkdir(parents=True, exist_ok=True)
            return asyncio.run(_dev(home, args.listen, args.slots))
        return _local(args)
    except InputError as exc:
        print(f"flomation-runner local: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def _local(args: argparse.Namespace) -> int:
    flow = load_flow_file(args.flow_file)
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
    with contextlib.ExitStack() as stack:
        if args.home is None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flomation-")))
        else:
            home = args.home.resolve()
            home.mkdir(parents=True, exist_ok=True)
        return asyncio.run(
            _run_flow(
                home,
                name=args.flow_file.name.removesuffix(".json").removesuffix(".flow"),
                flow=flow,
                data=data,
                entry=entry,
                resume=args.resume is not None,
                resume_data=resume_data,
            )
        )


async def _run_flow(
    home: Path,
    *,
    name: str,
    flow: dict[str, Any],
    data: dict[str, Any] | None,
    entry: str | None,
    resume: bool,
    resume_data: Any,
) -> int:
    from flomation.local.stack import local_stack  # the server stack: only once input is valid

    progress = NodeProgress(sys.stderr, live=sys.stderr.isatty())
    async with local_stack(home, once=False) as stack:
        flo = await stack.admin.create_flo(name, flow, queue_id=stack.queue_id)
        execution_id = await stack.admin.execute(flo["id"], data=data, entry_node_id=entry)
        progress.message(f"execution {execution_id} of {name} queued")
        completion = await _follow(stack, execution_id, progress)
        while completion == "suspended" and resume:
            progress.message("flow suspended: resuming it (--resume)")
            await stack.admin.resume(execution_id, resume_data)
            completion = await _follow(stack, execution_id, progress)
        if completion is None:
            _print_runner_log(stack)
            print(
                "flomation-runner local: the runner stopped before the flow finished",
                file=sys.stderr,
            )
            return EXIT_FAILED
        execution = await stack.admin.get_execution(execution_id)
    return _report(execution, progress)


async def _follow(stack: LocalStack, execution_id: str, progress: NodeProgress) -> str | None:
    """Print the execution's events until it completes or suspends; None if the runner died."""

    async def events() -> str | None:
        last_id: int | None = None
        async for event in stack.admin.stream(execution_id):
            if event.id is not None and event.id.isdigit():
                last_id = int(event.id)
            if event.event == "node":
                progress.node_event(event.data)
            elif event.event == "complete":
                return event.data
        del last_id
        return None

    stream = asyncio.ensure_future(events())
    runner_exit = asyncio.ensure_future(stack.runner.wait())
    done, _ = await asyncio.wait({stream, runner_exit}, return_when=asyncio.FIRST_COMPLETED)
    if stream in done:
        runner_exit.cancel()
        return stream.result()
    stream.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stream
    return None


def _report(execution: dict[str, Any], progress: NodeProgress) -> int:
    completion = execution.get("completion_status")
    result = execution.get("result") if isinstance(execution.get("result"), dict) else {}
    assert isinstance(result, dict)
    outputs = result.get("outputs")
    print(json.dumps(outputs, indent=2, sort_keys=True, ensure_ascii=False))
    if completion == "success":
        progress.message("flow succeeded")
        return EXIT_SUCCESS
    if completion == "suspended":
        progress.message("flow suspended; run again with --resume to continue it")
        return EXIT_SUSPENDED
    reason = _failure_reason(execution, result, progress)
    print(f"flomation-runner local: flow {completion}: {reason}", file=sys.stderr)
    return EXIT_FAILED


def _failure_reason(
    execution: dict[str, Any], result: dict[str, Any], progress: NodeProgress
) -> str:
    for event in progress.failures:
        if event.get("error"):
            return f"node {event.get('id')} ({event.get('action')}) failed: {event['error']}"
    node_results = result.get("node_results")
    if isinstance(node_results, dict):
        for record in node_results.values():
            if isinstance(record, dict) and record.get("status") == "failed":
                return (
                    f"node {record.get('id')} ({record.get('action')}) failed: "
                    f"{record.get('error') or 'no error text'}"
                )
    if result.get("error"):
        return str(result["error"])
    return str(execution.get("completion_reason") or "see the execution's logs")


def _print_runner_log(stack: LocalStack) -> None:
    with contextlib.suppress(OSError):
        lines = stack.runner_log.read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines[-_LOG_TAIL_LINES:]:
            print(f"runner: {line}", file=sys.stderr)


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
