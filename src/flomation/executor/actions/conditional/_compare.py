"""The comparison shared by ``conditional/if`` and ``conditional/while`` (docs/flows.md §10.3)."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["OPERATORS", "compare"]

# Go's strconv.ParseFloat on decimal text: no surrounding spaces, no underscores.
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE
)


def _parse_float(text: str) -> float | None:
    return float(text) if _GO_FLOAT.fullmatch(text) else None


def _greater(a: str, b: str) -> bool:
    left, right = _parse_float(a), _parse_float(b)
    return left is not None and right is not None and left > right


def _less(a: str, b: str) -> bool:
    left, right = _parse_float(a), _parse_float(b)
    return left is not None and right is not None and left < right


OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "equals": lambda a, b: a == b,
    "not_equals": lambda a, b: a != b,
    "contains": lambda a, b: b in a,
    "greater_than": _greater,
    "less_than": _less,
    "is_empty": lambda a, _b: not a.strip(),
    "is_not_empty": lambda a, _b: bool(a.strip()),
}


def compare(operator: str, value_a: str, value_b: str) -> bool | None:
    """The comparison's result, or None for an unknown operator."""
    function = OPERATORS.get(operator)
    return None if function is None else function(value_a, value_b)
