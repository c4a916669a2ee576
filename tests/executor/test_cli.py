"""The ``flomation-executor`` command line as the runner uses it: real subprocesses.

See docs/flows.md §2, §9.1; docstrings starting ``C<n>:`` pin the rules of docs/flows.md §12.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from executor.engine_harness import edge, flow_document, node, run_cli, value, written_state
from flomation.executor.gojson import go_json
from flomation.version import distribution_version

TRIGGER = node("t", "trigger/manual", 1)
_RUN = [
    "--output",
    "json",
    "--path",
    "execution.flow",
    "--entry",
    "",
    "--id",
    "exec-1",
    "--flow",
    "flow-1",
    "--api",
    "http://127.0.0.1:9",
    "--runner",
    "tests",
]


def _write_flow(directory: Path, document: str) -> None:
    (directory / "execution.flow").write_text(document, encoding="utf-8")


def _events(stdout: str) -> list[tuple[str, str]]:
    prefix = "__NODE__:"
    parsed = [
        json.loads(line[len(prefix) :]) for line in stdout.splitlines() if line.startswith(prefix)
    ]
    return [(event["id"], event["status"]) for event in parsed]


def _logs(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines()]


def test_version_prints_name_and_version(tmp_path: Path) -> None:
    """C22: --version prints ``flomation-executor VERSION`` and a newline, exit 0, no log line."""
    completed = run_cli(["--version"], tmp_path)
    assert completed.returncode == 0
    assert completed.stdout == f"flomation-executor {distribution_version()}\n"
    assert completed.stderr == ""


def test_flag_errors_exit_two_with_usage(tmp_path: Path) -> None:
    """C22: an unknown flag prints the Go message and the usage text, exit 2."""
    completed = run_cli(["--bogus"], tmp_path)
    assert completed.returncode == 2
    assert completed.stderr.startswith(
        "flag provided but not defined: -bogus\nUsage of flomation-executor:"
    )


def test_help_exits_zero(tmp_path: Path) -> None:
    """-h prints the usage text and exits 0."""
    completed = run_cli(["-h"], tmp_path)
    assert completed.returncode == 0
    assert completed.stderr.startswith("Usage of flomation-executor:")


def test_missing_path_exits_one(tmp_path: Path) -> None:
    """C22: no --path logs 'no path specified' after the start line, usage on stderr, exit 1."""
    completed = run_cli(["--output", "json"], tmp_path)
    assert completed.returncode == 1
    lines = completed.stderr.splitlines()
    assert json.loads(lines[0])["msg"] == "Starting Flomation Executor"
    assert json.loads(lines[1])["msg"] == "no path specified"
    assert "Usage of flomation-executor:" in completed.stderr
    assert not (tmp_path / "state.json").exists()


def test_invalid_flow_exits_one_withoutwritten_state(tmp_path: Path) -> None:
    """C22: an invalid flow file logs 'Unable to load flow' with the error, exit 1, no state."""
    _write_flow(tmp_path, '{"nodes": [ {"id": 5} ]}')
    completed = run_cli(_RUN, tmp_path)
    assert completed.returncode == 1
    failure = _logs(completed.stderr)[-1]
    assert failure["msg"] == "Unable to load flow"
    assert "nodes[0].id" in failure["error"]
    assert not (tmp_path / "state.json").exists()


def test_flow_run_writes_state_and_events(tmp_path: Path) -> None:
    """A run exits 0 and writes state.json (mode 0600, no newline) with the events on stdout."""
    _write_flow(
        tmp_path,
        flow_document(
            [TRIGGER, node("o", "output/set", 3, [value("name", "n"), value("value", "${quote}")])],
            [edge("t", "o")],
        ),
    )
    completed = run_cli(_RUN, tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert _events(completed.stdout) == [
        ("t", "running"),
        ("t", "success"),
        ("o", "running"),
        ("o", "success"),
    ]
    assert all(line.startswith("__NODE__:") for line in completed.stdout.splitlines())
    text = (tmp_path / "state.json").read_text(encoding="utf-8")
    assert not text.endswith("\n")
    assert text.startswith('{"id":"exec-1","flow_id":"flow-1","status":0,"duration":')
    assert stat.S_IMODE((tmp_path / "state.json").stat().st_mode) == 0o600
    assert written_state(tmp_path)["outputs"] == {"n": "To err is human"}
    messages = [line["msg"] for line in _logs(completed.stderr)]
    assert messages[0] == "Starting Flomation Executor"
    assert messages[-1] == "Finished processing Flow"
    assert "Traceback" not in completed.stderr


def test_default_execution_id_is_a_uuid(tmp_path: Path) -> None:
    """--id defaults to a random UUID v4 written to state.json."""
    _write_flow(tmp_path, flow_document([TRIGGER], []))
    completed = run_cli(["--path", "execution.flow"], tmp_path)
    assert completed.returncode == 0
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        written_state(tmp_path)["id"],
    )
    assert "level=info" in completed.stderr


def test_manifest_is_sorted_indented_hashed_and_private(tmp_path: Path) -> None:
    """§7.6: keyed by action id, 2-space indent, sorted keys, hash over definition + source."""
    completed = run_cli(["--output", "json", "--manifest", "manifest.json"], tmp_path)
    assert completed.returncode == 0
    assert [line["msg"] for line in _logs(completed.stderr)] == ["Starting Flomation Executor"]
    path = tmp_path / "manifest.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert not text.endswith("\n")
    manifest = json.loads(text)
    assert text == json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).replace(
        "<", "\\u003c"
    ).replace(">", "\\u003e").replace("&", "\\u0026")
    for action_id in (
        "conditional/if",
        "conditional/for",
        "trigger/manual",
        "subflow/invoke",
        "common/wait",
        "output/set",
    ):
        assert action_id in manifest
    entry = manifest["conditional/if"]
    assert entry["type"] == 4
    assert all(item["value"] is None for item in entry["inputs"])
    source = Path(sys.modules["flomation.executor.registry"].__file__ or "").parent
    source_file = source / "actions" / "conditional" / "if_.py"
    definition = {key: item for key, item in entry.items() if key != "hash"}
    digest = hashlib.sha256(go_json(definition).encode("utf-8") + source_file.read_bytes())
    assert entry["hash"] == digest.hexdigest()


def test_manifest_write_failure_still_exits_zero(tmp_path: Path) -> None:
    """§2.2: an unwritable manifest path logs 'unable to write manifest' and exits 0."""
    completed = run_cli(
        ["--output", "json", "--manifest", str(tmp_path / "no" / "m.json")], tmp_path
    )
    assert completed.returncode == 0
    assert _logs(completed.stderr)[-1]["msg"] == "unable to write manifest"


def test_bad_trigger_data_and_context_are_warnings(tmp_path: Path) -> None:
    """§2.2: unreadable trigger data or context only log warnings; the run continues."""
    _write_flow(tmp_path, flow_document([TRIGGER], []))
    (tmp_path / "trigger-data.json").write_text("[1, 2]")
    completed = run_cli(
        [*_RUN, "--trigger-data", "trigger-data.json", "--context", "missing.json"], tmp_path
    )
    assert completed.returncode == 0
    warnings = [line["msg"] for line in _logs(completed.stderr) if line["level"] == "warning"]
    assert warnings == ["unable to parse trigger data", "unable to parse context"]
    assert written_state(tmp_path)["status"] == 0


def test_trigger_data_string_holding_an_object_is_injected(tmp_path: Path) -> None:
    """§11.1: a JSON string containing an object is accepted and logged with sorted keys."""
    _write_flow(tmp_path, flow_document([TRIGGER], []))
    (tmp_path / "trigger-data.json").write_text(json.dumps(json.dumps({"b": 1, "a": 2})))
    completed = run_cli([*_RUN, "--trigger-data", "trigger-data.json"], tmp_path)
    injected = next(line for line in _logs(completed.stderr) if line["msg"].startswith("injected"))
    assert injected["keys"] == ["a", "b"]
    assert injected["node_id"] == "t"


def test_resume_from_state_json_checkpoint(tmp_path: Path) -> None:
    """C16: a suspended run resumes from its state.json: no events for completed nodes."""
    _write_flow(
        tmp_path,
        flow_document(
            [
                TRIGGER,
                node("a", "string/upper_case", inputs=[value("value", "a")]),
                node("p", "common/pause"),
                node("b", "output/set", 3, [value("name", "a"), value("value", "${a.result}")]),
            ],
            [edge("t", "a"), edge("a", "p"), edge("p", "b")],
        ),
    )
    first = run_cli(_RUN, tmp_path)
    assert written_state(tmp_path)["status"] == 3
    assert _events(first.stdout)[-1] == ("p", "suspended")
    (tmp_path / "state.json").rename(tmp_path / "suspended.json")
    second = run_cli([*_RUN, "--checkpoint", "suspended.json"], tmp_path)
    assert second.returncode == 0
    assert _events(second.stdout) == [
        ("p", "running"),
        ("p", "success"),
        ("b", "running"),
        ("b", "success"),
    ]
    state = written_state(tmp_path)
    assert state["status"] == 0
    assert state["outputs"] == {"a": "A"}
    assert set(state["node_results"]) == {"t", "a", "p", "b"}
    assert "checkpoint" not in state


def test_bad_checkpoint_exits_one(tmp_path: Path) -> None:
    """§2.2: an unreadable checkpoint logs 'unable to load checkpoint' and exits 1."""
    _write_flow(tmp_path, flow_document([TRIGGER], []))
    completed = run_cli([*_RUN, "--checkpoint", "nope.json"], tmp_path)
    assert completed.returncode == 1
    assert _logs(completed.stderr)[-1]["msg"] == "unable to load checkpoint"
    assert not (tmp_path / "state.json").exists()


def test_environment_client_failure_leaves_literals(tmp_path: Path) -> None:
    """§8: with --environment an unreachable API leaves ${env.X} literal and logs a warning."""
    _write_flow(
        tmp_path,
        flow_document(
            [
                TRIGGER,
                node("o", "output/set", 3, [value("name", "v"), value("value", "${env.FOO}")]),
            ],
            [edge("t", "o")],
        ),
    )
    completed = run_cli([*_RUN, "--environment", "staging", "--token", "t0k"], tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert written_state(tmp_path)["outputs"] == {"v": "${env.FOO}"}
    assert "unable to resolve environment value" in [
        line["msg"] for line in _logs(completed.stderr)
    ]


def test_broken_stdout_pipe_still_writeswritten_state(tmp_path: Path) -> None:
    """§2.4: a stdout pipe without a reader is ignored; the run completes and writes state."""
    _write_flow(tmp_path, flow_document([TRIGGER], []))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "flomation_executor", *_RUN],
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.close(write_end)
    assert completed.returncode == 0
    assert "Traceback" not in completed.stderr
    assert written_state(tmp_path)["status"] == 0


def _sleep_flow(with_on_error: bool) -> str:
    nodes = [
        TRIGGER,
        node("s", "common/sleep", inputs=[value("duration", 60, "integer")]),
        node("n", "output/set", 3, [value("name", "after"), value("value", "ran")]),
    ]
    edges = [edge("t", "s"), edge("s", "n")]
    if with_on_error:
        nodes += [
            node("oe", "error/on_error"),
            node("rep", "output/set", 3, [value("name", "e"), value("value", "${error_message}")]),
        ]
        edges.append(edge("oe", "rep"))
    return flow_document(nodes, edges)


def _signal_during_sleep(tmp_path: Path, signum: int) -> tuple[str, str, int, float]:
    """Start the sleep flow, send ``signum`` once the sleep node runs; (stdout, stderr, rc, s)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flomation_executor", *_RUN],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if '"id":"s"' in line and '"running"' in line:
                break
        time.sleep(0.2)  # let the action reach its wait
        signalled = time.monotonic()
        process.send_signal(signum)
        rest, stderr = process.communicate(timeout=10)
        elapsed_s = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return "".join(lines) + rest, stderr, process.returncode, elapsed_s


