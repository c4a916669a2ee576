"""The engine's routing decisions (docs/flows.md §4.2, §4.6, §4.7) as functions of the flow and
node outputs: where a run starts, what is reachable, which children a node has, where a switch
routes and which nodes sit on an unmatched branch.

Nothing here runs a node. The one decision that may need a node run first (a gating node that has
not run yet, §4.7) asks the engine for its outputs through ``gate_outputs``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from flomation.executor.flow import (
    ROUTING_AWAIT,
    ROUTING_CONDITIONAL,
    ROUTING_LOOP,
    ROUTING_SWITCH,
    Flow,
    Node,
)
from flomation.executor.result import ExecutionError
from flomation.executor.tool_loop import ai_targets

__all__ = [
    "GATING_TYPES",
    "GateOutputs",
    "child_targets",
    "entry_node",
    "may_run",
    "on_unmatched_branch",
    "reachable_nodes",
    "switch_route",
]

GATING_TYPES = frozenset({ROUTING_CONDITIONAL, ROUTING_SWITCH, ROUTING_AWAIT})
"""Routing types whose outputs choose which outgoing handles are taken (types 4, 6, 7)."""

GateOutputs = Callable[[Node], Mapping[str, Any] | None]
"""A gating node's outputs, the engine running it first when it has not run yet."""


def entry_node(flow: Flow, requested: str, checkpoint_entry: str) -> Node | None:
    """The node a run starts from (§3.6): the requested one, else a resumed checkpoint's entry,
    else the first trigger (array order); a requested node that is not in the flow falls back to
    the first trigger, not to the checkpoint's entry."""
    if requested:
        node = flow.by_id.get(requested)
        if node is not None:
            return node
    elif checkpoint_entry in flow.by_id:
        return flow.by_id[checkpoint_entry]
    return next((node for node in flow.nodes if node.type.startswith("trigger/")), None)


def reachable_nodes(flow: Flow, entry_id: str) -> set[str]:
    """Everything forward from the entry plus its rootless input providers (§4.2).

    A provider is the source of an edge into the set that no trigger reaches; it joins, and so
    do the providers of providers, until nothing changes.
    """
    reachable = flow.forward_reachable([entry_id])
    from_triggers = flow.forward_reachable(node.id for node in flow.nodes if node.is_trigger)
    changed = True
    while changed:
        changed = False
        for edge in flow.edges:
            if (
                edge.target in reachable
                and edge.source not in reachable
                and edge.source not in from_triggers
                and edge.source in flow.by_id
            ):
                reachable.add(edge.source)
                changed = True
    return reachable


def may_run(node: Node, entry_id: str, reachable: Collection[str]) -> bool:
    """Whether a node may run as a parent or a gate: it is reachable and is no trigger other
    than the entry (§4.4 step 4, §4.7)."""
    return node.id in reachable and not (node.is_trigger and node.id != entry_id)


def switch_route(flow: Flow, node_id: str, outputs: Mapping[str, Any]) -> str:
    """The handle a switch routes to: its matched case if that has edges, else ``default``."""
    matched = outputs.get("matched_case")
    if (
        isinstance(matched, str)
        and matched
        and any(edge.handle == matched for edge in flow.outgoing.get(node_id, ()))
    ):
        return matched
    return "default"


def child_targets(flow: Flow, node: Node, outputs: Mapping[str, Any], *, looped: bool) -> list[str]:
    """The targets of the edges §4.6 takes from a node with these outputs, in edge order.

    ``looped``: the node's tool loop ran (§4.13). A conditional whose ``result`` is not a
    boolean is an ExecutionError. Which targets the walk visits (not triggers, ``subflow/begin``
    nodes or nodes already walked, each once) the engine decides.
    """
    if node.is_action("subflow/end"):
        return []
    edges = flow.outgoing.get(node.id, ())
    routing = node.routing_type
    if routing == ROUTING_CONDITIONAL:
        result = outputs.get("result")
        if not isinstance(result, bool):
            raise ExecutionError(
                f"conditional node {node.id} did not return a boolean result", node.id
            )
        handle = "true-branch" if result else "false-branch"
        targets = [edge.target for edge in edges if edge.handle == handle]
    elif routing == ROUTING_SWITCH:
        handle = switch_route(flow, node.id, outputs)
        targets = [edge.target for edge in edges if edge.handle == handle]
    elif routing == ROUTING_AWAIT:
        matched = outputs.get("matched_case")
        targets = [edge.target for edge in edges if edge.handle == matched]
    elif routing == ROUTING_LOOP:
        targets = [edge.target for edge in edges if edge.handle == "output"]
    else:
        routed = ai_targets([(edge.handle, edge.target) for edge in edges], outputs, looped=looped)
        targets = [edge.target for edge in edges] if routed is None else routed
    return targets


def on_unmatched_branch(
    flow: Flow,
    node_id: str,
    gate_outputs: GateOutputs,
    memo: dict[str, bool],
    seen: set[str] | None = None,
) -> bool:
    """Whether every incoming edge of the node is unmatched (§4.7); a node without any is not.

    An edge is unmatched when its source is a gating node whose outputs do not take the edge's
    handle, or when its source is itself on an unmatched branch (``seen``: the nodes this
    question has passed, so a cycle ends it). ``memo`` keeps each answer until the engine clears
    it (a gate ran, or a region was forgotten).
    """
    known = memo.get(node_id)
    if known is not None:
        return known
    edges = flow.incoming.get(node_id)
    if not edges:
        return False
    if seen is None:
        seen = set()
    elif node_id in seen:
        return False
    seen.add(node_id)
    result = all(
        _edge_unmatched(flow, edge.source, edge.handle, gate_outputs, memo, seen) for edge in edges
    )
    memo[node_id] = result
    return result


def _edge_unmatched(
    flow: Flow,
    source_id: str,
    handle: str,
    gate_outputs: GateOutputs,
    memo: dict[str, bool],
    seen: set[str],
) -> bool:
    source = flow.by_id.get(source_id)
    if source is None:
        return False
    if source.routing_type in GATING_TYPES and handle:
        outputs = gate_outputs(source) or {}
        if source.routing_type == ROUTING_CONDITIONAL:
            result = outputs.get("result")
            if (handle == "true-branch" and result is not True) or (
                handle == "false-branch" and result is True
            ):
                return True
        elif source.routing_type == ROUTING_SWITCH:
            if handle != switch_route(flow, source_id, outputs):
                return True
        elif handle != outputs.get("matched_case"):
            return True
    return on_unmatched_branch(flow, source_id, gate_outputs, memo, seen)
