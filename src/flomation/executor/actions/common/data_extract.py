"""`common/data_extract`: keep only the named keys of the parents' outputs (docs/flows.md §10.4)."""

from __future__ import annotations

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.common._json_values import merged_parent_outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="common/data_extract",
    name="Data Extract",
    description="Extract selected keys from the outputs of connected parent nodes",
    icon="filter",
    inputs=(
        Connection(
            "keys", "text", "Keys (comma-separated)", placeholder="name, email", required=True
        ),
    ),
    outputs=(Connection("extracted", "object", "Extracted Data"),),
)


def run(ctx: ActionContext) -> Outputs:
    """``{extracted}`` with the requested keys that exist; missing keys are logged."""
    # Each key once (a repeated key is one request, one warning), in the order first given.
    keys = dict.fromkeys(
        key.strip() for key in (read_string(ctx.inputs, "keys") or "").split(",") if key.strip()
    )
    if not keys:
        return {"extracted": {}}
    available = merged_parent_outputs(ctx, log_problems=False)
    extracted: Outputs = {}
    for key in keys:
        if key in available:
            extracted[key] = available[key]
        else:
            ctx.log("warning", "Requested key not found in parent outputs", key=key)
    return {"extracted": extracted}
