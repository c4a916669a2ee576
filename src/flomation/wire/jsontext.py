"""JSON as it goes over the wire: the type of a parsed JSON value and its compact text."""

from __future__ import annotations

import json
from typing import TypeAlias

__all__ = ["JsonObject", "JsonValue", "compact_json"]

# What json.loads returns. A type for mypy only: pydantic models hold such values as they came
# (wire/models.py), without validating a flow document node by node.
JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"


def compact_json(value: JsonValue) -> bytes:
    """Compact UTF-8 JSON, keys in their original order (lossless for parsed JSON)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
