"""Operand parsing, result formatting and the shared run logic of the arithmetic actions.

Operands are read from the raw resolved value, not through the Number accessor, so that decimal
text such as ``"234.7"`` works (docs/flows.md §10.5). Arithmetic is done in float64, as upstream
does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from flomation.executor.accessors import Input, find_input
from flomation.executor.actions.base import Connection, HardError, Outputs
from flomation.executor.gojson import go_quote, go_text

__all__ = ["DIFFERENCES", "OUTPUTS", "calculate", "format_number", "operand_input", "parse_operand"]

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Integral results below this magnitude print as integers (beyond it float64 loses units).
_INTEGER_LIMIT = 1e15

OUTPUTS = (
    Connection("answer", "string", "Answer"),
    Connection("answer_int", "integer", "Answer (integer)"),
    Connection("tool_result", "string", "Result"),
)


# Upstream's operands are optional text inputs (a number written as text or a ${...} value);
# a missing one is the hard error parse_operand raises.
def operand_input(name: str, label: str, placeholder: str) -> Connection:
    """The manifest entry of one numeric operand."""
    return Connection(name, "string", label, placeholder=placeholder)


# Where this executor differs from upstream's arithmetic (flomation-co/executor
# actions/arithmetic/common.go), as the node reference lists it.
DIFFERENCES = (
    "operand texts are plain decimals: Go's other float syntaxes (`NaN`, `Inf`, hexadecimal) "
    "are `is not a number`",
    "a result that is not a finite number is the hard error `arithmetic: result is not a "
    "finite number` (upstream prints `+Inf`/`NaN` with an undefined `answer_int`)",
)


def parse_operand(inputs: Sequence[Input], name: str) -> float:
    """The numeric value of input ``name``; a hard error naming the input otherwise."""
    prefix = f"arithmetic: input {go_quote(name)}"
    item = find_input(inputs, name)
    if item is None:
        raise HardError(f"{prefix} is missing")
    value: Any = item.value
    if value is None:
        raise HardError(f"{prefix} has no value")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        # Upstream re-parses %v of other values and names them unquoted.
        raise HardError(f"{prefix} is not a number: {go_text(value)}")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise HardError(f"{prefix} is empty")
        number = float(text) if _DECIMAL.fullmatch(text) else math.nan
        if not math.isfinite(number):  # Go's ParseFloat also rejects out-of-range text
            raise HardError(f"{prefix} is not a number: {go_quote(text)}")
        return number
    try:
        return float(value)
    except OverflowError:  # an integer beyond float64: infinite, rejected with the result
        return math.inf if value > 0 else -math.inf


def format_number(number: float) -> str:
    """Integral values under 1e15 as integers, others with up to 10 decimals, zeros trimmed."""
    if number.is_integer() and abs(number) < _INTEGER_LIMIT:
        return str(int(number))
    text = f"{number:.10f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def calculate(
    left: float, right: float, symbol: str, operation: Callable[[float, float], float]
) -> Outputs:
    """Apply ``operation`` and build the outputs ``answer``, ``answer_int`` and ``tool_result``."""
    try:
        result = operation(left, right)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise HardError("arithmetic: result is not a finite number")
    answer = format_number(result)
    return {
        "answer": answer,
        "answer_int": int(result),
        "tool_result": f"{format_number(left)} {symbol} {format_number(right)} = {answer}",
    }
