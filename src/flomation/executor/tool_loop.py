"""The AI tool loop's decisions (docs/flows.md §4.13): which tool node a request names, what a
tool node's inputs become, what its run hands back to the model, and where an AI node routes.

Matches flomation-co/executor: flow.go executeNodeChildren (the ToolRequestsKey branch) and the
keys of executor.go. ``run_tool_loop`` drives the loop through the engine (``ToolHost``); the
rest is pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from flomation.executor.gojson import go_json, go_text

if TYPE_CHECKING:
    from flomation.executor.flow import Flow, Node

__all__ = [
    "CONVERSATION_KEY",
    "EXCHANGES_KEY",
    "INTERMEDIATE_KEY",
    "MAX_TOOL_ROUNDS",
    "REQUESTS_KEY",
    "RESULTS_KEY",
    "TOOLS_HANDLE",
    "ToolHost",
    "ToolRequest",
    "ai_targets",
    "inject_tool_input",
    "match_tool",
    "results_variable",
    "run_tool_loop",
    "tool_output",
    "tool_requests",
]

REQUESTS_KEY = "__tool_requests"
"""Output key: the model asked for tools ([{id, name, input}])."""
CONVERSATION_KEY = "__conversation_state"
"""Output key and variable: the provider's message list so far, carried between rounds."""
RESULTS_KEY = "__tool_results"
"""Variable set for the re-invocation: [{tool_use_id, content, is_error}]."""
INTERMEDIATE_KEY = "__intermediate_text"
"""Output key: text the model wrote beside its tool calls."""
EXCHANGES_KEY = "__tool_exchanges"
"""Variable: every exchange of the loop so far ([{tool_use_id, name, input, result, is_error}])."""
TOOLS_HANDLE = "tools"
MAX_TOOL_ROUNDS = 25
"""Upstream's MaxToolRoundsDefault: model invocations answered with tool results, at most."""

_UNSAFE_NAME = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(frozen=True)
class ToolRequest:
    """One tool call the model made."""

    id: str
    name: str
    input: Mapping[str, Any]


def tool_requests(outputs: Mapping[str, Any]) -> list[ToolRequest]:
    """The requests in an AI node's outputs (malformed entries skipped)."""
    found = outputs.get(REQUESTS_KEY)
    requests = []
    for item in found if isinstance(found, list) else ():
        if isinstance(item, Mapping):
            given = item.get("input")
            requests.append(
                ToolRequest(
                    id=str(item.get("id") or ""),
                    name=str(item.get("name") or ""),
                    input=given if isinstance(given, Mapping) else {},
                )
            )
    return requests


def _sanitised(label: str) -> str:
    """The tool name a model is given for a node label (upstream's sanitiseToolName)."""
    return _UNSAFE_NAME.sub("_", label)


def match_tool(name: str, tools: Sequence[tuple[str, str, str]]) -> int | None:
    """The index of the tool node ``(id, label, config name)`` a request's ``name`` means.

    Upstream's order, first match wins per node: the label is ``tools/<name>`` or ``<name>``; the
    sanitised label is ``name``; the label without ``tools/``, sanitised, is ``name``; the node's
    configured name is ``name``.
    """
    for index, (_, label, config_name) in enumerate(tools):
        if label in ("tools/" + name, name) or _sanitised(label) == name:
            return index
        if label.startswith("tools/") and _sanitised(label.removeprefix("tools/")) == name:
            return index
        if config_name and config_name == name:
            return index
    return None


