"""``script/bash``: run a Bash script in the work directory or a throw-away one.

See docs/flows.md §10.6.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from flomation.executor.accessors import read_kv, read_number, read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.actions.script._subprocess import (
    ProcessStartError,
    log_script_lines,
    run_process,
    utf8_prefix,
)

__all__ = ["SPEC", "run"]

SPEC = ActionSpec(
    id="script/bash",
    name="Run Bash Script",
    description="Execute a Bash script in the current working directory",
    icon="terminal",
    inputs=(
        Connection(
            "script",
            "text",
            label="Script",
            placeholder='#!/bin/bash\necho "Hello, World!"',
            required=True,
        ),
        Connection(
            "timeout_seconds", "integer", label="Timeout (seconds)", placeholder="60", default=60
        ),
        Connection("sandboxed", "boolean", label="Run in Sandboxed Directory"),
        Connection("environment_variables", "key_value_array", label="Environment Variables"),
    ),
    outputs=(
        # Declared by upstream but never set (flomation-co/executor actions/script/bash/action.go).
        Connection("tool_result", "string", "Result summary"),
        Connection("stdout", "string"),
        Connection("stderr", "string"),
        Connection("exit_code", "integer"),
        Connection("success", "boolean"),
        Connection("working_directory", "string"),
    ),
    extra={
        "differences": [
            "an environment variable whose name holds `=` or NUL is the hard error `invalid "
            "environment variable ...` (upstream passes it to the process as it is)"
        ]
    },
)

_DEFAULT_TIMEOUT_S = 60
_MAX_TIMEOUT_S = 300
_MAX_OUTPUT_BYTES = 1 << 20
_SCRIPT_NAME = ".flomation-script.sh"
_BASH = "/bin/bash"


def _timeout_s(ctx: ActionContext) -> int:
    requested = read_number(ctx.inputs, "timeout_seconds")
    if requested is None or requested <= 0:
        return _DEFAULT_TIMEOUT_S
    return min(requested, _MAX_TIMEOUT_S)


def _environment(ctx: ActionContext, work_dir: Path) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work_dir), "LANG": "en_GB.UTF-8"}
    for row in read_kv(ctx.inputs, "environment_variables"):
        if not row.key:
            continue
        if "=" in row.key or "\0" in row.key or "\0" in row.value:
            raise HardError(f"invalid environment variable {row.key!r}: '=' and NUL not allowed")
        env[row.key] = row.value
    return env


def _text(data: bytes) -> str:
    return utf8_prefix(data, _MAX_OUTPUT_BYTES).decode("utf-8", "replace").strip()


def _run_in(ctx: ActionContext, script: str, work_dir: Path) -> Outputs:
    work_dir = work_dir.resolve()
    env = _environment(ctx, work_dir)
    timeout_s = _timeout_s(ctx)
    script_path = work_dir / _SCRIPT_NAME
    try:
        fd = os.open(script_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(script)
    except OSError as exc:
        raise HardError(f"failed to write script: {exc}") from exc
    try:
        result = run_process(
            [_BASH, str(script_path)],
            cwd=work_dir,
            env=env,
            timeout_s=timeout_s,
            cancel_event=ctx.cancel_event,
            max_output_bytes=_MAX_OUTPUT_BYTES,
            on_line=log_script_lines(ctx),
        )
    except ProcessStartError as exc:
        raise HardError(f"failed to execute script: {exc}") from exc
    finally:
        script_path.unlink(missing_ok=True)
    if result.timed_out:
        raise HardError(f"script exceeded timeout of {timeout_s} seconds")
    stdout, stderr = _text(result.stdout), _text(result.stderr)
    outputs: Outputs = {
        "stdout": stdout,
        "stderr": stderr,
        "exit_code": result.exit_code,
        "success": result.exit_code == 0,
        "working_directory": str(work_dir),
    }
    if result.exit_code != 0:
        raise HardError(f"script exited with code {result.exit_code}: {stderr}", outputs)
    return outputs


def run(ctx: ActionContext) -> Outputs:
    """Run the script with a minimal environment; a non-zero exit is a hard error."""
    script = read_string(ctx.inputs, "script")
    if script is None or not script.strip():
        raise HardError("script is required")
    # Upstream compares the String() reading with "true" exactly: "True", "1" and "yes" are
    # not sandboxed (flomation-co/executor actions/script/bash/action.go).
    if read_string(ctx.inputs, "sandboxed") != "true":
        return _run_in(ctx, script, ctx.work_dir)
    try:
        sandbox = Path(tempfile.mkdtemp(prefix="flomation-bash-"))
    except OSError as exc:
        raise HardError(f"failed to create temporary directory: {exc}") from exc
    try:
        return _run_in(ctx, script, sandbox)
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
