"""What `flomation-runner local` shows and refuses (docs/flows.md "Running a flow locally").

Real subprocesses throughout: the CLI, the executor it starts, the scripts, a local HTTP server.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from executor.engine_harness import edge, flow_document, node, value
from fixtures.http_peer import http_peer
from fixtures.runner_cli import run_local

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(sys.executable).parent / "flomation-runner"
EXAMPLES = ROOT / "examples"


START = node("start", "trigger/manual", 1, [])


def _write_flow(path: Path, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Path:
    path.write_text(flow_document(nodes, edges), encoding="utf-8")
    return path


def _read_until(stream: Any, needle: str, timeout_s: float) -> list[str]:
    """Lines read from ``stream`` up to the first containing ``needle`` (fails on timeout)."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in stream:
            lines.append(line)
            if needle in line:
                found.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert found.wait(timeout_s), f"{needle!r} not seen; got: {''.join(lines)}"
    return lines


def test_python_print_shows_while_the_node_still_runs(tmp_path: Path) -> None:
    """A Python script node's print line is shown while the node is still running."""
    release = tmp_path / "release"
    code = (
        "import os, time\n"
        "print('step one done', flush=True)\n"
        "deadline = time.time() + 60\n"
        "while not os.path.exists(inputs['release']) and time.time() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print('step two done')\n"
        "outputs['finished'] = True\n"
    )
    script = node(
        "py",
        "script/python",
        2,
        [
            value("code", code, "code"),
            value("outputs", [{"key": "finished", "value": "boolean"}], "key_value_array"),
            value("inputs_data", {"release": str(release)}, "object"),
        ],
    )
    flow = _write_flow(tmp_path / "slow.flow.json", [START, script], [edge("start", "py")])
    process = subprocess.Popen(
        [str(RUNNER), "local", str(flow)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        seen = _read_until(process.stderr, "py | step one done", 60)
        assert not any("node py (script/python) success" in line for line in seen)
        assert process.poll() is None  # the node (and the flow) is still running
        release.write_text("go", encoding="utf-8")
        stdout, rest = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "py | step two done" in rest
    assert "node py (script/python) success" in rest
    assert json.loads(stdout) == {}


def test_bash_output_printed_before_a_cancel_is_kept(tmp_path: Path) -> None:
    """Ctrl-C stops the flow; every line a Bash loop printed before is shown and kept in the
    result's logs."""
    script = node(
        "loop",
        "script/bash",
        2,
        [value("script", "for i in $(seq 1 600); do echo tick $i; sleep 0.1; done", "text")],
    )
    flow = _write_flow(tmp_path / "ticks.flow.json", [START, script], [edge("start", "loop")])
    home = tmp_path / "home"
    process = subprocess.Popen(
        [str(RUNNER), "local", str(flow), "--home", str(home)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        _read_until(process.stderr, "loop | tick 3", 60)
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1
    assert "flow cancelled" in rest
    results = list((home / "results").glob("*.json"))
    assert len(results) == 1
    body = json.loads(results[0].read_text(encoding="utf-8"))
    assert body["cancelled"] is True
    logs = body["state"]["logs"]
    assert "tick 1" in logs and "tick 3" in logs


@pytest.mark.parametrize(
    ("nodes", "edges", "named"),
    [
        (
            [
                START,
                node("check", "conditional/if", 2, [value("operator", "equals")]),
            ],
            [edge("start", "check")],
            "node 'check': data.config.type is 2 (action) but conditional/if needs 4",
        ),
        (
            [START, node("x", "string/upper_case", 2, [value("value", "a")])] * 1
            + [node("x", "string/upper_case", 2, [value("value", "b")])],
            [edge("start", "x")],
            "node 'x': duplicate node id",
        ),
        (
            [START, node("x", "string/upper_case", 2, [value("value", "a")])],
            [edge("start", "x"), edge("x", "ghost")],
            "node 'x': edge 'x-ghost': target 'ghost' is not a node",
        ),
        (
            [START, node("x", "string/uppercase", 2, [])],
            [edge("start", "x")],
            "node 'x': unknown node type 'string/uppercase'; closest: string/upper_case",
        ),
        (
            [node("x", "string/upper_case", 2, [value("value", "a")])],
            [],
            "error: no trigger node",
        ),
        (
            [
                START,
                node(
                    "pick",
                    "common/array_index",
                    2,
                    [value("array", [1], "object"), value("index", 0, "string")],
                ),
            ],
            [edge("start", "pick")],
            "node 'pick': input 'index' has type 'string'",
        ),
    ],
)
def test_local_refuses_a_flow_with_a_trap(
    tmp_path: Path, nodes: list[dict[str, Any]], edges: list[dict[str, Any]], named: str
) -> None:
    """Each silent trap makes `local` refuse the flow with exit 2, naming the node."""
    flow = _write_flow(tmp_path / "trap.flow.json", nodes, edges)
    result = run_local(str(flow))
    assert result.returncode == 2, result.stderr
    assert f"{flow}: error: " in result.stderr
    assert named in result.stderr
    assert "not running it" in result.stderr
    assert result.stdout == ""


def test_no_validate_runs_the_flow_anyway(tmp_path: Path) -> None:
    """--no-validate skips validation; the executor's own failure is then reported."""
    flow = _write_flow(
        tmp_path / "typo.flow.json",
        [START, node("x", "string/uppercase", 2, [])],
        [edge("start", "x")],
    )
    result = run_local(str(flow), "--no-validate")
    assert result.returncode == 1
    assert "not running it" not in result.stderr
    assert "flow failed" in result.stderr and "invalid node" in result.stderr
    assert "error: Error executing flow (error=invalid node id=x)" in result.stderr
    assert "flomation-runner local: flow failed: invalid node (node x)" in result.stderr


def test_flow_without_trigger_fails_with_the_executors_reason(tmp_path: Path) -> None:
    """Run anyway (--no-validate), a flow without a trigger fails naming the executor's reason."""
    flow = _write_flow(
        tmp_path / "no-trigger.flow.json",
        [node("x", "string/upper_case", 2, [value("value", "a")])],
        [],
    )
    result = run_local(str(flow), "--no-validate")
    assert result.returncode == 1
    assert "flomation-runner local: flow failed: no start node specified" in result.stderr
    assert "result and logs in" not in result.stderr  # the temporary home is gone


def test_unresolved_reference_is_a_warning_and_the_executor_warning_is_shown() -> None:
    """Without --data, hello's ${name} is named before the run, and the executor's own
    'unresolved variable' warning is shown; the flow still runs."""
    result = run_local(str(EXAMPLES / "hello.flow.json"))
    assert result.returncode == 0, result.stderr
    assert "warning: node 'greet': input 'b': ${name} reads as empty" in result.stderr
    assert "warning: unresolved variable (name=name)" in result.stderr


@pytest.fixture
def missing_page() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering every GET with 404 and a short body."""
    with http_peer(lambda request: (404, {}, b"no page at this address")) as peer:
        yield f"http://127.0.0.1:{peer.port}/missing"


def test_failed_web_request_shows_status_and_body(missing_page: str) -> None:
    """A request answered 404 is shown failed with its status and body; the summary says so."""
    result = run_local(
        str(EXAMPLES / "web-request.flow.json"), "--data", json.dumps({"url": missing_page})
    )
    assert result.returncode == 0, result.stderr
    assert (
        "node fetch (web/request) failed" in result.stderr
        and "HTTP 404: no page at this address" in result.stderr
    )
    assert "flow succeeded; 1 node(s) failed without stopping it: fetch: HTTP 404" in result.stderr


def test_verbose_shows_node_outputs() -> None:
    """--verbose prints each node's outputs after its event."""
    result = run_local(str(EXAMPLES / "hello.flow.json"), "--data", '{"name": "Ada"}', "--verbose")
    assert result.returncode == 0, result.stderr
    assert '    outputs: {"error": "", "result": "Hello, Ada!"' in result.stderr
    quiet = run_local(str(EXAMPLES / "hello.flow.json"), "--data", '{"name": "Ada"}')
    assert "outputs:" not in quiet.stderr


def test_resume_shows_the_resumed_node_and_does_not_rerun_others() -> None:
    """--resume marks the resumed node as such; nodes that ran before are not shown again."""
    result = run_local(
        str(EXAMPLES / "pause-resume.flow.json"), "--data", '{"approver": "ops"}', "--resume"
    )
    assert result.returncode == 0, result.stderr
    assert "resuming it at node wait-for-approval" in result.stderr
    assert "node wait-for-approval (common/pause) resumed, success" in result.stderr
    assert result.stderr.count("node before (common/set_variable) success") == 1


def test_local_keeps_the_result_and_removes_a_successful_work_dir(tmp_path: Path) -> None:
    """The result body goes to HOME/results (private); a successful work dir is removed."""
    home = tmp_path / "home"
    result = run_local(
        str(EXAMPLES / "hello.flow.json"), "--data", '{"name": "A"}', "--home", str(home)
    )
    assert result.returncode == 0, result.stderr
    assert list((home / "work").rglob("state.json")) == []  # success: work dir removed
    results = list((home / "results").glob("*.json"))
    assert len(results) == 1 and results[0].stat().st_mode & 0o077 == 0
    body = json.loads(results[0].read_text(encoding="utf-8"))
    assert body["has_errored"] is False and body["state"]["outputs"]["greeting"] == "Hello, A!"


def test_local_run_path_stays_free_of_heavy_imports() -> None:
    """`local`'s modules import neither the server, pydantic, structlog nor the action modules,
    whose imports cost more than the whole run (docs/benchmarks.md, the edit-run loop)."""
    probe = (
        "import sys\n"
        "import flomation.local.cli, flomation.local.execute, flomation.executor.validation\n"
        "from flomation.executor.validation import validate_flow\n"
        "validate_flow(open(sys.argv[1]).read())\n"
        "heavy = ('flomation.server', 'pydantic', 'structlog', 'aiohttp', 'sqlalchemy',\n"
        "         'flomation.executor.actions.string')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(EXAMPLES / "hello.flow.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
