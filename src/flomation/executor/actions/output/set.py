"""``output/set``: store one flow output ``name`` ← ``value`` (typed) (docs/flows.md §10.3)."""

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
    """``{set: true}`` when the name reads as text and a value input exists (stored raw).

    A name that cannot be read as text (an ``integer`` input holding ``"x"``, a missing one) sets
    nothing and returns ``set: false`` (flomation-co/executor: actions/output/set/action.go).
    """
    name = read_string(ctx.inputs, "name")
    value = find_input(ctx.inputs, "value")
    if name is None or value is None:
        return {"set": False}
    ctx.set_flow_output(name, value.value)
    return {"set": True}
