"""`common/data_combine`: merge the outputs of every parent into one object.

See docs/flows.md §10.4.
"""

from __future__ import annotations

from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs
from flomation.executor.actions.common._json_values import merged_parent_outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="common/data_combine",
    name="Data Combine",
    description="Combine the outputs of all connected parent nodes into one object",
    icon="object-group",
    outputs=(Connection("combined", "object", "Combined Data"),),
)


def run(ctx: ActionContext) -> Outputs:
    """``{combined}``: parents merged in edge order; overwrites and empty parents are logged."""
    return {"combined": merged_parent_outputs(ctx, log_problems=True)}
