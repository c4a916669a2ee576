"""``subflow/begin``: the entry of a named sub-flow; echoes its parameters (docs/flows.md §10.3)."""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="subflow/begin",
    name="Sub-flow Begin",
    description="Start of a sub-flow that Invoke Sub-flow can call by name",
    icon="right-to-bracket",
    open_outputs=True,
    inputs=(Connection("name", "string", "Name", placeholder="Sub-flow name", required=True),),
)


def run(ctx: ActionContext) -> Outputs:
    """Every input with a non-null value, name → typed value."""
    outputs: Outputs = {}
    for item in ctx.inputs:
        if item.value is not None:
            outputs.setdefault(item.name, item.value)
    return outputs
