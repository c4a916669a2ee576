"""`string/contains`: whether a text contains another (docs/flows.md §10.5)."""

from __future__ import annotations

from flomation.executor.accessors import read_bool
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.string._result import (
    VALUE_INPUT,
    outputs_for,
    simple_case,
    text_input,
)

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="string/contains",
    name="Contains",
    description="Check whether a string contains a substring",
    icon="font",
    inputs=(
        VALUE_INPUT,
        Connection("search", "string", "Search For", required=True),
        Connection("case_sensitive", "boolean", "Case Sensitive", default=True),
    ),
    outputs=outputs_for("Contains", "boolean"),
)


def run(ctx: ActionContext) -> Outputs:
    """``result`` is a boolean; ``tool_result`` the text ``true`` or ``false``.

    ``case_sensitive`` false compares both texts lower-cased (Go's simple case mapping).
    """
    value = text_input(ctx, "value")
    search = text_input(ctx, "search")
    if read_bool(ctx.inputs, "case_sensitive") is False:
        value, search = simple_case(value, upper=False), simple_case(search, upper=False)
    found = search in value
    return {
        "tool_result": "true" if found else "false",
        "result": found,
        "success": True,
        "error": "",
    }