def inject_tool_input(
    snapshot: Sequence[Mapping[str, Any]], given: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """A tool node's inputs for one call: its configured inputs, with the model's values.

    A configured value that is a non-empty string (a ``${...}`` reference included) is never
    overridden; other inputs named by the model take its value; names the node does not have are
    appended as ``string`` inputs keeping the value's type.
    """
    inputs = [dict(item) for item in snapshot]
    known = {str(item.get("name")) for item in inputs}
    for item in inputs:
        value = item.get("value")
        if isinstance(value, str) and value:
            continue
        if item.get("name") in given:
            item["value"] = given[str(item["name"])]
    inputs.extend(
        {"name": key, "type": "string", "value": value}
        for key, value in given.items()
        if key not in known
    )
    return inputs


def tool_output(outputs: Mapping[str, Any] | None) -> tuple[str, bool]:
    """(content, is_error) handed back to the model for one tool node's outputs.

    The first of ``tool_result``, ``result``, ``response``, ``output`` that is a non-empty string,
    or else the JSON of the first of them present and not null; else the JSON of all outputs;
    nothing at all is ``Tool produced no output`` (an error).
    """
    if outputs:
        for key in ("tool_result", "result", "response", "output"):
            if key not in outputs:
                continue
            value = outputs[key]
            if isinstance(value, str) and value:
                return value, False
            if value is not None and not isinstance(value, str):
                return _json(value), False
        return _json(dict(outputs)), False
    return "Tool produced no output", True


def _json(value: Any) -> str:
    return go_json(value)


def ai_targets(
    edges: Sequence[tuple[str, str]], outputs: Mapping[str, Any], *, looped: bool
) -> list[str] | None:
    """An AI node's children from its ``(handle, target)`` edges; None: it routes as usual.

    ``should_respond`` false: the ``no_response`` targets (none wired: no children). After a tool
    loop otherwise every target not on the ``tools`` handle; without one, a ``should_respond``
    output routes to the ``output`` targets, else to those of the default handle ``""``.
    """
    if outputs.get("should_respond") is False:
        return [target for handle, target in edges if handle == "no_response"]
    if looped:
        return [target for handle, target in edges if handle != TOOLS_HANDLE]
    if "should_respond" not in outputs:
        return None
    chosen = [target for handle, target in edges if handle == "output"]
    return chosen or [target for handle, target in edges if handle == ""]


def results_variable(results: Sequence[tuple[str, str, bool]]) -> list[dict[str, Any]]:
    """The ``__tool_results`` value for (tool_use_id, content, is_error) triples."""
    return [
        {"tool_use_id": use_id, "content": content, "is_error": is_error}
        for use_id, content, is_error in results
    ]


class ToolHost(Protocol):
    """What the loop needs of the engine (``executor/engine.py``)."""

    flow: Flow
    variables: dict[str, Any]
    cache: dict[str, dict[str, Any]]

    def run_tool(self, node_id: str) -> str | None:
        """Run the node and its subgraph afresh; its hard error, or None."""

    def rerun_node(self, node_id: str) -> dict[str, Any] | None:
        """Run the node's action again; its outputs, or None."""


def run_tool_loop(host: ToolHost, node: Node, outputs: dict[str, Any]) -> dict[str, Any]:
    """Run the tools the model asked for and re-run the AI node; its final outputs."""
    edges = host.flow.outgoing.get(node.id, ())
    targets = [edge.target for edge in edges if edge.handle == TOOLS_HANDLE]
    tools = [
        host.flow.by_id[target] for target in dict.fromkeys(targets) if target in host.flow.by_id
    ]
    snapshots = {tool.id: [dict(item) for item in tool.inputs] for tool in tools}
    for _ in range(MAX_TOOL_ROUNDS if tools else 0):
        requests = tool_requests(outputs)
        if not requests:
            break
        results = []
        for request in requests:
            # The tools subgraph reads ${var.tool.name}, ${var.tool.input.<key>}, ...
            host.variables["tool.name"] = request.name
            host.variables["tool.id"] = request.id
            host.variables["tool.input"] = go_json(dict(request.input))
            for key, value in request.input.items():
                host.variables["tool.input." + key] = go_text(value)
            index = match_tool(
                request.name, [(tool.id, tool.label, tool.config_name) for tool in tools]
            )
            if index is None:
                labels = ", ".join(tool.label for tool in tools)
                results.append(
                    (request.id, f"Unknown tool: {request.name}. Available tools: {labels}", True)
                )
                continue
            tool = tools[index]
            tool.inputs[:] = inject_tool_input(snapshots[tool.id], request.input)
            failure = host.run_tool(tool.id)
            if failure is not None:
                results.append((request.id, f"Tool execution error: {failure}", True))
                continue
            results.append((request.id, *tool_output(host.cache.get(tool.id))))
        exchanges = list(host.variables.get(EXCHANGES_KEY) or ())
        exchanges.extend(
            {
                "tool_use_id": request.id,
                "name": request.name,
                "input": dict(request.input),
                "result": content,
                "is_error": is_error,
            }
            for request, (_, content, is_error) in zip(requests, results, strict=True)
        )
        host.variables[EXCHANGES_KEY] = exchanges
        host.variables[RESULTS_KEY] = results_variable(results)
        if CONVERSATION_KEY in outputs:
            host.variables[CONVERSATION_KEY] = outputs[CONVERSATION_KEY]
        try:
            rerun = host.rerun_node(node.id)
        finally:
            host.variables.pop(RESULTS_KEY, None)
            host.variables.pop(CONVERSATION_KEY, None)
        if rerun is None:
            break
        outputs = rerun
    return outputs
