"""Every example flow runs end to end through `flomation-runner local`: server, runner, executor."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.http_peer import http_peer
from fixtures.runner_cli import run_local

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _outputs(result: subprocess.CompletedProcess[str]) -> object:
    return json.loads(result.stdout)


def test_every_example_has_a_test() -> None:
    """Each file in examples/ is exercised by a test in this module."""
    source = Path(__file__).read_text(encoding="utf-8")
    for example in EXAMPLES.glob("*.flow.json"):
        assert f'"{example.name}"' in source, f"{example.name} has no test"


def test_hello_prints_outputs_and_events() -> None:
    """The hello flow succeeds, prints node events on stderr and its outputs as JSON on stdout."""
    result = run_local(str(EXAMPLES / "hello.flow.json"), "--data", '{"name": "Ada"}')
    assert result.returncode == 0, result.stderr
    assert _outputs(result) == {"greeting": "Hello, Ada!", "shouted": "HELLO, ADA!"}
    assert "node greet (string/concatenate) success" in result.stderr
    assert "flow succeeded" in result.stderr


def test_hello_without_data_still_succeeds() -> None:
    """`local examples/hello.flow.json` with no trigger data exits 0 (the name is empty)."""
    result = run_local("examples/hello.flow.json")
    assert result.returncode == 0, result.stderr
    assert _outputs(result) == {"greeting": "Hello, !", "shouted": "HELLO, !"}


@pytest.mark.parametrize(
    ("amount", "decision"),
    [(250, "needs manual approval"), (40, "approved automatically")],
)
def test_condition_takes_one_branch(amount: int, decision: str) -> None:
    """The condition example routes on the amount and runs only the matching branch."""
    result = run_local(
        str(EXAMPLES / "condition.flow.json"), "--data", json.dumps({"amount": amount})
    )
    assert result.returncode == 0, result.stderr
    assert _outputs(result) == {"decision": decision}


def test_loop_runs_its_body_five_times() -> None:
    """The loop example visits indexes 0..4 and reports five iterations."""
    result = run_local(str(EXAMPLES / "loop.flow.json"))
    assert result.returncode == 0, result.stderr
    assert _outputs(result) == {"visited": "0 1 2 3 4", "iterations": 5}


@pytest.fixture
def json_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering every GET with a small JSON document."""
    with http_peer(
        lambda request: (
            200,
            {"Content-Type": "application/json"},
            json.dumps({"path": request.path, "ok": True}).encode(),
        )
    ) as peer:
        yield f"http://127.0.0.1:{peer.port}/status"


def test_web_request_calls_a_local_url(json_server: str) -> None:
    """The web-request example fetches a local URL and returns its status and body."""
    result = run_local(
        str(EXAMPLES / "web-request.flow.json"), "--data", json.dumps({"url": json_server})
    )
    assert result.returncode == 0, result.stderr
    outputs = _outputs(result)
    assert isinstance(outputs, dict)
    assert outputs["status_code"] == 200
    assert json.loads(outputs["body"]) == {"path": "/status", "ok": True}


def test_script_node_computes_in_python() -> None:
    """The script example runs Python code and returns its declared outputs."""
    result = run_local(str(EXAMPLES / "script.flow.json"))
    assert result.returncode == 0, result.stderr
    assert _outputs(result) == {"total": 29, "count": 4}


def test_on_error_chain_reports_the_failure() -> None:
    """The on-error example's chain records the failing node; the flow still counts as failed."""
    result = run_local(str(EXAMPLES / "on-error.flow.json"))
    assert result.returncode == 1, result.stderr
    assert _outputs(result) == {
        "error": "division: denominator cannot be zero",
        "failed_node": "divide",
    }


def test_pause_suspends_and_resumes() -> None:
    """The pause-resume example suspends (exit 3) and, with --resume, completes after resuming."""
    example = str(EXAMPLES / "pause-resume.flow.json")
    suspended = run_local(example, "--data", '{"approver": "ops"}')
    assert suspended.returncode == 3, suspended.stderr
    assert "suspended" in suspended.stderr
    resumed = run_local(example, "--data", '{"approver": "ops"}', "--resume", '{"ok": true}')
    assert resumed.returncode == 0, resumed.stderr
    assert _outputs(resumed) == {"stage": "approved-by-ops"}
    assert "node wait-for-approval (common/pause) suspended" in resumed.stderr


