"""script/bash, script/python and script/javascript run real processes (docs/flows.md §10.6-7)."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flomation.executor.actions.base import ActionCancelled, HardError, RunFunction
from flomation.executor.actions.script import bash, javascript, python
from flomation.executor.actions.script._function import find_secret_literal

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed on this machine")
SECRET_MESSAGE = (
    "Script body contains what looks like a literal secret — store it in environment secrets "
    "and reference it as ${secrets.NAME} from your code instead."
)

# The ``make_ctx`` fixture (tests/executor/actions/conftest.py) builds an ActionContext.
MakeContext = Callable[..., Any]


def kv(rows: dict[str, Any]) -> list[dict[str, Any]]:
    """A key_value_array value from a mapping."""
    return [{"key": key, "value": value} for key, value in rows.items()]


def cancel_after(event: threading.Event, delay_s: float) -> threading.Timer:
    """Set ``event`` after ``delay_s`` seconds from another thread."""
    timer = threading.Timer(delay_s, event.set)
    timer.start()
    return timer


# --- script/bash -------------------------------------------------------------------------------


def test_bash_runs_in_work_dir_with_minimal_environment(make_ctx: MakeContext) -> None:
    """The script runs in the cwd with PATH, HOME=work dir, LANG and the given variables only."""
    ctx = make_ctx(
        (
            "script",
            "text",
            'echo "$HOME|$LANG|$GREETING|$PWD"; env | cut -d= -f1 | sort | tr "\\n" ,',
        ),
        ("environment_variables", "key_value_array", kv({"GREETING": "hi", "": "skipped"})),
    )
    out = bash.run(ctx)
    work_dir = str(ctx.work_dir.resolve())
    first, names = out["stdout"].split("\n")
    assert first == f"{work_dir}|en_GB.UTF-8|hi|{work_dir}"
    assert set(names.strip(",").split(",")) <= {
        "GREETING",
        "HOME",
        "LANG",
        "PATH",
        "PWD",
        "SHLVL",
        "_",
    }
    assert out["exit_code"] == 0 and out["success"] is True
    assert out["working_directory"] == work_dir
    assert not (ctx.work_dir / ".flomation-script.sh").exists()


def test_bash_nonzero_exit_is_hard_error_with_outputs(make_ctx: MakeContext) -> None:
    """Exit 3 fails the node with `script exited with code 3: <stderr>` and the outputs."""
    ctx = make_ctx(("script", "text", "echo out; echo oops >&2; exit 3"))
    with pytest.raises(HardError) as info:
        bash.run(ctx)
    assert info.value.message == "script exited with code 3: oops"
    assert info.value.outputs == {
        "stdout": "out",
        "stderr": "oops",
        "exit_code": 3,
        "success": False,
        "working_directory": str(ctx.work_dir.resolve()),
    }


def test_bash_blank_script_is_required(make_ctx: MakeContext) -> None:
    """A blank or missing script fails with `script is required`."""
    for ctx in (make_ctx(("script", "text", "  \n")), make_ctx()):
        with pytest.raises(HardError, match=r"^script is required$"):
            bash.run(ctx)


def test_bash_sandboxed_uses_and_removes_temp_dir(make_ctx: MakeContext) -> None:
    """A sandboxed script runs in a fresh directory that is removed afterwards."""
    ctx = make_ctx(("script", "text", "pwd; touch made-here"), ("sandboxed", "boolean", True))
    out = bash.run(ctx)
    sandbox = Path(out["working_directory"])
    assert out["stdout"] == str(sandbox)
    assert sandbox != ctx.work_dir.resolve() and not sandbox.exists()
    assert not (ctx.work_dir / "made-here").exists()


@pytest.mark.parametrize(
    ("kind", "flag", "sandboxed"),
    [
        ("boolean", "true", True),
        ("boolean", "True", False),
        ("boolean", "1", False),
        ("boolean", "yes", False),
        ("string", "true", True),
    ],
)
def test_bash_sandboxed_only_when_it_reads_exactly_true(
    make_ctx: MakeContext, kind: str, flag: str, sandboxed: bool
) -> None:
    """Only a ``sandboxed`` that reads as the text ``true`` runs in a temporary directory.

    Upstream: flomation-co/executor actions/script/bash/action.go (``*sc.String() == "true"``).
    """
    ctx = make_ctx(("script", "text", "pwd"), ("sandboxed", kind, flag))
    out = bash.run(ctx)
    assert (Path(out["working_directory"]) != ctx.work_dir.resolve()) is sandboxed


def test_bash_timeout_kills_process_group(make_ctx: MakeContext, tmp_path: Path) -> None:
    """A script over its timeout fails with the timeout message and its children are killed."""
    marker = tmp_path / "child-survived"
    script = f"(sleep 2; touch {marker}) & sleep 30"
    ctx = make_ctx(("script", "text", script), ("timeout_seconds", "integer", 1))
    started = time.monotonic()
    with pytest.raises(HardError, match=r"^script exceeded timeout of 1 seconds$"):
        bash.run(ctx)
    assert time.monotonic() - started < 5
    time.sleep(2.5)
    assert not marker.exists()


def test_bash_output_is_capped_at_one_mebibyte(make_ctx: MakeContext) -> None:
    """stdout is cut to 1 MiB and trimmed."""
    ctx = make_ctx(("script", "text", "head -c 3000000 /dev/zero | tr '\\0' x"))
    out = bash.run(ctx)
    assert out["stdout"] == "x" * (1 << 20)


def test_bash_signal_death_reports_minus_one(make_ctx: MakeContext) -> None:
    """A script killed by a signal reports exit code -1, as Go's ExitCode does."""
    with pytest.raises(HardError, match=r"^script exited with code -1: $"):
        bash.run(make_ctx(("script", "text", "kill -9 $$")))


