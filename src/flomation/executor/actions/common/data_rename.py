"""`common/data_rename`: expose a parent's output under another name (docs/flows.md §10.4)."""

from __future__ import annotations

from typing import Any

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
    id="common/data_rename",
    name="Data Rename",
    description="Rename a key from the outputs of connected parent nodes",
    icon="pen",
    open_outputs=True,
    inputs=(
        Connection("input_key", "string", "Input Key", placeholder="old_name", required=True),
        Connection("output_key", "string", "Output Key", placeholder="new_name", required=True),
    ),
    # Upstream declares "renamed"; the value is returned under the output key itself.
    outputs=(Connection("renamed", "object", "Renamed Data"),),
)


def run(ctx: ActionContext) -> Outputs:
    """``{<output_key>: value}`` from the first parent (edge order) that has ``input_key``."""
    input_key = (read_string(ctx.inputs, "input_key") or "").strip()
    if not input_key:
        raise HardError("input_key is required")
    output_key = (read_string(ctx.inputs, "output_key") or "").strip()
    if not output_key:
        raise HardError("output_key is required")
    value: Any = None
    for _, outputs in ctx.parent_outputs():
        if outputs is not None and input_key in outputs:
            value = outputs[input_key]
            break
    else:
        ctx.log("warning", "Input key not found in parent outputs", key=input_key)
    return {output_key: value}
