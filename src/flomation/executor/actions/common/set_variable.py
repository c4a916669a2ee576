"""``common/set_variable``: store a flow variable readable as ``${var.NAME}``.

See docs/flows.md §10.4.
"""

from __future__ import annotations

from flomation.executor.accessors import find_input, read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="common/set_variable",
    name="Set Variable",
    description="Store a value in a flow variable",
    icon="pen-to-square",
    inputs=(
        Connection("name", "string", "Name", placeholder="Variable name", required=True),
        Connection("value", "string", "Value", placeholder="Value"),
    ),
    outputs=(
        Connection("name", "string", "Name"),
        Connection("value", "string", "Value"),
    ),
)


def run(ctx: ActionContext) -> Outputs:
    """``{name, value}``; the raw resolved value keeps its type (missing → ``""``)."""
    name = read_string(ctx.inputs, "name") or ""
    if not name:
        raise HardError("variable name is required")
    item = find_input(ctx.inputs, "value")
    value = item.value if item is not None else ""
    ctx.set_variable(name, value)
    return {"name": name, "value": value}
