"""The flow document (a ReactFlow graph, docs/flows.md §3): loading, validation and graph queries.

Only the fields the engine reads are kept. Node inputs stay mutable dictionaries because trigger
data (§11.1) and sub-flow parameters (§4.9) are injected into them.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ROUTING_ACTION",
    "ROUTING_AWAIT",
    "ROUTING_CONDITIONAL",
    "ROUTING_LOOP",
    "ROUTING_OUTPUT",
    "ROUTING_SWITCH",
    "ROUTING_TRIGGER",
    "Edge",
    "Flow",
    "FlowError",
    "Node",
    "inject_trigger_data",
    "load_flow",
    "parse_flow",
]

ROUTING_TRIGGER = 1
ROUTING_ACTION = 2
ROUTING_OUTPUT = 3
ROUTING_CONDITIONAL = 4
ROUTING_LOOP = 5
ROUTING_SWITCH = 6
ROUTING_AWAIT = 7

_TRIGGER_PREFIX = "trigger/"
_NOT_INJECTED = frozenset({"system_prompt", "__node_id", "__triggering_user_id"})


class FlowError(Exception):
    """The flow file cannot be read or is not a valid flow document."""


@dataclass(slots=True)
class Edge:
    """A directed edge; ``handle`` is the edge's ``sourceHandle`` (``""`` when absent)."""

    source: str
    target: str
    handle: str


@dataclass(slots=True)
class Node:
    """A node as the engine sees it."""

    id: str
    type: str
    label: str
    has_data: bool
    routing_type: int
    inputs: list[dict[str, Any]]
    injected: set[str] = field(default_factory=set)
    config_name: str = ""
    """``data.config.name``: the name an AI tool call may use for this node (§4.13)."""

    @property
    def is_trigger(self) -> bool:
        """A node whose type or label starts with ``trigger/`` (§3.5)."""
        return self.type.startswith(_TRIGGER_PREFIX) or self.label.startswith(_TRIGGER_PREFIX)

    def is_action(self, action_id: str) -> bool:
        """True when the node's type or label is ``action_id``."""
        return action_id in (self.type, self.label)


class Flow:
    """Nodes in array order (first of each id), edges in array order, adjacency by node id."""

    def __init__(self, nodes: list[Node], edges: list[Edge]) -> None:
        self.nodes = nodes
        self.edges = edges
        self.by_id: dict[str, Node] = {node.id: node for node in nodes}
        self.incoming: dict[str, list[Edge]] = {}
        self.outgoing: dict[str, list[Edge]] = {}
        for edge in edges:
            self.incoming.setdefault(edge.target, []).append(edge)
            self.outgoing.setdefault(edge.source, []).append(edge)

    def forward_reachable(self, starts: Iterable[str]) -> set[str]:
        """The starts plus every node reachable from them along edges (any handle)."""
        seen: set[str] = set()
        queue = deque(starts)
        while queue:
            node_id = queue.popleft()
            if node_id in seen:
                continue
            seen.add(node_id)
            queue.extend(edge.target for edge in self.outgoing.get(node_id, ()))
        return seen

    def first(self, action_id: str) -> Node | None:
        """The first node (array order) whose type or label is ``action_id``."""
        return next((node for node in self.nodes if node.is_action(action_id)), None)


def load_flow(path: Path) -> Flow:
    """Read and parse a flow file; FlowError names the problem."""
    try:
        text = path.read_bytes()
    except OSError as error:
        raise FlowError(f"unable to read flow file {path}: {error.strerror or error}") from error
    return parse_flow(text)


def parse_flow(text: bytes | str) -> Flow:
    """Parse a flow document; FlowError names the offending node or edge."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise FlowError(f"flow file is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise FlowError("flow document must be a JSON object")
    nodes: list[Node] = []
    seen: set[str] = set()
    for index, raw in enumerate(_array(document, "nodes")):
        node = _parse_node(raw, index)
        if node.id not in seen:
            seen.add(node.id)
            nodes.append(node)
    edges = [_parse_edge(raw, index) for index, raw in enumerate(_array(document, "edges"))]
    return Flow(nodes, edges)


def _array(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise FlowError(f"flow field {key!r} must be an array")
    return value


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _parse_node(raw: Any, index: int) -> Node:
    if not isinstance(raw, dict):
        raise FlowError(f"nodes[{index}] must be an object")
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not node_id:
        raise FlowError(f"nodes[{index}].id must be a non-empty string")
    data = raw.get("data")
    if data is not None and not isinstance(data, dict):
        raise FlowError(f"node {node_id!r}: data must be an object or null")
    config = (data or {}).get("config") or {}
    if not isinstance(config, dict):
        raise FlowError(f"node {node_id!r}: data.config must be an object")
    routing = config.get("type")
    routing_type = routing if isinstance(routing, int) and not isinstance(routing, bool) else 0
    raw_inputs = config.get("inputs") or []
    if not isinstance(raw_inputs, list):
        raise FlowError(f"node {node_id!r}: data.config.inputs must be an array")
    inputs: list[dict[str, Any]] = []
    for position, connection in enumerate(raw_inputs):
        if not isinstance(connection, dict) or not isinstance(connection.get("name"), str):
            raise FlowError(
                f"node {node_id!r}: data.config.inputs[{position}] must be an object with a "
                "string name"
            )
        inputs.append(dict(connection))
    return Node(
        id=node_id,
        type=_string(raw.get("type")),
        label=_string((data or {}).get("label")),
        has_data=data is not None,
        routing_type=routing_type,
        inputs=inputs,
        config_name=_string(config.get("name")),
    )


def _parse_edge(raw: Any, index: int) -> Edge:
    if not isinstance(raw, dict):
        raise FlowError(f"edges[{index}] must be an object")
    source, target = raw.get("source"), raw.get("target")
    if not isinstance(source, str) or not isinstance(target, str):
        raise FlowError(f"edges[{index}] must have string source and target")
    return Edge(source=source, target=target, handle=_string(raw.get("sourceHandle")))


def _target_trigger(flow: Flow, data: dict[str, Any]) -> Node | None:
    """The trigger that receives the data: by ``__node_id``, by channel type, else the first."""
    triggers = [node for node in flow.nodes if node.is_trigger]
    node_id = data.get("__node_id")
    channel = data.get("channel_type")
    candidates: list[Any] = []
    if isinstance(node_id, str):
        candidates.append(lambda node: node.id == node_id)
    if isinstance(channel, str) and channel:
        candidates.append(lambda node: node.label == _TRIGGER_PREFIX + channel)
        family = channel.split("_", 1)[0]
        candidates.append(lambda node: node.label == _TRIGGER_PREFIX + family)
    for matches in candidates:
        found = next((node for node in triggers if matches(node)), None)
        if found is not None:
            return found
    return triggers[0] if triggers else None


def inject_trigger_data(flow: Flow, data: dict[str, Any]) -> tuple[Node, list[str]] | None:
    """Inject trigger data into the target trigger's inputs (§11.1); its node and the keys."""
    node = _target_trigger(flow, data)
    if node is None:
        return None
    keys = sorted(key for key in data if key not in _NOT_INJECTED)
    for key in data:
        if key in _NOT_INJECTED:
            continue
        existing = next((item for item in node.inputs if item.get("name") == key), None)
        if existing is None:
            node.inputs.append({"name": key, "type": "string", "value": data[key]})
        else:
            existing["value"] = data[key]
        node.injected.add(key)
    return node, keys
