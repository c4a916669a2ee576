"""``trigger/webhook`` (and every other ``trigger/...`` id): echo each non-null input.

See docs/flows.md §10.2.
"""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="trigger/webhook",
    name="Webhook Trigger",
    description="Start the flow from an HTTP call; its payload becomes the trigger's outputs",
    type=1,
    icon="globe",
    open_outputs=True,
    # The outputs upstream declares (flomation-co/executor actions/trigger/webhook/action.go); the
    # values come from the trigger data the platform injects.
    outputs=(
        Connection("body", "string", "Request Body"),
        Connection("method", "string", "HTTP Method"),
        Connection("content_type", "string", "Content Type"),
        Connection("triggered_at", "string", "Triggered At"),
    ),
)


def run(ctx: ActionContext) -> Outputs:
    """Every input with a non-null value, name → typed value (first of a name wins)."""
    outputs: Outputs = {}
    for item in ctx.inputs:
        if item.value is not None:
            outputs.setdefault(item.name, item.value)
    return outputs
