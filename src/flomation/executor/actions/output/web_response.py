"""``output/web_response``: the HTTP response a web trigger returns, as flow output.

See docs/flows.md §10.3.
"""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

_FIELDS = ("body", "status_code", "content_type", "headers", "history")

SPEC = ActionSpec(
    id="output/web_response",
    name="Web Response",
    description="Set the response returned to the caller of a web trigger",
    type=3,
    icon="reply",
    inputs=(
        Connection("body", "text", "Body"),
        Connection("status_code", "integer", "Status Code", placeholder="200"),
        Connection("content_type", "string", "Content Type", placeholder="application/json"),
        Connection("headers", "text", "Headers (JSON object)", placeholder='{"Location":"/x"}'),
        Connection("history", "text", "History"),
    ),
    outputs=(Connection("set", "boolean", "Set"),),
)


def run(ctx: ActionContext) -> Outputs:
    """Store the non-null inputs (raw values) as flow output ``__web_response__``."""
    response: dict[str, object] = {}
    for item in ctx.inputs:
        if item.name in _FIELDS and item.value is not None and item.name not in response:
            response[item.name] = item.value
    ctx.set_flow_output("__web_response__", response)
    return {"set": True}