def test_bash_invalid_environment_name_is_clear_error(make_ctx: MakeContext) -> None:
    """An environment variable name containing '=' is refused with a message naming it."""
    ctx = make_ctx(
        ("script", "text", "true"), ("environment_variables", "key_value_array", kv({"A=B": "x"}))
    )
    with pytest.raises(HardError, match="A=B"):
        bash.run(ctx)


# --- script/python -----------------------------------------------------------------------------


def test_python_return_and_outputs_merge(make_ctx: MakeContext) -> None:
    """Without declared outputs the merged dict lands under `result`; return wins over outputs."""
    code = "print('hello')\noutputs['a'] = 1\noutputs['b'] = 1\nreturn {'b': inputs['x'] * 2}"
    ctx = make_ctx(("code", "code", code), ("inputs_data", "object", {"x": 21}))
    out = python.run(ctx)
    assert out["result"] == {"a": 1, "b": 42}
    assert out["tool_result"] == "script ran successfully (2 top-level keys returned)"
    assert out["logs"] == "hello\n"
    assert out["success"] is True
    assert isinstance(out["duration_ms"], int)
    assert set(out) == {"result", "tool_result", "logs", "success", "duration_ms"}


def test_python_declared_outputs_and_zero_values(make_ctx: MakeContext) -> None:
    """Declared outputs are exactly the names given, missing ones get their type's zero."""
    declared = [
        {"key": " total ", "value": "number"},
        {"key": "name", "value": ""},
        {"key": "flag", "value": "boolean"},
        {"key": "items", "value": "array"},
        {"key": "obj", "value": "object"},
        {"key": "when", "value": "datetime"},
        {"key": "total", "value": "integer"},
        {"key": "", "value": "string"},
    ]
    ctx = make_ctx(
        ("code", "code", "return {'extra': 1}"), ("outputs", "key_value_array", declared)
    )
    out = python.run(ctx)
    assert list(out)[:6] == ["total", "name", "flag", "items", "obj", "when"]
    assert out["total"] == 0 and out["name"] == "" and out["flag"] is False
    assert out["items"] == [] and out["obj"] == {} and out["when"] is None
    assert "extra" not in out
    assert out["tool_result"] == "script ran successfully (6 declared outputs)"


def test_python_inputs_rows_overlay_inputs_data(make_ctx: MakeContext) -> None:
    """input_vars rows override inputs_data keys; a JSON string object is accepted."""
    ctx = make_ctx(
        ("code", "code", "return inputs"),
        ("inputs_data", "object", '{"a": 1, "b": 2}'),
        ("input_vars", "key_value_array", kv({"b": "row", "c": "3"})),
    )
    assert python.run(ctx)["result"] == {"a": 1, "b": "row", "c": "3"}


def test_python_non_dict_return_becomes_result(make_ctx: MakeContext) -> None:
    """A returned list with empty outputs becomes {result: value}; non-JSON values become text."""
    out = python.run(make_ctx(("code", "code", "return [1, 2]")))
    assert out["result"] == {"result": [1, 2]}
    out = python.run(
        make_ctx(("code", "code", "import datetime\nreturn {'d': datetime.date(2026, 1, 2)}"))
    )
    assert out["result"] == {"d": "2026-01-02"}


