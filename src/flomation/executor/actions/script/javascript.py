"""``script/javascript``: run JavaScript code as a function body with ``node``.

See docs/flows.md §10.7.

``node`` is looked up on the executor's ``PATH`` each time the action runs; without it the node
fails with the message the editor shows users.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.actions.script._function import (
    ScriptRuntime,
    function_script_inputs,
    process_differences,
    run_function_script,
    script_outputs,
)

__all__ = ["NODE_MISSING_MESSAGE", "SPEC", "run"]

NODE_MISSING_MESSAGE = "Node.js runtime not found: script/javascript requires 'node' on PATH"

SPEC = ActionSpec(
    id="script/javascript",
    name="Run JavaScript",
    description="Execute a JavaScript script as a function body with Node.js",
    icon="code",
    open_outputs=True,
    inputs=(
        Connection(
            "code",
            "code",
            label="JavaScript Code",
            placeholder=(
                "// Inputs are available on the `inputs` object.\n"
                "// Return an object whose keys match your declared outputs, or assign to "
                "outputs.X.\n"
                "return { total: inputs.a + inputs.b };"
            ),
            required=True,
        ),
        Connection(
            "version",
            "string",
            label="JavaScript Version",
            options=({"name": "Node.js", "value": "Node.js"},),
        ),
        *function_script_inputs(
            whole_result="return value",
            input_syntax="inputs.NAME",
            output_types=(
                {"name": "String", "value": "string"},
                {"name": "Number", "value": "number"},
                {"name": "Boolean", "value": "boolean"},
                {"name": "Array", "value": "array"},
                {"name": "Object", "value": "object"},
            ),
        ),
    ),
    outputs=script_outputs(logs_label="Console output"),
    extra=process_differences("runs JavaScript in an embedded interpreter"),
)

_BOOTSTRAP = Path(__file__).with_name("_javascript_bootstrap.js")


def _command() -> list[str]:
    node = shutil.which("node", path=os.environ.get("PATH", ""))
    if node is None:
        raise HardError(
            NODE_MISSING_MESSAGE,
            {
                "tool_result": NODE_MISSING_MESSAGE,
                "logs": "",
                "success": False,
                "error": NODE_MISSING_MESSAGE,
                "duration_ms": 0,
            },
        )
    return [node, str(_BOOTSTRAP)]


_RUNTIME = ScriptRuntime(language="JavaScript", temp_prefix="flomation-js-", command=_command)


def run(ctx: ActionContext) -> Outputs:
    """Run the node's code with ``node``."""
    return run_function_script(ctx, _RUNTIME)