def test_failing_example_names_the_node_and_the_error() -> None:
    """A failing flow exits 1 and says which node failed and why."""
    result = run_local(str(EXAMPLES / "failing.flow.json"))
    assert result.returncode == 1
    assert _outputs(result) is None
    assert (
        "node divide (arithmetic/division) failed: division: denominator cannot be zero"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "invalid JSON at line 1 column 2"),
        ("[]", "a flow must be a JSON object"),
        ('{"nodes": {}}', "'nodes' must be a list"),
        ('{"nodes": []}', "the flow has no nodes"),
    ],
)
def test_malformed_flow_file_exits_2_naming_file_and_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    """A malformed flow file exits 2 with one line naming the file and the problem."""
    flow_file = tmp_path / "broken.flow.json"
    flow_file.write_text(content, encoding="utf-8")
    result = run_local(str(flow_file))
    assert result.returncode == 2
    assert str(flow_file) in result.stderr and problem in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (["--data", "{oops"], "--data: invalid JSON"),
        (["--data", "[1]"], "--data: trigger data must be a JSON object"),
        (["--entry", "nope"], "--entry 'nope': no node with that id"),
        (["--data-file", "/nonexistent/data.json"], "--data-file /nonexistent/data.json"),
    ],
)
def test_bad_options_exit_2(arguments: list[str], problem: str) -> None:
    """Bad trigger data or entry node exits 2 naming the option."""
    result = run_local(str(EXAMPLES / "hello.flow.json"), *arguments)
    assert result.returncode == 2
    assert problem in result.stderr


def test_missing_flow_file_exits_2(tmp_path: Path) -> None:
    """A flow file that does not exist exits 2 naming it."""
    result = run_local(str(tmp_path / "absent.json"))
    assert result.returncode == 2
    assert "absent.json: no such flow file" in result.stderr


@pytest.mark.parametrize(
    ("colour", "action"), [("green", "go"), ("RED", "stop"), ("blue", "look again")]
)
def test_switch_follows_the_matching_case_or_default(colour: str, action: str) -> None:
    """The switch example follows case_<i> of the first matching case, else default."""
    result = run_local(str(EXAMPLES / "switch.flow.json"), "--data", json.dumps({"colour": colour}))
    assert result.returncode == 0, result.stderr
    assert _outputs(result) == {"action": action}


def test_loop_web_calls_the_server_once_per_round(json_server: str) -> None:
    """The loop-web example requests page 0, 1 and 2 in turn and collects the answered paths."""
    result = run_local(
        str(EXAMPLES / "loop-web.flow.json"), "--data", json.dumps({"url": json_server})
    )
    assert result.returncode == 0, result.stderr
    assert _outputs(result) == {"fetched": "/status?page=0 /status?page=1 /status?page=2"}
    assert result.stderr.count("node fetch (web/request) success") == 3


def test_subflow_doubles_through_the_invoked_chain() -> None:
    """The sub-flow example invokes 'double' with n and returns the end node's result."""
    result = run_local(str(EXAMPLES / "subflow.flow.json"), "--data", '{"n": 21}')
    assert result.returncode == 0, result.stderr
    assert _outputs(result) == {"doubled": "42"}
    assert "node times-two (arithmetic/multiplication) success" in result.stderr


def test_bash_lines_are_shown_and_returned() -> None:
    """The bash example's printed lines are shown one by one and returned as stdout."""
    result = run_local(str(EXAMPLES / "bash.flow.json"))
    assert result.returncode == 0, result.stderr
    assert _outputs(result) == {"printed": "line 1\nline 2\nline 3"}
    shown = [line for line in result.stderr.splitlines() if line.startswith("  count | ")]
    assert shown == ["  count | line 1", "  count | line 2", "  count | line 3"]


def test_scopes_reads_parents_nodes_variables_and_flow_facts() -> None:
    """The scopes example resolves ${x}, ${node.x}, ${var.x} and ${flow.x}; ${env.x} stays."""
    result = run_local(str(EXAMPLES / "scopes.flow.json"), "--data", '{"name": "Ada"}')
    assert result.returncode == 0, result.stderr
    assert _outputs(result) == {
        "shouted": "HELLO, ADA",
        "summary": "Hello, Ada (manual run, region ${env.REGION})",
    }
