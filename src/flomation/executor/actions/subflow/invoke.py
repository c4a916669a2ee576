"""``subflow/invoke``: call the sub-flow named ``sub_flow_name``; the engine runs it.

See docs/flows.md §10.3 and §4.9.
"""

from __future__ import annotations

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="subflow/invoke",
    name="Invoke Sub-flow",
    description="Run a sub-flow of this flow by name and return its result",
    icon="diagram-project",
    open_outputs=True,
    inputs=(Connection("sub_flow_name", "string", "Sub-flow Name", required=True),),
    outputs=(
        Connection("tool_result", "string", "Result"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
    extra={
        "differences": [
            "the name is trimmed, so one of only spaces is the soft failure `sub_flow_name is "
            "required` (upstream passes it on untrimmed and finds no sub-flow)"
        ]
    },
)


def run(ctx: ActionContext) -> Outputs:
    """``__subflow_name`` plus the other non-null inputs; no name is a soft failure."""
    name = (read_string(ctx.inputs, "sub_flow_name") or "").strip()
    if not name:
        message = "sub_flow_name is required"
        return {"tool_result": message, "success": False, "error": message}
    outputs: Outputs = {
        "__subflow_name": name,
        "tool_result": f"Invoking sub-flow '{name}'",
        "success": True,
        "error": "",
    }
    for item in ctx.inputs:
        if item.name != "sub_flow_name" and item.value is not None:
            outputs.setdefault(item.name, item.value)
    return outputs
