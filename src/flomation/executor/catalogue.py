"""The node catalogue: what each node type takes, gives and routes to, and the flow JSON Schema.

The catalogue is built from the action registry (``catalogue_from_registry``) and published as the
JSON Schema for flow files (``flow.schema.json`` next to this module; docs/flows.md, "Editor
support"). The schema carries, besides the constraints an editor checks, one ``x-flomation``
object per node type; ``load_catalogue`` reads the catalogue back from it, so that validating a
flow (``validation``) never imports the action modules. ``python -m flomation.executor.reference``
regenerates the schema and docs/nodes.md; tests keep both equal to the code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from flomation.executor.flow import (
    ROUTING_ACTION,
    ROUTING_AWAIT,
    ROUTING_CONDITIONAL,
    ROUTING_LOOP,
    ROUTING_OUTPUT,
    ROUTING_SWITCH,
    ROUTING_TRIGGER,
)
from flomation.executor.registry import Registry

__all__ = [
    "CONNECTION_TYPES",
    "ROUTING_NAMES",
    "SCHEMA_PATH",
    "UPSTREAM_PATH",
    "InputSpec",
    "NodeType",
    "catalogue_from_registry",
    "load_catalogue",
    "load_upstream",
    "render_schema",
    "routing_handles",
]

SCHEMA_PATH = Path(__file__).with_name("flow.schema.json")
# Node types upstream's executor has (docs/nodes.md "Not run yet" lists those missing here).
UPSTREAM_PATH = Path(__file__).with_name("upstream_node_types.txt")

# The connection types of docs/flows.md "Inputs and their types".
CONNECTION_TYPES = (
    "string",
    "object",
    "integer",
    "boolean",
    "text",
    "key_value_array",
    "datetime",
    "multi_select",
    "rows",
    "credential",
    "secret",
    "code",
    "money",
    "field_source_map",
    "combobox",
    "file",
    "colour",
)

ROUTING_NAMES: Mapping[int, str] = {
    ROUTING_TRIGGER: "trigger",
    ROUTING_ACTION: "action",
    ROUTING_OUTPUT: "output",
    ROUTING_CONDITIONAL: "conditional",
    ROUTING_LOOP: "loop",
    ROUTING_SWITCH: "switch",
    ROUTING_AWAIT: "await",
}

_GENERIC_TRIGGER = "trigger/webhook"
_VENDOR_KEY = "x-flomation"


@dataclass(frozen=True)
class InputSpec:
    """One declared input of a node type."""

    name: str
    type: str
    required: bool
    default: Any
    options: tuple[str, ...]


@dataclass(frozen=True)
class NodeType:
    """What the executor knows about one node type (action id)."""

    id: str
    name: str
    description: str
    routing: int
    inputs: tuple[InputSpec, ...]
    outputs: tuple[str, ...]
    open_outputs: bool
    """True when the outputs depend on the flow (trigger data, script outputs, parameters)."""
    differences: tuple[str, ...] = ()
    """Where the action deliberately differs from upstream's (the manifest's ``differences``)."""

    def input(self, name: str) -> InputSpec | None:
        """The declared input called ``name``, or None."""
        return next((item for item in self.inputs if item.name == name), None)


def routing_handles(routing: int) -> tuple[str, ...]:
    """The ``sourceHandle`` values a node of this routing type routes on (docs/flows.md).

    ``case_<i>`` stands for the switch cases and ``option_<value>`` for await options.
    Other routing types follow every outgoing edge whatever its handle.
    """
    if routing == ROUTING_CONDITIONAL:
        return ("true-branch", "false-branch")
    if routing == ROUTING_LOOP:
        return ("loop", "output")
    if routing == ROUTING_SWITCH:
        return ("case_<i>", "default")
    if routing == ROUTING_AWAIT:
        return ("option_<value>", "timeout", "delivery")
    return ()


def catalogue_from_registry(registry: Registry) -> dict[str, NodeType]:
    """Every implemented node type, by id (imports every action module)."""
    catalogue: dict[str, NodeType] = {}
    for action in registry.all_actions():
        spec = action.spec
        catalogue[spec.id] = NodeType(
            id=spec.id,
            name=spec.name,
            description=spec.description,
            routing=spec.type,
            inputs=tuple(
                InputSpec(
                    name=item.name,
                    type=item.type,
                    required=bool(item.required),
                    default=item.default,
                    options=tuple(option["value"] for option in item.options or ()),
                )
                for item in spec.inputs
            ),
            outputs=tuple(item.name for item in spec.outputs),
            open_outputs=spec.open_outputs,
            differences=tuple(str(item) for item in spec.extra.get("differences", ())),
        )
    return catalogue


# ---------------------------------------------------------------------- the JSON Schema


def _connection_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "type": {"enum": list(CONNECTION_TYPES)},
            "value": {"description": "a literal, or a ${...} template (docs/flows.md)"},
        },
    }


def _input_constraints(node_type: NodeType) -> list[dict[str, Any]]:
    """Per-input constraints an editor can check: typed inputs and required inputs."""
    constraints: list[dict[str, Any]] = []
    typed = [item for item in node_type.inputs if item.type in ("integer", "boolean")]
    if typed:
        constraints.append(
            {
                "items": {
                    "allOf": [
                        {
                            "if": {
                                "properties": {"name": {"const": item.name}},
                                "required": ["name"],
                            },
                            "then": {
                                "properties": {"type": {"const": item.type}},
                                "required": ["type"],
                            },
                        }
                        for item in typed
                    ]
                }
            }
        )
    for item in node_type.inputs:
        if item.required:
            constraints.append(
                {
                    "contains": {
                        "properties": {"name": {"const": item.name}},
                        "required": ["name"],
                    }
                }
            )
    return constraints


def _vendor(node_type: NodeType) -> dict[str, Any]:
    return {
        "name": node_type.name,
        "description": node_type.description,
        "routing": node_type.routing,
        "inputs": [
            {
                "name": item.name,
                "type": item.type,
                "required": item.required,
                "default": item.default,
                "options": list(item.options),
            }
            for item in node_type.inputs
        ],
        "outputs": list(node_type.outputs),
        "open_outputs": node_type.open_outputs,
        "differences": list(node_type.differences),
    }


def _node_type_schema(node_type: NodeType) -> dict[str, Any]:
    inputs: dict[str, Any] = {"type": "array"}
    constraints = _input_constraints(node_type)
    if constraints:
        inputs["allOf"] = constraints
    return {
        "description": node_type.description,
        _VENDOR_KEY: _vendor(node_type),
        "properties": {
            "data": {
                "type": "object",
                "required": ["config"],
                "properties": {
                    "config": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {"const": node_type.routing},
                            "inputs": inputs,
                        },
                    }
                },
            }
        },
    }


def render_schema(catalogue: Mapping[str, NodeType]) -> str:
    """The flow JSON Schema (Draft 2020-12) as text: 2-space indentation, trailing newline."""
    ids = sorted(catalogue)
    definitions: dict[str, Any] = {
        "edge": {
            "type": "object",
            "required": ["source", "target"],
            "properties": {
                "id": {"type": "string"},
                "source": {"type": "string", "description": "id of the node the edge leaves"},
                "target": {"type": "string", "description": "id of the node the edge enters"},
                "sourceHandle": {
                    "type": ["string", "null"],
                    "description": "the handle the source routes on (docs/flows.md)",
                },
            },
        },
        "connection": _connection_schema(),
        "node": {
            "type": "object",
            "required": ["id", "type", "data"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "type": {
                    "anyOf": [{"enum": ids}, {"type": "string", "pattern": "^trigger/"}],
                    "description": "the node type (action id), docs/nodes.md",
                },
                "data": {
                    "type": "object",
                    "required": ["config"],
                    "properties": {
                        "label": {"type": "string"},
                        "config": {
                            "type": "object",
                            "required": ["type"],
                            "properties": {
                                "type": {"enum": sorted(ROUTING_NAMES)},
                                "inputs": {
                                    "type": "array",
                                    "items": {"$ref": "#/$defs/connection"},
                                },
                            },
                        },
                    },
                },
            },
            "allOf": [
                {
                    "if": {
                        "properties": {"type": {"const": node_id}},
                        "required": ["type"],
                    },
                    "then": {"$ref": f"#/$defs/types/{node_id.replace('/', '~1')}"},
                }
                for node_id in ids
            ]
            + [
                {
                    "if": {
                        "properties": {
                            "type": {"type": "string", "pattern": "^trigger/", "not": {"enum": ids}}
                        },
                        "required": ["type"],
                    },
                    "then": {"$ref": f"#/$defs/types/{_GENERIC_TRIGGER.replace('/', '~1')}"},
                }
            ],
        },
        "types": {node_id: _node_type_schema(catalogue[node_id]) for node_id in ids},
    }
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Flomation flow file",
        "description": (
            "A flow as flomation-runner local, validate and the executor read it. Generated from "
            "the executor's node types by python -m flomation.executor.reference; see "
            "docs/flows.md and docs/nodes.md."
        ),
        "type": "object",
        "required": ["nodes"],
        "properties": {
            "nodes": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            "edges": {"type": "array", "items": {"$ref": "#/$defs/edge"}},
        },
        "$defs": definitions,
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _parse_vendor(node_id: str, vendor: Mapping[str, Any]) -> NodeType:
    return NodeType(
        id=node_id,
        name=str(vendor["name"]),
        description=str(vendor["description"]),
        routing=int(vendor["routing"]),
        inputs=tuple(
            InputSpec(
                name=str(item["name"]),
                type=str(item["type"]),
                required=bool(item["required"]),
                default=item["default"],
                options=tuple(str(option) for option in item["options"]),
            )
            for item in vendor["inputs"]
        ),
        outputs=tuple(str(name) for name in vendor["outputs"]),
        open_outputs=bool(vendor["open_outputs"]),
        differences=tuple(str(item) for item in vendor.get("differences", ())),
    )


@cache
def load_catalogue(path: Path = SCHEMA_PATH) -> dict[str, NodeType]:
    """The catalogue as published in the flow JSON Schema (cheap: no action module imported)."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    types: dict[str, Any] = schema["$defs"]["types"]
    return {node_id: _parse_vendor(node_id, entry[_VENDOR_KEY]) for node_id, entry in types.items()}


@cache
def load_upstream(path: Path = UPSTREAM_PATH) -> frozenset[str]:
    """The upstream node type ids listed in ``upstream_node_types.txt``."""
    ids: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        group, *names = line.split()
        ids.update(group + name for name in names)
    return frozenset(ids)
