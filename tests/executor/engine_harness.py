"""Builds flow documents and runs the real engine in-process, capturing events and log lines.

Events and logs go through real file descriptors (files under ``tmp_path``), exactly as the
executor writes them to stdout/stderr, and are parsed back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flomation.executor.checkpoint import Checkpoint
from flomation.executor.context import ExecutionContext
from flomation.executor.deep_stack import run_with_deep_stack
from flomation.executor.engine import Engine
from flomation.executor.events import EVENT_PREFIX, EventSink, Logger
from flomation.executor.flow import inject_trigger_data, parse_flow
from flomation.executor.registry import Registry
from flomation.executor.result import ExecutionResult
from flomation.executor.substitution import EnvironmentResolver

__all__ = [
    "Run",
    "edge",
    "flow_document",
    "node",
    "run_cli",
    "run_engine",
    "value",
    "written_state",
]


def value(name: str, raw: Any, kind: str = "string") -> dict[str, Any]:
    """One configured input ``{name, type, value}``."""
    return {"name": name, "type": kind, "value": raw}


def node(
    node_id: str,
    action: str,
    routing: int = 2,
    inputs: Iterable[dict[str, Any]] = (),
    label: str | None = None,
) -> dict[str, Any]:
    """A node as the editor writes it (``type`` and ``data.label`` hold the action id)."""
    return {
        "id": node_id,
        "type": action,
        "data": {
            "id": node_id,
            "label": action if label is None else label,
            "config": {"type": routing, "inputs": list(inputs), "outputs": []},
        },
    }


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    """An edge; ``handle`` becomes ``sourceHandle``."""
    document: dict[str, Any] = {"id": f"{source}-{target}", "source": source, "target": target}
    if handle is not None:
        document["sourceHandle"] = handle
    return document


def flow_document(nodes: Sequence[dict[str, Any]], edges: Sequence[dict[str, Any]]) -> str:
    """The JSON text of a flow."""
    return json.dumps({"nodes": list(nodes), "edges": list(edges)})


@dataclass
class Run:
    """What one engine run produced."""

    result: ExecutionResult
    events: list[dict[str, Any]]
    logs: list[dict[str, Any]]
    engine: Engine

    def pairs(self) -> list[tuple[str, str]]:
        """``(node id, status)`` of every event, in order."""
        return [(event["id"], event["status"]) for event in self.events]

    def count(self, node_id: str, status: str) -> int:
        """How many events node ``node_id`` had with ``status``."""
        return self.pairs().count((node_id, status))

    def event(self, node_id: str, status: str) -> dict[str, Any]:
        """The first event of ``node_id`` with ``status``."""
        return next(e for e in self.events if e["id"] == node_id and e["status"] == status)

    def messages(self) -> list[str]:
        """The ``msg`` of every log line."""
        return [line["msg"] for line in self.logs]


def run_engine(
    tmp_path: Path,
    document: str,
    *,
    trigger_data: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    checkpoint: Checkpoint | None = None,
    cancel_event: threading.Event | None = None,
    environment: EnvironmentResolver | None = None,
    registry: Registry | None = None,
    entry: str = "",
) -> Run:
    """Parse ``document`` and run it once with the real engine (on its deep-stack thread)."""
    flow = parse_flow(document)
    if trigger_data is not None:
        inject_trigger_data(flow, trigger_data)
    events_path = tmp_path / f"events-{os.urandom(4).hex()}.txt"
    logs_path = tmp_path / f"logs-{os.urandom(4).hex()}.txt"
    events_fd = os.open(events_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    logs_fd = os.open(logs_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        engine = Engine(
            flow,
            registry=registry or Registry(),
            logger=Logger(json_format=True, level="debug", fd=logs_fd),
            events=EventSink(events_fd),
            cancel_event=cancel_event or threading.Event(),
            work_dir=tmp_path,
            context=ExecutionContext(context) if context is not None else None,
            environment=environment,
            entry=entry,
        )
        if checkpoint is not None:
            engine.restore(checkpoint)
        result = run_with_deep_stack(engine.run)
    finally:
        os.close(events_fd)
        os.close(logs_fd)
    events = [
        json.loads(line[len(EVENT_PREFIX) :])
        for line in events_path.read_text(encoding="utf-8").splitlines()
    ]
    logs = [json.loads(line) for line in logs_path.read_text(encoding="utf-8").splitlines()]
    return Run(result=result, events=events, logs=logs, engine=engine)


def run_cli(
    arguments: Sequence[str],
    cwd: Path,
    *,
    timeout_s: float = 30,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m flomation_executor`` as the runner does, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "flomation_executor", *arguments],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def written_state(cwd: Path) -> dict[str, Any]:
    """The ``state.json`` an executor run by :func:`run_cli` in ``cwd`` wrote."""
    state: dict[str, Any] = json.loads((cwd / "state.json").read_text(encoding="utf-8"))
    return state
