"""Loops (docs/flows.md §4.8) and sub-flows (§4.9): the two constructs that run a region of the
flow again, after the engine forgets what the region's nodes did.

``run_loop`` and ``run_subflow`` drive them through the engine (``RegionHost``); ``loop_body``,
``iteration_limit`` and ``subflow_begin`` are pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from flomation.executor.actions.base import Outputs
from flomation.executor.flow import Flow, Node
from flomation.executor.result import ExecutionError

__all__ = [
    "RegionHost",
    "iteration_limit",
    "loop_body",
    "run_loop",
    "run_subflow",
    "subflow_begin",
]

_DEFAULT_MAX_ITERATIONS = 1000
_MAX_SUBFLOW_DEPTH = 10
_SUBFLOW_RESERVED = frozenset({"__subflow_name", "tool_result", "success", "error"})


class RegionHost(Protocol):
    """What loops and sub-flows need of the engine (``executor/engine.py``)."""

    flow: Flow
    variables: dict[str, Any]
    cache: dict[str, Outputs]
    reachable: set[str]
    subflow_depth: int

    def execute_node(self, node_id: str) -> Outputs | None:
        """Run a node (if needed) and walk its children (§4.3); its outputs, or None."""

    def rerun_node(self, node_id: str) -> Outputs | None:
        """Run a node's action again (new events); its outputs, or None."""

    def forget(self, node_ids: Iterable[str]) -> None:
        """Drop the nodes' cached outputs and traversed marks."""


def loop_body(flow: Flow, node: Node) -> list[str]:
    """The targets of a loop node's ``loop`` edges, each once, in edge order."""
    return list(
        dict.fromkeys(
            edge.target for edge in flow.outgoing.get(node.id, ()) if edge.handle == "loop"
        )
    )


def iteration_limit(outputs: Mapping[str, Any]) -> int:
    """``max_iterations`` when it is an integer above 0, else 1000."""
    limit = outputs.get("max_iterations")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        return _DEFAULT_MAX_ITERATIONS
    return limit


def run_loop(host: RegionHost, node: Node) -> None:
    """Run a loop node's body while its ``result`` is true (§4.8); its cached outputs get
    ``current_index`` and ``iterations``."""
    body = loop_body(host.flow, node)
    region = host.flow.forward_reachable(body) - {node.id}
    outputs = host.cache[node.id]
    completed = 0
    for index in range(iteration_limit(outputs)):
        if index > 0:
            host.forget(region)
            rerun = host.rerun_node(node.id)
            if rerun is None:
                break
            outputs = rerun
        host.variables["loop.index"] = index
        host.variables["loop.iteration"] = index + 1
        outputs["current_index"] = index
        outputs["iterations"] = index
        if outputs.get("result") is not True:
            break
        for child_id in body:
            try:
                host.execute_node(child_id)
            except ExecutionError:
                outputs["iterations"] = index + 1
                raise
        completed += 1
        host.forget(body)
    outputs["iterations"] = completed


def subflow_begin(flow: Flow, name: str) -> Node | None:
    """The first ``subflow/begin`` node (array order) whose ``name`` input, trimmed, is ``name``."""
    for candidate in flow.nodes:
        if not candidate.is_action("subflow/begin"):
            continue
        configured = next(
            (item.get("value") for item in candidate.inputs if item["name"] == "name"), None
        )
        if isinstance(configured, str) and configured.strip() == name:
            return candidate
    return None


def run_subflow(host: RegionHost, invoke: Node, outputs: Outputs) -> None:
    """Run the sub-flow a ``subflow/invoke`` node names with its parameters (§4.9); its result
    is merged into ``outputs``, which become the invoke node's cached outputs."""
    raw_name = outputs.get("__subflow_name")
    name = raw_name.strip() if isinstance(raw_name, str) else ""
    begin = subflow_begin(host.flow, name)
    if begin is None:
        raise ExecutionError(f'sub-flow "{name}" not found', invoke.id)
    if host.subflow_depth >= _MAX_SUBFLOW_DEPTH:
        raise ExecutionError(
            f"sub-flow recursion depth exceeded (max {_MAX_SUBFLOW_DEPTH})", invoke.id
        )
    region = host.flow.forward_reachable([begin.id])
    host.forget(region)
    host.reachable |= region
    for key, value in outputs.items():
        if key in _SUBFLOW_RESERVED:
            continue
        existing = next((item for item in begin.inputs if item["name"] == key), None)
        if existing is None:
            begin.inputs.append({"name": key, "type": "string", "value": value})
        else:
            existing["value"] = value
    host.subflow_depth += 1
    try:
        host.execute_node(begin.id)
    finally:
        host.subflow_depth -= 1
    end = next(
        (
            candidate
            for candidate in host.flow.nodes
            if candidate.is_action("subflow/end")
            and candidate.id in region
            and candidate.id in host.cache
        ),
        None,
    )
    result = host.cache.get(end.id if end is not None else begin.id) or {}
    outputs.update(result)
    outputs["tool_result"] = result.get("tool_result", "")
    outputs["success"] = True
    outputs["error"] = ""
    host.cache[invoke.id] = outputs