def test_sigterm_stops_sleep_and_cancels_the_next_node(tmp_path: Path) -> None:
    """C18: SIGTERM during a 60 s sleep: sleep returns cancelled, next node cancelled, status 2."""
    _write_flow(tmp_path, _sleep_flow(with_on_error=False))
    stdout, stderr, code, elapsed_s = _signal_during_sleep(tmp_path, signal.SIGTERM)
    assert code == 0
    assert elapsed_s < 5
    assert _events(stdout)[-3:] == [("s", "running"), ("s", "success"), ("n", "cancelled")]
    state = written_state(tmp_path)
    assert state["status"] == 2
    assert state["outputs"] is None
    assert state["node_results"]["s"]["outputs"] == {"slept_for_seconds": 0, "cancelled": True}
    assert state["node_results"]["n"]["status"] == "cancelled"
    received = next(line for line in _logs(stderr) if line["msg"].startswith("Received signal"))
    assert received["signal"] == "terminated"
    assert "Traceback" not in stderr


def test_sigint_cancels_the_on_error_chain_too(tmp_path: Path) -> None:
    """§4.10/§9.1: after SIGINT the On Error chain's nodes are cancelled as well; status 2."""
    _write_flow(tmp_path, _sleep_flow(with_on_error=True))
    stdout, stderr, code, _elapsed = _signal_during_sleep(tmp_path, signal.SIGINT)
    assert code == 0
    assert _events(stdout)[-3:] == [("n", "cancelled"), ("oe", "success"), ("rep", "cancelled")]
    assert written_state(tmp_path)["status"] == 2
    assert (
        next(line for line in _logs(stderr) if line["msg"].startswith("Received"))["signal"]
        == "interrupt"
    )


