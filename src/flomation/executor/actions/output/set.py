"""``output/set``: store one flow output ``name`` ← ``value`` (typed) (§10.3)."""

from __future__ import annotations

from flomation.executor.accessors import find_input, read_string
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="output/set",
    name="Set Output",
    description="Set a named output of the flow",
    type=3,
    icon="arrow-right-from-bracket",
    inputs=(
        Connection("name", "string", "Name", placeholder="Output name", required=True),
        Connection("value", "string", "Value", placeholder="Value", required=True),
    ),
    outputs=(Connection("set", "boolean", "Set"),),
)


def run(ctx: ActionContext) -> Outputs:
    """``{set: true}`` when both inputs exist (the raw resolved value is stored)."""
    value = find_input(ctx.inputs, "value")
    if find_input(ctx.inputs, "name") is None or value is None:
        return {"set": False}
    ctx.set_flow_output(read_string(ctx.inputs, "name") or "", value.value)
    return {"set": True}
