"""The shared driver of ``script/python`` and ``script/javascript`` (docs/flows.md §10.7).

Validates the code (size, literal-secret guard), builds the script inputs and the declared
outputs, runs a bootstrap program (``_python_bootstrap.py`` or ``_javascript_bootstrap.js``) in a
fresh temporary directory with a minimal environment, and turns its result into node outputs.
The request and the result travel through two unlinked temporary files handed to the child as
extra file descriptors, so the script's stdout stays free for its own prints (the ``logs``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flomation.executor.accessors import find_input, read_kv, read_number, read_string
from flomation.executor.actions.base import ActionContext, Connection, HardError, Outputs
from flomation.executor.actions.script._subprocess import (
    ProcessResult,
    ProcessStartError,
    log_script_lines,
    run_process,
    utf8_prefix,
)

__all__ = [
    "ScriptRuntime",
    "declared_outputs",
    "find_secret_literal",
    "function_script_inputs",
    "process_differences",
    "run_function_script",
    "script_outputs",
]


def function_script_inputs(
    *,
    whole_result: str,
    input_syntax: str,
    output_types: tuple[Mapping[str, str], ...] | None = None,
) -> tuple[Connection, ...]:
    """The manifest inputs a function-body script action has after its code (what the driver
    reads): declared outputs, named inputs, the inputs object and the timeout.

    ``whole_result`` names what is emitted under ``result`` when no output is declared;
    ``input_syntax`` is how the script reads an input; ``output_types`` the editor's type choices.
    """
    return (
        Connection(
            "outputs",
            "key_value_array",
            label="Outputs (name → type)",
            placeholder=(
                "e.g. total → number, status → string. Leave empty to emit the whole "
                f'{whole_result} under "result".'
            ),
            options=output_types,
        ),
        Connection(
            "input_vars",
            "key_value_array",
            label="Inputs",
            placeholder=f"Add each input by name; read it in the script as {input_syntax}.",
        ),
        Connection(
            "inputs_data",
            "object",
            label="Inputs (JSON object — advanced)",
            placeholder="Optional. A whole JSON object merged under the named Inputs above.",
        ),
        Connection(
            "timeout_seconds", "integer", label="Timeout (seconds)", placeholder="30", default=30
        ),
    )


def process_differences(upstream: str) -> dict[str, list[str]]:
    """The manifest's ``differences`` of a function-body script action: it runs as a process,
    where ``upstream`` (``runs Python inside ...``) says how upstream runs the language."""
    return {
        "differences": [
            "the script runs as a separate process in a fresh temporary directory, not a "
            f"security sandbox (upstream {upstream}; docs/flows.md §10.7)"
        ]
    }


def script_outputs(*, logs_label: str) -> tuple[Connection, ...]:
    """The manifest outputs of a function-body script action."""
    return (
        Connection("tool_result", "string", label="Result summary"),
        Connection("logs", "string", label=logs_label),
        Connection("success", "boolean", label="Success"),
        Connection("duration_ms", "integer", label="Duration (ms)"),
    )


_MAX_CODE_BYTES = 65536
_MAX_LOG_BYTES = 262144
_LOG_TRUNCATED_MARK = "\n...truncated"
_DEFAULT_TIMEOUT_S = 30
_MAX_TIMEOUT_S = 300
# The result is JSON the script produced; anything larger than this is refused rather than
# loaded into the executor's memory.
_MAX_RESULT_BYTES = 64 << 20
_SECRET_MESSAGE = (
    "Script body contains what looks like a literal secret — store it in environment secrets "
    "and reference it as ${secrets.NAME} from your code instead."
)
_SECRET_REFERENCE = re.compile(r"\$\{(secrets?|credentials?)\.[^}]+\}")
_SECRET_PATTERNS = tuple(
    re.compile(pattern, re.ASCII)
    for pattern in (
        r"\b(sk|pk|rk)[-_][a-zA-Z0-9]{20,}",
        r"\b(ghp|gho|ghu|ghs|ghr)_[a-zA-Z0-9]{20,}",
        r"\bxox[bpsa]-[a-zA-Z0-9-]+",
        r"\bxapp-[a-zA-Z0-9-]+",
        r"\bAKIA[A-Z0-9]{16}",
        r"\beyJ[a-zA-Z0-9_-]{20,}\.[a-zA-Z0-9_-]+",
        r"\bglpat-[a-zA-Z0-9_-]{20,}",
        r"\bsk-ant-[a-zA-Z0-9_-]{20,}",
        r"-----BEGIN (RSA |EC |DSA |OPENSSH )?PRIVATE KEY",
    )
)
_ZERO_VALUES: dict[str, Callable[[], Any]] = {
    "string": str,
    "number": int,
    "integer": int,
    "float": int,
    "boolean": bool,
    "bool": bool,
    "array": list,
    "object": dict,
}


@dataclass(frozen=True)
class ScriptRuntime:
    """How to start one language's bootstrap program."""

    language: str
    """Used in messages: ``Python`` or ``JavaScript``."""
    temp_prefix: str
    command: Callable[[], list[str]]
    """The command line without the two fd arguments; raises HardError when unavailable."""


