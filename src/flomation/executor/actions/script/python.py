"""``script/python``: run Python code as a function body in a separate process.

See docs/flows.md §10.7.

The executor's own interpreter runs the bootstrap in isolated mode (``-I``: no user site, no
``PYTHON*`` variables, no script directory on ``sys.path``) and unbuffered (``-u``) so that the
prints made before a timeout still reach ``logs``.
"""

from __future__ import annotations

import sys
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

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="script/python",
    name="Run Python",
    description="Execute a Python script as a function body in a separate process",
    icon="code",
    open_outputs=True,
    inputs=(
        Connection(
            "code",
            "code",
            label="Python Code",
            placeholder=(
                "# Inputs are in the `inputs` dict; assign to `outputs`\n"
                "# or return a dict — either form populates the outputs.\n"
                "outputs['total'] = inputs['a'] + inputs['b']\n"
                "return {'status': 'ok'}"
            ),
            required=True,
        ),
        *function_script_inputs(whole_result="outputs dict", input_syntax="inputs['NAME']"),
    ),
    outputs=script_outputs(logs_label="stdout"),
    extra=process_differences("runs Python inside a WebAssembly sandbox"),
)

_BOOTSTRAP = Path(__file__).with_name("_python_bootstrap.py")


def _command() -> list[str]:
    if not sys.executable:
        raise HardError("Python runtime not found: the executor cannot locate its interpreter")
    return [sys.executable, "-I", "-u", str(_BOOTSTRAP)]


_RUNTIME = ScriptRuntime(language="Python", temp_prefix="flomation-py-", command=_command)


def run(ctx: ActionContext) -> Outputs:
    """Run the node's code with the executor's Python interpreter."""
    return run_function_script(ctx, _RUNTIME)
