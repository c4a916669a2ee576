"""The string actions that differ only in their operation, generated from one table each.

The three trims differ only in the ends they strip (``str.strip``, ``rstrip``, ``lstrip``); upper
and lower case only in the direction of the case mapping (docs/flows.md §10.5). Each action's module
is one row of ``_TRIMS`` or ``_CASES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flomation.executor.actions.base import ActionContext, ActionSpec, Outputs, RunFunction
from flomation.executor.actions.string._result import (
    CHARACTERS_INPUT,
    END_WHITESPACE,
    GO_WHITESPACE,
    VALUE_INPUT,
    outputs_for,
    simple_case,
    success,
    text_input,
    trimmed,
)

__all__ = ["case_action", "trim_action"]


@dataclass(frozen=True)
class _Trim:
    name: str
    where: str  # "both ends", as the description and docstring say it
    strip: Callable[[str, str], str]
    whitespace: str  # what is stripped when ``characters`` is empty
    whitespace_name: str


_TRIMS = {
    "trim": _Trim("Trim", "both ends", str.strip, GO_WHITESPACE, "Unicode whitespace"),
    "trim_end": _Trim("Trim End", "the end", str.rstrip, END_WHITESPACE, "space, tab, CR, LF"),
    "trim_start": _Trim(
        "Trim Start", "the start", str.lstrip, END_WHITESPACE, "space, tab, CR, LF"
    ),
}


def trim_action(action: str) -> tuple[ActionSpec, RunFunction]:
    """``SPEC`` and ``run`` of ``string/<action>`` from its row of the trim table."""
    row = _TRIMS[action]
    spec = ActionSpec(
        id=f"string/{action}",
        name=row.name,
        description=f"Remove whitespace or the given characters from {row.where} of a string",
        icon="font",
        inputs=(VALUE_INPUT, CHARACTERS_INPUT),
        outputs=outputs_for("Trimmed String"),
        extra={
            "differences": [
                "the `characters` input is this executor's own (upstream's trims have none); "
                f"empty strips what upstream strips ({row.whitespace_name})"
            ]
        },
    )

    def run(ctx: ActionContext) -> Outputs:
        return trimmed(ctx, row.strip, row.whitespace)

    run.__doc__ = (
        f"Any of ``characters`` ({row.whitespace_name} when empty) removed from {row.where}."
    )
    return spec, run


_CASES = {"upper_case": "Upper Case", "lower_case": "Lower Case"}


def case_action(action: str) -> tuple[ActionSpec, RunFunction]:
    """``SPEC`` and ``run`` of ``string/<action>`` from its row of the case table."""
    title = _CASES[action]
    upper = action == "upper_case"
    spec = ActionSpec(
        id=f"string/{action}",
        name=title,
        description=f"Convert a string to {title.lower()}",
        icon="font",
        inputs=(VALUE_INPUT,),
        outputs=outputs_for(f"{title} String"),
    )

    def run(ctx: ActionContext) -> Outputs:
        return success(simple_case(text_input(ctx, "value"), upper=upper))

    run.__doc__ = f"The value with every character mapped to its {title.lower()}."
    return spec, run
