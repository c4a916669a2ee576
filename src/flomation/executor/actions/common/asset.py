"""`common/asset`: hand on the reference of an uploaded file (docs/flows.md §10.4).

The editor stores the upload's media reference (a ``flo:blob:`` token) in the ``file`` input;
the node only passes it on, trimmed, so file inputs of other nodes can be wired to it.
"""

from __future__ import annotations

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import ActionContext, ActionSpec, Connection, Outputs

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="common/asset",
    name="File Asset",
    description="Reference an uploaded file (logo, image, PSD) from other nodes",
    icon="paperclip",
    inputs=(Connection("file", "file", "File", placeholder="Upload a file", required=True),),
    outputs=(
        Connection("tool_result", "string", "Result summary"),
        Connection("file", "string", "File (media reference)"),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    ),
)


def run(ctx: ActionContext) -> Outputs:
    """``{tool_result, file, success}``; no reference is a soft failure ``no file uploaded``."""
    reference = (read_string(ctx.inputs, "file") or "").strip()
    if not reference:
        return {
            "tool_result": "Error: no file has been uploaded to this asset node",
            "success": False,
            "error": "no file uploaded",
        }
    return {"tool_result": "File asset ready.", "file": reference, "success": True}
