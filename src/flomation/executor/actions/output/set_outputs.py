"""``output/set_outputs``: copy every output of every parent into the flow outputs.

See docs/flows.md §10.3.
"""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="output/set_outputs",
    name="Set Outputs",
    description="Set the flow outputs from every output of the connected nodes",
    type=3,
    icon="arrow-right-from-bracket",
    outputs=(Connection("count", "integer", "Count"),),
    extra={"differences": ["declares its count output (upstream returns it undeclared)"]},
)


def run(ctx: ActionContext) -> Outputs:
    """Parents in edge order, later parents overwrite; ``count`` = keys written."""
    count = 0
    for parent_id, outputs in ctx.parent_outputs():
        if outputs is None:
            # As flomation-co/executor: actions/output/set_outputs/action.go.
            ctx.log("warning", "Parent node has no cached result", parent_id=parent_id)
            continue
        for key, value in outputs.items():
            ctx.set_flow_output(key, value)
            count += 1
    return {"count": count}
