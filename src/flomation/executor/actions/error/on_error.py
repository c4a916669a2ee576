"""``error/on_error``: the start of the flow's error chain (docs/flows.md §4.10).

The engine never calls it: after a hard error it gives this node the error details as outputs
and walks its children.
"""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="error/on_error",
    name="On Error",
    description="Runs the connected nodes when the flow fails",
    icon="triangle-exclamation",
    outputs=(
        Connection("error_message", "string", "Error Message"),
        Connection("error_node_id", "string", "Error Node ID"),
        Connection("error_node_label", "string", "Error Node Label"),
        Connection("error_node_type", "string", "Error Node Type"),
    ),
)


def run(ctx: ActionContext) -> Outputs:
    """Called directly (never by the engine): every error output empty, as upstream's."""
    return dict.fromkeys(
        ("error_message", "error_node_id", "error_node_label", "error_node_type"), ""
    )
