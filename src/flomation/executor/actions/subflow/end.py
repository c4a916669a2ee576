"""``subflow/end``: the result of a sub-flow; its children are never walked.

See docs/flows.md §10.3.
"""

from __future__ import annotations

from flomation.executor.accessors import find_input, read_string
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.gojson import go_json

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="subflow/end",
    name="Sub-flow End",
    description="End of a sub-flow: its inputs become the invoking node's outputs",
    icon="right-from-bracket",
    open_outputs=True,
    inputs=(
        Connection("return_value", "string", "Return Value"),
        Connection("result", "string", "Result"),
    ),
    outputs=(Connection("tool_result", "string", "Result"),),
    extra={
        "differences": [
            "a `result` input (this executor's own) makes `tool_result` its text, so the invoking "
            "node's `tool_result` is the sub-flow's answer; without one, `tool_result` is "
            "upstream's `Sub-flow returned: <JSON of the inputs>`"
        ]
    },
)


def run(ctx: ActionContext) -> Outputs:
    """Non-null inputs plus ``tool_result``: str(result), else ``Sub-flow returned: <Go-JSON>``."""
    outputs: Outputs = {}
    for item in ctx.inputs:
        if item.value is not None:
            outputs.setdefault(item.name, item.value)
    if find_input(ctx.inputs, "result") is not None:
        tool_result = read_string(ctx.inputs, "result") or ""
    else:
        tool_result = "Sub-flow returned: " + go_json(outputs)
    outputs["tool_result"] = tool_result
    return outputs