def find_secret_literal(code: str) -> bool:
    """True when the code, with secret/credential references removed, holds a literal secret."""
    cleaned = _SECRET_REFERENCE.sub("", code)
    return any(pattern.search(cleaned) for pattern in _SECRET_PATTERNS)


def declared_outputs(ctx: ActionContext) -> dict[str, str]:
    """Name -> type from the ``outputs`` rows: trimmed, empty skipped, first position, last type."""
    declared: dict[str, str] = {}
    for row in read_kv(ctx.inputs, "outputs"):
        name = row.key.strip()
        if name:
            declared[name] = row.value.strip() or "string"
    return declared


def _script_inputs(ctx: ActionContext) -> dict[str, Any]:
    data = find_input(ctx.inputs, "inputs_data")
    value = None if data is None else data.value
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    inputs: dict[str, Any] = dict(value) if isinstance(value, dict) else {}
    for row in read_kv(ctx.inputs, "input_vars"):
        if row.key:
            inputs[row.key] = row.value
    return inputs


def _timeout_s(ctx: ActionContext) -> int:
    requested = read_number(ctx.inputs, "timeout_seconds")
    if requested is None or requested <= 0:
        return _DEFAULT_TIMEOUT_S
    return min(requested, _MAX_TIMEOUT_S)


def _failure(message: str, logs: str, duration_ms: int) -> HardError:
    return HardError(
        message,
        {
            "tool_result": message,
            "logs": logs,
            "success": False,
            "error": message,
            "duration_ms": duration_ms,
        },
    )


def _logs(result: ProcessResult) -> str:
    combined = result.stdout + result.stderr
    truncated = result.stdout_truncated or result.stderr_truncated
    if len(combined) > _MAX_LOG_BYTES or truncated:
        return utf8_prefix(combined, _MAX_LOG_BYTES).decode("utf-8", "replace") + (
            _LOG_TRUNCATED_MARK
        )
    return combined.decode("utf-8", "replace")


def _zero(type_name: str) -> Any:
    factory = _ZERO_VALUES.get(type_name.lower())
    return None if factory is None else factory()


def _build_outputs(declared: dict[str, str], merged: dict[str, Any]) -> Outputs:
    if not declared:
        return {"result": merged}
    return {
        name: merged[name] if name in merged else _zero(type_name)
        for name, type_name in declared.items()
    }


def _merge(result: dict[str, Any]) -> dict[str, Any]:
    outputs = result.get("outputs")
    merged: dict[str, Any] = dict(outputs) if isinstance(outputs, dict) else {}
    returned = result.get("returned")
    if isinstance(returned, dict):
        merged.update(returned)
    elif returned is not None and not merged:
        merged = {"result": returned}
    return merged


