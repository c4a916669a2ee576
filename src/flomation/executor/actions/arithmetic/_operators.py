"""The arithmetic actions that differ only in their operator, generated from one table.

``arithmetic/addition``, ``subtraction`` and ``multiplication`` read operands ``a`` and ``b``
and answer ``a <operator> b`` (docs/flows.md §10.5); each module is one row of ``_OPERATORS``.
Division is not a row: it has its own operand names and refuses a zero denominator.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from flomation.executor.actions.arithmetic._operands import (
    DIFFERENCES,
    OUTPUTS,
    calculate,
    operand_input,
    parse_operand,
)
from flomation.executor.actions.base import ActionContext, ActionSpec, Outputs, RunFunction

__all__ = ["operator_action"]


@dataclass(frozen=True)
class _Operator:
    name: str
    description: str
    icon: str
    symbol: str  # as tool_result shows it: "2 + 3 = 5"
    apply: Callable[[float, float], float]
    placeholders: tuple[str, str]


_OPERATORS = {
    "addition": _Operator(
        "Maths | Addition",
        "Add two numbers",
        "plus",
        "+",
        operator.add,
        ("e.g. 5 or 3.14", "e.g. 7 or 0.40"),
    ),
    # U+2212 MINUS SIGN, as upstream's tool_result prints it.
    "subtraction": _Operator(
        "Maths | Subtraction",
        "Subtract b from a",
        "minus",
        "\u2212",
        operator.sub,
        ("e.g. 10 or 3.14", "e.g. 4 or 0.40"),
    ),
    "multiplication": _Operator(
        "Maths | Multiplication",
        "Multiply two numbers",
        "xmark",
        "×",
        operator.mul,
        ("e.g. 5 or 3.14 or ${parent.distance_miles}", "e.g. 0.40"),
    ),
}


def operator_action(name: str) -> tuple[ActionSpec, RunFunction]:
    """``SPEC`` and ``run`` of ``arithmetic/<name>`` from its row of the table."""
    row = _OPERATORS[name]
    spec = ActionSpec(
        id=f"arithmetic/{name}",
        name=row.name,
        description=row.description,
        icon=row.icon,
        inputs=(
            operand_input("a", "A", row.placeholders[0]),
            operand_input("b", "B", row.placeholders[1]),
        ),
        outputs=OUTPUTS,
        extra={"differences": list(DIFFERENCES)},
    )

    def run(ctx: ActionContext) -> Outputs:
        return calculate(
            parse_operand(ctx.inputs, "a"), parse_operand(ctx.inputs, "b"), row.symbol, row.apply
        )

    run.__doc__ = f"a {row.symbol} b."
    return spec, run
