"""``subflow/begin``: the entry of a named sub-flow; echoes its parameters (docs/flows.md §10.3)."""

from __future__ import annotations

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="subflow/begin",
    name="Sub-flow Begin",
    description="Start of a sub-flow that Invoke Sub-flow can call by name",
    icon="right-to-bracket",
    open_outputs=True,
    inputs=(Connection("name", "string", "Name", placeholder="Sub-flow name", required=True),),
    outputs=(Connection("tool_result", "string", "Result"), Connection("name", "string", "Name")),
)


def run(ctx: ActionContext) -> Outputs:
    """``tool_result`` and ``name``, then every other non-null input, name → typed value."""
    name = read_string(ctx.inputs, "name") or ""
    if not name:
        raise HardError("sub-flow name is required")
    outputs: Outputs = {"tool_result": f"Sub-flow '{name}' started", "name": name}
    seen = {"name"}
    for item in ctx.inputs:
        if item.value is not None and item.name not in seen:
            seen.add(item.name)
            outputs[item.name] = item.value
    return outputs
