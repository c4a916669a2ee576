"""``conditional/switch``: route to the first matching case ``case_<i>``, else ``default``."""

from __future__ import annotations

from collections.abc import Callable

from flomation.executor.accessors import find_input, read_kv, read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.goregexp import GoRegexpError, match_string

__all__ = ["SPEC", "run"]


def _regex(value: str, pattern: str) -> bool:
    """Go's ``regexp.MatchString`` (RE2 syntax); an invalid pattern never matches."""
    try:
        return match_string(pattern, value)
    except GoRegexpError:
        return False


_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "equals": lambda value, case: value.lower() == case.lower(),
    "contains": lambda value, case: case.lower() in value.lower(),
    "starts_with": lambda value, case: value.lower().startswith(case.lower()),
    "ends_with": lambda value, case: value.lower().endswith(case.lower()),
    "regex": _regex,
}

SPEC = ActionSpec(
    id="conditional/switch",
    name="Switch",
    description="Route to the first case that matches the value",
    type=6,
    icon="shuffle",
    inputs=(
        Connection("value", "string", "Value", required=True),
        Connection(
            "operator",
            "string",
            "Operator",
            options=tuple({"name": name, "value": name} for name in _MATCHERS),
            default="equals",
        ),
        Connection("cases", "key_value_array", "Cases", required=True),
    ),
    outputs=(
        Connection("matched_case", "string", "Matched Case"),
        Connection("value", "string", "Value"),
        Connection("matched", "boolean", "Matched"),
    ),
)


def run(ctx: ActionContext) -> Outputs:
    """``{matched_case, value, matched}``; unknown operators compare with ``equals``.

    The operator is used as given, untrimmed (`` regex `` is unknown, so ``equals``), as in
    flomation-co/executor: actions/conditional/switch/action.go.
    """
    value = read_string(ctx.inputs, "value")
    if value is None:
        raise HardError("value is required")
    if find_input(ctx.inputs, "cases") is None:
        raise HardError("cases are required")
    operator = read_string(ctx.inputs, "operator") or "equals"
    matches = _MATCHERS.get(operator, _MATCHERS["equals"])
    for index, case in enumerate(read_kv(ctx.inputs, "cases")):
        if matches(value, case.value):
            return {"matched_case": f"case_{index}", "value": value, "matched": True}
    return {"matched_case": "default", "value": value, "matched": False}