def _read_result(handle: Any) -> dict[str, Any] | None:
    handle.seek(0)
    raw = handle.read(_MAX_RESULT_BYTES + 1)
    if not raw:
        return None
    if len(raw) > _MAX_RESULT_BYTES:
        return {"ok": False, "error": f"script result exceeds {_MAX_RESULT_BYTES} bytes"}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        return {"ok": False, "error": f"unreadable script result: {exc}"}
    return parsed if isinstance(parsed, dict) else None


def _unfinished_message(language: str, result: ProcessResult) -> str:
    # The bootstrap always reports, so a missing result means the process died (os._exit,
    # a signal, a crash of the runtime itself): its last stderr line says most about why.
    lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
    if lines:
        return lines[-1].strip()
    return f"{language} script exited with code {result.exit_code} without a result"


def _run_bootstrap(
    ctx: ActionContext, runtime: ScriptRuntime, argv: Sequence[str], request: bytes, timeout_s: int
) -> tuple[ProcessResult, dict[str, Any] | None]:
    work_dir = Path(tempfile.mkdtemp(prefix=runtime.temp_prefix))
    try:
        with tempfile.TemporaryFile() as request_file, tempfile.TemporaryFile() as result_file:
            request_file.write(request)
            request_file.flush()
            request_file.seek(0)
            fds = (request_file.fileno(), result_file.fileno())
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work_dir), "LANG": "C.UTF-8"}
            try:
                result = run_process(
                    [*argv, str(fds[0]), str(fds[1])],
                    cwd=work_dir,
                    env=env,
                    timeout_s=timeout_s,
                    cancel_event=ctx.cancel_event,
                    max_output_bytes=_MAX_LOG_BYTES + 1,
                    pass_fds=fds,
                    on_line=log_script_lines(ctx),
                )
            except ProcessStartError as exc:
                raise _failure(f"failed to start {runtime.language}: {exc}", "", 0) from exc
            return result, _read_result(result_file)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def run_function_script(ctx: ActionContext, runtime: ScriptRuntime) -> Outputs:
    """Run the node's ``code`` as a function body with ``runtime`` and build its outputs."""
    code = read_string(ctx.inputs, "code")
    if code is None or not code.strip():
        raise _failure("code is required", "", 0)
    if len(code.encode("utf-8")) > _MAX_CODE_BYTES:
        raise _failure(
            f"script body exceeds {_MAX_CODE_BYTES} bytes — split it into a sub-flow", "", 0
        )
    if find_secret_literal(code):
        raise HardError(
            _SECRET_MESSAGE,
            {"tool_result": _SECRET_MESSAGE, "success": False, "error": _SECRET_MESSAGE},
        )
    declared = declared_outputs(ctx)
    timeout_s = _timeout_s(ctx)
    request = json.dumps({"code": code, "inputs": _script_inputs(ctx)}, default=str).encode()
    argv = runtime.command()
    started = time.monotonic()
    result, reply = _run_bootstrap(ctx, runtime, argv, request, timeout_s)
    duration_ms = int((time.monotonic() - started) * 1000)
    logs = _logs(result)
    if result.timed_out:
        message = f"{runtime.language} script exceeded timeout of {timeout_s} seconds"
        raise _failure(message, logs, duration_ms)
    if reply is None:
        raise _failure(_unfinished_message(runtime.language, result), logs, duration_ms)
    if not reply.get("ok"):
        raise _failure(str(reply.get("error") or "script failed"), logs, duration_ms)
    merged = _merge(reply)
    outputs = _build_outputs(declared, merged)
    if declared:
        outputs["tool_result"] = f"script ran successfully ({len(declared)} declared outputs)"
    else:
        outputs["tool_result"] = f"script ran successfully ({len(merged)} top-level keys returned)"
    outputs["logs"] = logs
    outputs["success"] = True
    outputs["duration_ms"] = duration_ms
    return outputs
