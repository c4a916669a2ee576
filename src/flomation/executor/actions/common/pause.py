"""``common/pause``: suspend the execution until it is resumed by hand.

See docs/flows.md §10.4, §4.12.
"""

from __future__ import annotations

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="common/pause",
    name="Pause",
    description="Suspend the flow until it is resumed",
    icon="pause",
    inputs=(
        Connection(
            "reason", "string", "Reason", placeholder="Manual pause", default="Manual pause"
        ),
    ),
    outputs=(
        Connection("tool_result", "string", "Result"),
        Connection("suspended", "boolean", "Suspended"),
        Connection("reason", "string", "Reason"),
    ),
)


def run(ctx: ActionContext) -> Outputs:
    """Suspend with reason ``manual``; when resumed, pass through with ``suspended: false``.

    The resumed ``tool_result`` is ``Resumed: <reason>`` (flomation-co/executor:
    actions/common/pause/action.go).
    """
    reason = read_string(ctx.inputs, "reason") or "Manual pause"
    if ctx.resumed:
        return {"tool_result": "Resumed: " + reason, "suspended": False, "reason": reason}
    ctx.suspend("manual", {"tool_result": reason, "suspended": True, "reason": reason})
    raise AssertionError("ActionContext.suspend returned")  # suspend never returns