@pytest.mark.parametrize("argument", ["--version=maybe", "---path"])
def test_flag_syntax_errors(tmp_path: Path, argument: str) -> None:
    """Bad boolean values and bad flag syntax are flag errors (exit 2)."""
    assert run_cli([argument], tmp_path).returncode == 2


_REPORT_PEAK_RSS = (
    "import sys\n"
    "from flomation.executor.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "with open('/proc/self/status') as status:\n"
    "    peak = next(line for line in status if line.startswith('VmHWM'))\n"
    "sys.stderr.write(peak)\n"
    "sys.exit(code)\n"
)


def _loop_peak_rss_kib(tmp_path: Path, iterations: int) -> int:
    """Run a for loop of ``iterations`` through the CLI; the process's own peak RSS (VmHWM)."""
    directory = tmp_path / str(iterations)
    directory.mkdir()
    body = node(
        "b", "common/set_variable", inputs=[value("name", "i"), value("value", "${var.loop.index}")]
    )
    _write_flow(
        directory,
        flow_document(
            [
                TRIGGER,
                node("f", "conditional/for", 5, [value("count", iterations, "integer")]),
                body,
                node("o", "output/set", 3, [value("name", "last"), value("value", "${var.i}")]),
            ],
            [edge("t", "f"), edge("f", "b", "loop"), edge("f", "o", "output")],
        ),
    )
    completed = subprocess.run(
        [sys.executable, "-c", _REPORT_PEAK_RSS, *_RUN],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0
    assert written_state(directory)["outputs"] == {"last": str(iterations - 1)}
    peak = completed.stderr.splitlines()[-1]
    return int(peak.split()[1])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_loop_memory_is_bounded(tmp_path: Path) -> None:
    """A loop of 10,000 iterations peaks at about the same RSS as one of 1,000 (no leak)."""
    small = _loop_peak_rss_kib(tmp_path, 1_000)
    large = _loop_peak_rss_kib(tmp_path, 10_000)
    assert large < small + 4 * 1024, (small, large)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX resource limits")
def test_runs_under_a_tight_address_space_limit(tmp_path: Path) -> None:
    """Where the engine's large-stack thread cannot be created the flow still runs (status 0)."""
    import resource

    def limit_address_space() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (220 * 1024 * 1024, 220 * 1024 * 1024))

    _write_flow(
        tmp_path, flow_document([TRIGGER, node("u", "string/upper_case")], [edge("t", "u")])
    )
    completed = subprocess.run(
        [sys.executable, "-m", "flomation_executor", *_RUN],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=limit_address_space,
    )
    assert completed.returncode == 0, completed.stderr
    assert written_state(tmp_path)["status"] == 0


def test_console_script_matches_the_module(tmp_path: Path) -> None:
    """The flomation-executor console script and python -m flomation_executor agree."""
    script = Path(sys.executable).parent / "flomation-executor"
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    completed = subprocess.run(
        [str(script), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout == run_cli(["--version"], tmp_path).stdout
