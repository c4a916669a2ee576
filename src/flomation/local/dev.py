"""``flomation-runner dev``: a local server and runner kept up, and a banner to try them with.

The banner's commands work when pasted into bash: they create a small example flow (written to
``<home>/example-flo.json`` on every start), execute it and stream its events until it completes.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from flomation.local.stack import LocalStack, local_stack
from flomation.server.dashboard import sign_in_url

__all__ = ["EXAMPLE_FLOW_FILE", "banner", "example_flow", "serve"]

EXAMPLE_FLOW_FILE = "example-flo.json"


def _node(node_id: str, action: str, routing_type: int, inputs: list[dict[str, Any]]) -> Any:
    config = {"id": action, "name": None, "type": routing_type, "inputs": inputs, "outputs": []}
    return {
        "id": node_id,
        "type": action,
        "data": {"id": node_id, "label": action, "config": config},
    }


def example_flow(queue_id: str) -> dict[str, Any]:
    """The admin API body creating the example flow: a manual trigger and one flow output."""
    greeting = [
        {"name": "name", "type": "string", "value": "greeting"},
        {"name": "value", "type": "string", "value": "Hello from flomation-runner dev"},
    ]
    return {
        "name": "example",
        "queue_id": queue_id,
        "data": {
            "nodes": [
                _node("start", "trigger/manual", 1, []),
                _node("greet", "output/set", 3, greeting),
            ],
            "edges": [{"id": "start-greet", "source": "start", "target": "greet"}],
        },
    }


def banner(stack: LocalStack, home: Path, now_s: float) -> str:
    """What ``dev`` prints once the stack is up: where things are, and commands to paste.

    The dashboard line is a one-time sign-in link, valid 15 minutes (docs/dashboard.md); later,
    sign in at ``/signin`` with the admin token.
    """
    flow_file = shlex.quote(str(home / EXAMPLE_FLOW_FILE))
    auth = '-H "Authorization: Bearer $FLOMATION_TOKEN"'
    read_id = "python3 -c 'import json, sys; print(json.load(sys.stdin)[\"id\"])'"
    return "\n".join(
        [
            f"server:      {stack.url}",
            f"dashboard:   {sign_in_url(stack.url, stack.admin_token, now_s)}",
            f"admin token: {stack.admin_token}",
            f"queue id:    {stack.queue_id}",
            f"data in:     {home} (queue, flows, token and runner identity are kept here)",
            "",
            "Try it in bash: create the example flow, execute it, stream its events:",
            f"  export FLOMATION_URL={stack.url} FLOMATION_TOKEN={stack.admin_token}",
            f'  flo=$(curl -sS {auth} -d @{flow_file} "$FLOMATION_URL/api/v1/flo" | {read_id})',
            f'  execution=$(curl -sS {auth} -X POST "$FLOMATION_URL/api/v1/flo/$flo/execute" '
            f"| {read_id})",
            f'  curl -sS -N {auth} "$FLOMATION_URL/api/v1/execution/$execution/stream"',
            "",
            "Ctrl-C stops the runner (it drains) and the server.",
            "",
        ]
    )


async def serve(home: Path, listen: str, slots: int) -> int:
    """Run the stack until SIGINT/SIGTERM or until the runner exits; 0 after a clean stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with local_stack(
        home, once=False, slots=slots, listen=listen, runner_output=sys.stderr
    ) as stack:
        example = home / EXAMPLE_FLOW_FILE
        example.write_text(json.dumps(example_flow(stack.queue_id), indent=2) + "\n")
        sys.stdout.write(banner(stack, home, time.time()))
        sys.stdout.flush()
        runner_exit = asyncio.ensure_future(stack.runner.wait())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({runner_exit, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (runner_exit, stopped):
            task.cancel()
    return 0
