"""Typed accessors over a node's resolved inputs (docs/flows.md §6).

Actions read inputs only through these functions. The first input with the given name wins; a
missing input, or a value the accessor does not accept, yields ``None`` ("none" in the spec).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flomation.executor.gojson import go_json, go_text

__all__ = [
    "GO_BOOL_FALSE",
    "GO_BOOL_TRUE",
    "Input",
    "KeyValue",
    "find_input",
    "parse_go_int",
    "read_bool",
    "read_kv",
    "read_number",
    "read_string",
]

GO_BOOL_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_BOOL_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_TEXT_TYPES = frozenset(
    {"string", "text", "datetime", "multi_select", "rows", "money", "combobox", "file", "colour"}
)
_BASE10_INT = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, slots=True)
class Input:
    """One resolved input handed to an action: name, connection type and typed value."""

    name: str
    type: str
    value: Any


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One row of a ``key_value_array`` input."""

    key: str
    value: str


def parse_go_int(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 10, 64): optional sign, decimal digits, within int64."""
    if not _BASE10_INT.fullmatch(text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def find_input(inputs: Sequence[Input], name: str) -> Input | None:
    """The first input called ``name``, or None."""
    for item in inputs:
        if item.name == name:
            return item
    return None


def read_string(inputs: Sequence[Input], name: str) -> str | None:
    """String accessor: text types render, integer/boolean types validate, others use Go-text."""
    item = find_input(inputs, name)
    if item is None:
        return None
    value = item.value
    if item.type in _TEXT_TYPES:
        if isinstance(value, str):
            return value
        return "" if value is None else go_json(value)
    if item.type == "integer":
        text = go_text(value)
        return text if parse_go_int(text) is not None else None
    if item.type == "boolean":
        text = go_text(value)
        return text if text in GO_BOOL_TRUE or text in GO_BOOL_FALSE else None
    return go_text(value)


def read_number(inputs: Sequence[Input], name: str) -> int | None:
    """Number accessor (``integer`` inputs only): ints, truncated floats, base-10 integer text."""
    item = find_input(inputs, name)
    if item is None or item.type != "integer":
        return None
    value = item.value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        # Go's Connection.Number(): strconv.ParseInt of the trimmed text, no float fallback.
        return parse_go_int(value.strip())
    return None


def read_bool(inputs: Sequence[Input], name: str) -> bool | None:
    """Boolean accessor (``boolean`` inputs only): bools, yes/no/on/off and Go's ParseBool set."""
    item = find_input(inputs, name)
    if item is None or item.type != "boolean":
        return None
    value = item.value
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        lowered = text.lower()
        if lowered in ("yes", "on"):
            return True
        if lowered in ("no", "off"):
            return False
        if text in GO_BOOL_TRUE:
            return True
        if text in GO_BOOL_FALSE:
            return False
    return None


def _kv_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else go_json(value)


def read_kv(inputs: Sequence[Input], name: str) -> list[KeyValue]:
    """KeyValuePairs accessor: a list of ``{key, value}`` objects, or a string holding one."""
    item = find_input(inputs, name)
    if item is None:
        return []
    value = item.value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [
        KeyValue(_kv_text(row.get("key")), _kv_text(row.get("value")))
        for row in value
        if isinstance(row, dict)
    ]
