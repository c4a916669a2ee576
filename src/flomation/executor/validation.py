"""Static checks of a flow file against the node catalogue: the traps docs/flows.md describes.

Pure functions: text and catalogue in, problems out. ``flomation-runner validate`` and ``local``
print them, the server can show them before a flow runs. The executor itself never refuses a flow
for these (the flows the platform sends run as they do upstream); validation is the front door for
people writing flows. Each check cites the section of docs/flows.md that explains the rule.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flomation.executor.accessors import GO_BOOL_FALSE, GO_BOOL_TRUE
from flomation.executor.catalogue import (
    ROUTING_NAMES,
    NodeType,
    load_catalogue,
    load_upstream,
    routing_handles,
)
from flomation.executor.context import FLOW_FIELDS
from flomation.executor.flow import (
    ROUTING_AWAIT,
    ROUTING_CONDITIONAL,
    ROUTING_LOOP,
    ROUTING_SWITCH,
    ROUTING_TRIGGER,
)

__all__ = ["Problem", "Severity", "format_problem", "validate_flow", "validate_flow_text"]

Severity = Literal["error", "warning"]

_TRIGGER_PREFIX = "trigger/"
_TOKEN = re.compile(r"\$\{([^{}]*)\}")
_HAS_TEMPLATE = re.compile(r"\$\{[^{}]*\}")
_PASS_THROUGH = frozenset({ROUTING_CONDITIONAL, ROUTING_LOOP, ROUTING_SWITCH, ROUTING_AWAIT})
_RUNTIME_NAMESPACES = ("env.", "secret.", "secrets.", "credentials.", "user.")
_LOOP_VARIABLES = frozenset({"loop.index", "loop.iteration"})
_NUMBER = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*")
_CASE_HANDLE = re.compile(r"case_([0-9]+)")
# Handles that only mean something on a gating or loop node (docs/flows.md "Edges and handles").
_ROUTING_ONLY_HANDLES = frozenset({"true-branch", "false-branch", "loop", "default"})
_BOOLEAN_WORDS = frozenset({"yes", "no", "on", "off"})
_TRAP_HINTS: Mapping[int, str] = {
    ROUTING_CONDITIONAL: "; without it every outgoing edge is followed and both branches run",
    ROUTING_TRIGGER: "; without it the trigger data is not passed on to the next nodes",
    ROUTING_LOOP: "; without it the body runs once and the loop never repeats",
    ROUTING_SWITCH: "; without it every case runs",
}


@dataclass(frozen=True)
class Problem:
    """One finding: an error (the flow would not run as written) or a warning."""

    severity: Severity
    message: str
    node_id: str | None = None
    line: int | None = None
    column: int | None = None


def format_problem(path: str, problem: Problem) -> str:
    """``FILE[:LINE:COL]: SEVERITY: [node 'ID': ]MESSAGE`` — one line per problem."""
    where = path if problem.line is None else f"{path}:{problem.line}:{problem.column}"
    node = "" if problem.node_id is None else f"node {problem.node_id!r}: "
    return f"{where}: {problem.severity}: {node}{problem.message}"


@dataclass
class _Node:
    id: str
    index: int
    type_id: str
    node_type: NodeType | None
    config_type: Any
    inputs: list[dict[str, Any]]


class _Any:
    """Marker: a node whose output keys cannot be known before it runs."""


_ANY = _Any()


class _Checker:
    def __init__(
        self,
        catalogue: Mapping[str, NodeType],
        upstream: Collection[str],
        trigger_data_keys: Collection[str] | None,
    ) -> None:
        self._catalogue = catalogue
        self._upstream = upstream
        self._trigger_data_keys = trigger_data_keys
        self.problems: list[Problem] = []
        self.nodes: dict[str, _Node] = {}
        self.parents: dict[str, list[str]] = {}
        self._entry: str | None = None

    def error(self, message: str, node_id: str | None = None) -> None:
        self.problems.append(Problem("error", message, node_id))

    def warning(self, message: str, node_id: str | None = None) -> None:
        self.problems.append(Problem("warning", message, node_id))

    # ------------------------------------------------------------------ nodes

    def node_type(
        self, raw: Mapping[str, Any], data: Mapping[str, Any]
    ) -> tuple[str, NodeType | None]:
        """The node's type id and its catalogue entry, resolved as the executor does (type, then
        label; any ``trigger/...`` id runs as ``trigger/webhook``)."""
        type_id, label = _text(raw.get("type")), _text(data.get("label"))
        for candidate in (type_id, label):
            if candidate in self._catalogue:
                return candidate, self._catalogue[candidate]
        for candidate in (type_id, label):
            if candidate.startswith(_TRIGGER_PREFIX) and "trigger/webhook" in self._catalogue:
                return candidate, self._catalogue["trigger/webhook"]
        return type_id or label, None

    def check_nodes(self, nodes: list[Any]) -> None:
        first_index: dict[str, int] = {}
        for index, raw in enumerate(nodes):
            if not isinstance(raw, dict):
                self.error(f"nodes[{index}] is not an object")
                continue
            node_id = raw.get("id")
            if not isinstance(node_id, str) or not node_id:
                self.error(f"nodes[{index}] has no id (a non-empty string)")
                continue
            if node_id in first_index:
                self.error(
                    f"duplicate node id (nodes[{first_index[node_id]}] and nodes[{index}]); "
                    "the executor keeps the first and ignores the other",
                    node_id,
                )
                continue
            first_index[node_id] = index
            node = self._check_node(raw, index, node_id)
            if node is not None:
                self.nodes[node_id] = node

    def _check_node(self, raw: dict[str, Any], index: int, node_id: str) -> _Node | None:
        data = raw.get("data")
        if not isinstance(data, dict):
            self.error("no data object: the executor fails it as an invalid node", node_id)
            return None
        type_id, node_type = self.node_type(raw, data)
        raw_config = data.get("config")
        config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
        raw_inputs = config.get("inputs")
        inputs: list[Any] = raw_inputs if isinstance(raw_inputs, list) else []
        if raw_inputs is not None and not isinstance(raw_inputs, list):
            self.error("data.config.inputs must be a list", node_id)
        valid_inputs: list[dict[str, Any]] = []
        for position, connection in enumerate(inputs):
            if isinstance(connection, dict) and isinstance(connection.get("name"), str):
                valid_inputs.append(connection)
            else:
                self.error(f"data.config.inputs[{position}] needs a string name", node_id)
        node = _Node(node_id, index, type_id, node_type, config.get("type"), valid_inputs)
        if node_type is None:
            self._unknown_type(node_id, type_id)
            return node
        self._check_config_type(node)
        self._check_inputs(node, node_type)
        return node

    def _unknown_type(self, node_id: str, type_id: str) -> None:
        if not type_id:
            self.error("no node type (set 'type' to a node type of docs/nodes.md)", node_id)
        elif type_id in self._upstream:
            self.error(
                f"node type {type_id!r} is an upstream node type this executor does not run yet "
                "(docs/nodes.md, 'Not run yet')",
                node_id,
            )
        else:
            close = difflib.get_close_matches(type_id, list(self._catalogue), n=3, cutoff=0.6)
            hint = f"; closest: {', '.join(close)}" if close else "; see docs/nodes.md"
            self.error(f"unknown node type {type_id!r}{hint}", node_id)

    def _check_config_type(self, node: _Node) -> None:
        assert node.node_type is not None
        wanted = node.node_type.routing
        got = node.config_type
        need = f"{node.type_id} needs {wanted} ({ROUTING_NAMES.get(wanted, '?')})"
        hint = _TRAP_HINTS.get(wanted, "")
        if got is None:
            self.error(f"data.config.type is missing: {need}{hint}", node.id)
        elif isinstance(got, bool) or not isinstance(got, int):
            self.error(f"data.config.type must be an integer: {need}", node.id)
        elif got != wanted:
            described = ROUTING_NAMES.get(got, "unknown, runs as an action")
            self.error(f"data.config.type is {got} ({described}) but {need}{hint}", node.id)

    def _check_inputs(self, node: _Node, node_type: NodeType) -> None:
        configured: dict[str, dict[str, Any]] = {}
        for connection in node.inputs:
            configured.setdefault(connection["name"], connection)
        for declared in node_type.inputs:
            if declared.name not in configured:
                if declared.required:
                    self.error(
                        f"required input {declared.name!r} ({declared.type}) is missing",
                        node.id,
                    )
                continue
            connection = configured[declared.name]
            self._check_input_type(node, declared.name, declared.type, connection)
            value = connection.get("value")
            if value is None or value == "":
                continue
            problem = _value_problem(declared.type, declared.options, value)
            if problem is not None:
                self.error(f"input {declared.name!r}: {problem}", node.id)

    def _check_input_type(
        self, node: _Node, name: str, declared: str, connection: Mapping[str, Any]
    ) -> None:
        given = connection.get("type")
        given = given if isinstance(given, str) else ""
        strict = ("integer", "boolean")
        # A text input typed integer or boolean still reads (as its digits or true/false, like
        # Go's Connection.String()); only integer and boolean inputs need their own type.
        if given == declared or declared not in strict:
            return
        shown = f"type {given!r}" if given else "no type"
        self.error(
            f"input {name!r} has {shown} but {node.type_id} declares {declared!r} "
            f"(the node reads it as {declared} and finds none;"
            " docs/flows.md 'Inputs and their types')",
            node.id,
        )

    # ------------------------------------------------------------------ edges

    def check_edges(self, edges: list[Any]) -> None:
        for index, raw in enumerate(edges):
            if not isinstance(raw, dict):
                self.error(f"edges[{index}] is not an object")
                continue
            name = _text(raw.get("id")) or f"edges[{index}]"
            source, target = raw.get("source"), raw.get("target")
            if not isinstance(source, str) or not isinstance(target, str):
                self.error(f"edge {name!r} needs string source and target")
                continue
            handle = _text(raw.get("sourceHandle"))
            missing = [
                f"{end} {node_id!r} is not a node"
                for end, node_id in (("source", source), ("target", target))
                if node_id not in self.nodes
            ]
            if missing:
                owner = source if source in self.nodes else None
                self.error(f"edge {name!r}: {' and '.join(missing)}", owner)
                continue
            self.parents.setdefault(target, []).append(source)
            self._check_handle(name, self.nodes[source], handle)

    def _check_handle(self, edge: str, source: _Node, handle: str) -> None:
        if source.node_type is None:
            return
        routing = source.node_type.routing
        known = routing_handles(routing)
        if not known:
            if handle in _ROUTING_ONLY_HANDLES or _CASE_HANDLE.fullmatch(handle):
                self.error(
                    f"edge {edge!r}: {source.type_id} cannot route on {handle!r}; every "
                    "outgoing edge of this node is followed (docs/flows.md 'Edges and handles')",
                    source.id,
                )
            return
        if routing == ROUTING_SWITCH:
            ok = handle == "default" or self._case_in_range(source, handle)
        elif routing == ROUTING_AWAIT:
            ok = handle.startswith("option_") or handle in ("timeout", "delivery")
        else:
            ok = handle in known
        if not ok:
            shown = repr(handle) if handle else "no sourceHandle"
            self.error(
                f"edge {edge!r} has {shown}: {source.type_id} routes only on "
                f"{', '.join(known)}, so this edge is never followed "
                "(docs/flows.md 'Edges and handles')",
                source.id,
            )

    def _case_in_range(self, source: _Node, handle: str) -> bool:
        match = _CASE_HANDLE.fullmatch(handle)
        if match is None:
            return False
        cases = next((c.get("value") for c in source.inputs if c["name"] == "cases"), None)
        if isinstance(cases, list):
            return int(match.group(1)) < len(cases)
        return True  # cases come from a template: their number is known only at run time

    # ------------------------------------------------------------------ triggers

    def check_trigger(self) -> None:
        entries = [n for n in self.nodes.values() if n.type_id.startswith(_TRIGGER_PREFIX)]
        if not entries:
            self.error(
                "no trigger node: the executor starts at the first node whose type starts with "
                "'trigger/' (add a trigger/manual node; docs/flows.md 'Nodes')"
            )
            return
        self._entry = min(entries, key=lambda node: node.index).id

    # ------------------------------------------------------------------ references

    def _provided(self, node_id: str, seen: set[str]) -> set[str] | _Any:
        """The output keys ``node_id`` gives its children (docs/flows.md 'Substitution scopes')."""
        node = self.nodes.get(node_id)
        if node is None or node.node_type is None or node_id in seen:
            return _ANY
        seen.add(node_id)
        node_type = node.node_type
        if node_type.routing == ROUTING_TRIGGER:
            if self._trigger_data_keys is None or node_id != self._entry:
                return _ANY
            return set(node_type.outputs) | set(self._trigger_data_keys)
        if node_type.open_outputs:
            return _ANY
        keys = set(node_type.outputs)
        if node_type.routing in _PASS_THROUGH:
            for parent in self.parents.get(node_id, ()):
                provided = self._provided(parent, seen)
                if isinstance(provided, _Any):
                    return _ANY
                keys |= provided
        return keys

    def _variables(self) -> set[str]:
        names: set[str] = set()
        for node in self.nodes.values():
            if node.node_type is None:
                continue
            if node.node_type.routing == ROUTING_LOOP:
                names |= _LOOP_VARIABLES
            if node.node_type.id == "common/set_variable":
                value = next((c.get("value") for c in node.inputs if c["name"] == "name"), None)
                names.add(value if isinstance(value, str) else "\0dynamic")
        return names

    def check_references(self) -> None:
        variables = self._variables()
        for node in self.nodes.values():
            parents = self.parents.get(node.id, [])
            flat: set[str] | _Any = set()
            for parent in parents:
                provided = self._provided(parent, set())
                if isinstance(provided, _Any) or isinstance(flat, _Any):
                    flat = _ANY
                else:
                    flat |= provided
            for connection in node.inputs:
                for token in _tokens(connection.get("value")):
                    message = self._reference_problem(token, node, parents, flat, variables)
                    if message is not None:
                        self.warning(
                            f"input {connection['name']!r}: ${{{token}}} {message}", node.id
                        )

    def _reference_problem(
        self,
        name: str,
        node: _Node,
        parents: list[str],
        flat: set[str] | _Any,
        variables: set[str],
    ) -> str | None:
        if name.startswith(_RUNTIME_NAMESPACES):
            return None
        head, dot, rest = name.partition(".")
        if dot and head == "flow":
            if rest in FLOW_FIELDS:
                return None
            return (
                f"is not a flow field and reads as empty (fields: {', '.join(sorted(FLOW_FIELDS))})"
            )
        if dot and head == "var":
            variable = re.match(r"[^.\[]*", rest)
            if rest in variables or (variable and variable.group(0) in variables):
                return None
            if "\0dynamic" in variables:
                return None
            return (
                "reads as empty: no common/set_variable node sets it and it is not a loop "
                "variable (docs/flows.md 'Substitution scopes')"
            )
        if isinstance(flat, _Any) or name in flat:
            return None
        if dot and head in self.nodes:
            return self._node_reference_problem(head, rest, node)
        if not dot:
            return self._bare_reference_problem(name, node, parents)
        return (
            f"reads as empty: there is no node {head!r} and no direct parent outputs {name!r} "
            "(docs/flows.md 'Substitution scopes')"
        )

    def _node_reference_problem(self, node_id: str, path: str, user: _Node) -> str | None:
        target = self.nodes[node_id]
        if target.node_type is None:
            return None
        key = re.match(r"[^.\[]*", path)
        key_name = key.group(0) if key else path
        if target.node_type.routing == ROUTING_TRIGGER and node_id != self._entry:
            return (
                f"reads as empty: {node_id!r} is not the trigger the flow starts from, "
                "and other triggers never run"
            )
        if target.id == user.id:
            return "refers to the node itself and reads as empty"
        provided = self._provided(node_id, set())
        if isinstance(provided, _Any) or key_name in provided:
            return None
        listed = ", ".join(sorted(provided)) or "none"
        return (
            f"reads as empty: {node_id} ({target.type_id}) has no output {key_name!r} "
            f"(its outputs: {listed})"
        )

    def _gives(self, node_id: str, key: str) -> bool:
        provided = self._provided(node_id, set())
        return not isinstance(provided, _Any) and key in provided

    def _bare_reference_problem(self, name: str, node: _Node, parents: list[str]) -> str:
        givers = [
            other.id
            for other in self.nodes.values()
            if other.id not in parents and other.id != node.id and self._gives(other.id, name)
        ]
        shown_parents = ", ".join(parents) if parents else "none"
        if givers:
            return (
                f"reads as empty: a bare name only sees the outputs of direct parents "
                f"({shown_parents}); {givers[0]!r} outputs {name!r}, so write "
                f"${{{givers[0]}.{name}}} (docs/flows.md 'Substitution scopes')"
            )
        if self._trigger_data_keys is not None and self._entry in parents:
            return (
                f"reads as empty: no direct parent outputs {name!r} and the trigger data has no "
                "such key (give it with --data; docs/flows.md 'Substitution scopes')"
            )
        return (
            f"reads as empty: no direct parent ({shown_parents}) outputs {name!r} "
            "(docs/flows.md 'Substitution scopes')"
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _tokens(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        for match in _TOKEN.finditer(value):
            yield match.group(1).strip()
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tokens(item)
    elif isinstance(value, list):
        for item in value:
            yield from _tokens(item)


def _value_problem(declared: str, options: tuple[str, ...], value: Any) -> str | None:
    """Why a literal value does not fit the declared type, or None (templates always fit)."""
    if isinstance(value, str) and _HAS_TEMPLATE.search(value):
        return None
    if declared == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return f"{json.dumps(value)} is not a number"
        if isinstance(value, str) and not _NUMBER.fullmatch(value):
            return f"{value!r} is not a number"
    elif declared == "boolean":
        if isinstance(value, bool):
            return None
        text = value.strip() if isinstance(value, str) else None
        if text is None or not (
            text in GO_BOOL_TRUE or text in GO_BOOL_FALSE or text.lower() in _BOOLEAN_WORDS
        ):
            return f"{json.dumps(value)} is not a boolean (true/false, yes/no, on/off, 1/0)"
    elif declared == "key_value_array":
        rows = value
        if isinstance(value, str):
            try:
                rows = json.loads(value)
            except ValueError:
                return "is not a list of {key, value} rows"
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            return "is not a list of {key, value} rows"
    elif options and isinstance(value, str) and value.strip() not in options:
        return f"{value!r} is not one of: {', '.join(options)}"
    return None


def validate_flow_text(
    text: str | bytes,
    catalogue: Mapping[str, NodeType],
    *,
    upstream: Collection[str] = (),
    trigger_data_keys: Collection[str] | None = None,
) -> list[Problem]:
    """Every problem of one flow file, errors and warnings, in document order.

    ``upstream`` lists node types upstream runs that this executor does not (for a better
    message); ``trigger_data_keys`` are the keys of the trigger data a run will get, when known
    (``local``), so that references to trigger data can be checked too.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return [Problem("error", f"not UTF-8 text (byte {exc.start})")]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return [Problem("error", f"invalid JSON: {exc.msg}", None, exc.lineno, exc.colno)]
    if not isinstance(document, dict):
        return [Problem("error", "a flow must be a JSON object with 'nodes' and 'edges'")]
    checker = _Checker(catalogue, upstream, trigger_data_keys)
    nodes, edges = document.get("nodes"), document.get("edges")
    if not isinstance(nodes, list) or not nodes:
        checker.error("'nodes' must be a non-empty list")
        return checker.problems
    if edges is not None and not isinstance(edges, list):
        checker.error("'edges' must be a list")
        edges = []
    checker.check_nodes(nodes)
    checker.check_edges(edges or [])
    checker.check_trigger()
    checker.check_references()
    return checker.problems


def validate_flow(
    text: str | bytes, *, trigger_data_keys: Collection[str] | None = None
) -> list[Problem]:
    """``validate_flow_text`` with the published catalogue and upstream list: the one call the
    ``validate`` and ``local`` commands (and a server showing problems before a run) make."""
    return validate_flow_text(
        text, load_catalogue(), upstream=load_upstream(), trigger_data_keys=trigger_data_keys
    )