def test_python_exception_message_is_last_line(make_ctx: MakeContext) -> None:
    """An exception fails the node with `<Type>: <message>` and keeps the captured logs."""
    ctx = make_ctx(("code", "code", "print('before')\nraise ValueError('bad value')"))
    with pytest.raises(HardError) as info:
        python.run(ctx)
    assert info.value.message == "ValueError: bad value"
    outputs = info.value.outputs
    assert outputs is not None
    assert outputs["logs"] == "before\n" and outputs["success"] is False
    assert outputs["tool_result"] == outputs["error"] == "ValueError: bad value"
    assert isinstance(outputs["duration_ms"], int)


def test_python_syntax_error_and_exit(make_ctx: MakeContext) -> None:
    """A syntax error reports `SyntaxError: ...`; sys.exit(0) ends normally, sys.exit(2) fails."""
    with pytest.raises(HardError, match=r"^SyntaxError: "):
        python.run(make_ctx(("code", "code", "def (")))
    assert python.run(make_ctx(("code", "code", "import sys\nsys.exit(0)")))["result"] == {}
    with pytest.raises(HardError, match=r"^SystemExit: 2$"):
        python.run(make_ctx(("code", "code", "import sys\nsys.exit(2)")))


def test_python_isolated_environment_and_temp_dir(
    make_ctx: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script sees only PATH/HOME/LANG, runs isolated in a temp dir that is then removed."""
    monkeypatch.setenv("FLOMATION_TEST_LEAK", "1")
    code = (
        "import os, sys\n"
        "return {'env': sorted(os.environ), 'cwd': os.getcwd(), 'home': os.environ['HOME'],"
        " 'isolated': sys.flags.isolated, 'lang': os.environ['LANG']}"
    )
    result = python.run(make_ctx(("code", "code", code)))["result"]
    assert set(result["env"]) <= {"PATH", "HOME", "LANG", "LC_CTYPE"}
    assert result["cwd"] == result["home"] and not Path(result["cwd"]).exists()
    assert result["isolated"] == 1 and result["lang"] == "C.UTF-8"


def test_python_stdout_then_stderr_logs_capped(make_ctx: MakeContext) -> None:
    """Logs are stdout then stderr, capped at 262144 bytes plus a truncation mark."""
    out = python.run(
        make_ctx(("code", "code", "import sys\nprint('err', file=sys.stderr)\nprint('out')"))
    )
    assert out["logs"] == "out\nerr\n"
    out = python.run(make_ctx(("code", "code", "print('é' * 200000)")))
    assert out["logs"].endswith("\n...truncated")
    assert len(out["logs"].removesuffix("\n...truncated").encode()) == 262144


def test_python_code_required_and_size_limit(make_ctx: MakeContext) -> None:
    """Blank code and code over 65536 bytes fail before anything runs."""
    with pytest.raises(HardError) as info:
        python.run(make_ctx(("code", "code", "   ")))
    assert info.value.message == "code is required"
    assert info.value.outputs == {
        "tool_result": "code is required",
        "logs": "",
        "success": False,
        "error": "code is required",
        "duration_ms": 0,
    }
    with pytest.raises(
        HardError, match=r"^script body exceeds 65536 bytes — split it into a sub-flow$"
    ):
        python.run(make_ctx(("code", "code", "#" * 65537)))


def test_python_literal_secret_is_refused(make_ctx: MakeContext) -> None:
    """Code holding a literal token fails with the guard message and its three outputs."""
    ctx = make_ctx(("code", "code", "key = 'ghp_" + "a" * 30 + "'"))
    with pytest.raises(HardError) as info:
        python.run(ctx)
    assert info.value.message == SECRET_MESSAGE
    assert info.value.outputs == {
        "tool_result": SECRET_MESSAGE,
        "success": False,
        "error": SECRET_MESSAGE,
    }


def test_secret_guard_patterns_and_reference_exemption() -> None:
    """Each pattern family is detected and ${secrets...} references are ignored."""
    samples = [
        "sk_" + "a" * 20,
        "xoxb-123-abc",
        "xapp-1-x",
        "AKIA" + "A" * 16,
        "eyJ" + "a" * 20 + ".b",
        "glpat-" + "a" * 20,
        "sk-ant-" + "a" * 20,
        "-----BEGIN OPENSSH PRIVATE KEY",
    ]
    for sample in samples:
        assert find_secret_literal(f"x = '{sample}'"), sample
    assert not find_secret_literal("x = '${secrets.sk_" + "a" * 30 + "}'")
    assert not find_secret_literal("x = '${credential.ghp_" + "a" * 30 + "}'")
    assert not find_secret_literal("mask_" + "a" * 30)


def test_python_timeout_message(make_ctx: MakeContext) -> None:
    """A script running past its timeout fails with the Python timeout message and its logs."""
    ctx = make_ctx(
        ("code", "code", "import time\nprint('start')\ntime.sleep(30)"),
        ("timeout_seconds", "integer", 1),
    )
    with pytest.raises(HardError) as info:
        python.run(ctx)
    assert info.value.message == "Python script exceeded timeout of 1 seconds"
    assert info.value.outputs is not None and info.value.outputs["logs"] == "start\n"


def test_python_hard_exit_without_result(make_ctx: MakeContext) -> None:
    """A process that dies without reporting fails with a message naming its exit code."""
    with pytest.raises(HardError, match=r"^Python script exited with code 7 without a result$"):
        python.run(make_ctx(("code", "code", "import os\nos._exit(7)")))


def test_python_runtime_is_executor_interpreter() -> None:
    """script/python uses the executor's own interpreter in isolated mode."""
    assert python._command()[:3] == [sys.executable, "-I", "-u"]


# --- script/javascript -------------------------------------------------------------------------


@needs_node
def test_javascript_return_outputs_and_console(make_ctx: MakeContext) -> None:
    """JS code gets inputs/outputs, console levels are captured with prefixes, return merges."""
    code = (
        "console.log('a', 1, {k: true});\nconsole.warn('careful');\nconsole.error('bad');\n"
        "outputs.x = 1;\nconst v = await Promise.resolve(inputs.n + 1);\nreturn {y: v};"
    )
    ctx = make_ctx(("code", "code", code), ("input_vars", "key_value_array", kv({"n": "4"})))
    out = javascript.run(ctx)
    assert out["result"] == {"x": 1, "y": "41"}
    assert out["logs"] == 'a 1 {"k":true}\n[warn] careful\n[error] bad\n'
    assert out["success"] is True


@needs_node
def test_javascript_exception_and_non_object_return(make_ctx: MakeContext) -> None:
    """A thrown error reports `<Name>: <message>`; a returned number becomes {result: n}."""
    with pytest.raises(HardError, match=r"^TypeError: nope$"):
        javascript.run(make_ctx(("code", "code", "throw new TypeError('nope')")))
    with pytest.raises(HardError, match=r"^SyntaxError: "):
        javascript.run(make_ctx(("code", "code", "return {")))
    assert javascript.run(make_ctx(("code", "code", "return 5")))["result"] == {"result": 5}


@needs_node
def test_javascript_timeout_message(make_ctx: MakeContext) -> None:
    """An endless loop hits the JS timeout message."""
    ctx = make_ctx(("code", "code", "while (true) {}"), ("timeout_seconds", "integer", 1))
    with pytest.raises(HardError, match=r"^JavaScript script exceeded timeout of 1 seconds$"):
        javascript.run(ctx)


def test_javascript_without_node_on_path(
    make_ctx: MakeContext, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no `node` on PATH the node fails with the runtime-not-found message and outputs."""
    empty_bin = tmp_path / "bin-without-node"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    with pytest.raises(HardError) as info:
        javascript.run(make_ctx(("code", "code", "return 1")))
    message = "Node.js runtime not found: script/javascript requires 'node' on PATH"
    assert info.value.message == message
    assert info.value.outputs == {
        "tool_result": message,
        "logs": "",
        "success": False,
        "error": message,
        "duration_ms": 0,
    }
    assert os.environ["PATH"] == str(empty_bin)


# --- every script action -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "code"),
    [
        pytest.param(bash.run, ("script", "text", "sleep 30"), id="bash"),
        pytest.param(python.run, ("code", "code", "import time\ntime.sleep(30)"), id="python"),
        pytest.param(
            javascript.run, ("code", "code", "while (true) {}"), id="javascript", marks=needs_node
        ),
    ],
)
def test_cancellation_kills_the_script_promptly(
    make_ctx: MakeContext, run: RunFunction, code: tuple[str, str, str]
) -> None:
    """Setting the cancel event while the script runs ends the action with ActionCancelled
    within 3 s."""
    ctx = make_ctx(code)
    cancel_after(ctx.cancel_event, 0.3)
    started = time.monotonic()
    with pytest.raises(ActionCancelled):
        run(ctx)
    assert time.monotonic() - started < 3
