"""The executor's own limits on a run, through real executor processes (docs/security.md).

None of these flags exists upstream (cmd/main.go of flomation-co/executor has no limit or
timeout flag): an unbounded substitution ended there, and here before, in a MemoryError with no
state.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from executor.engine_harness import edge, flow_document, node, run_cli, value, written_state

TRIGGER = node("t", "trigger/manual", 1)
_RUN = ["--output", "json", "--path", "execution.flow", "--id", "exec-1", "--flow", "flow-1"]


def _doubling_flow(iterations: int) -> str:
    """A for loop that doubles a variable each turn: ${var.x}${var.x}."""
    return flow_document(
        [
            TRIGGER,
            node("init", "common/set_variable", inputs=[value("name", "x"), value("value", "ab")]),
            node("f", "conditional/for", 5, [value("count", iterations, "integer")]),
            node(
                "double",
                "common/set_variable",
                inputs=[value("name", "x"), value("value", "${var.x}${var.x}")],
            ),
            node("o", "output/set", 3, [value("name", "done"), value("value", "yes")]),
        ],
        [
            edge("t", "init"),
            edge("init", "f"),
            edge("f", "double", "loop"),
            edge("f", "o", "output"),
        ],
    )


def test_doubling_substitution_fails_the_node_at_the_limit(tmp_path: Path) -> None:
    """A value growing past -max-value-bytes fails its node with an error naming the limit, and
    state.json is still written (the limit here comes from the environment variable)."""
    (tmp_path / "execution.flow").write_text(_doubling_flow(24), encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "flomation_executor", *_RUN],
        cwd=tmp_path,
        env={**os.environ, "FLOMATION_EXECUTOR_MAX_VALUE_BYTES": "65536"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    state = written_state(tmp_path)
    assert state["status"] == 1
    failed = state["node_results"]["double"]
    assert failed["status"] == "failed"
    assert "'value'" in failed["error"] and "65536 bytes (-max-value-bytes)" in failed["error"]
    assert "Traceback" not in completed.stderr


def test_values_under_the_limit_are_substituted(tmp_path: Path) -> None:
    """Below -max-value-bytes the same loop runs to its end."""
    (tmp_path / "execution.flow").write_text(_doubling_flow(10), encoding="utf-8")
    completed = run_cli([*_RUN, "-max-value-bytes", "4096"], tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert written_state(tmp_path)["status"] == 0


def test_run_timeout_cancels_and_fails_the_run(tmp_path: Path) -> None:
    """-run-timeout stops a 60 s sleep within about a second of the limit; the run is failed."""
    document = flow_document(
        [TRIGGER, node("s", "common/sleep", inputs=[value("duration", 60, "integer")])],
        [edge("t", "s")],
    )
    (tmp_path / "execution.flow").write_text(document, encoding="utf-8")
    started = time.monotonic()
    completed = run_cli([*_RUN, "-run-timeout", "0.5"], tmp_path)
    assert time.monotonic() - started < 20
    assert completed.returncode == 0, completed.stderr
    assert written_state(tmp_path)["status"] == 1
    logs = [json.loads(line) for line in completed.stderr.splitlines()]
    assert any(line["msg"] == "run timeout reached" for line in logs)


@pytest.mark.parametrize(
    ("flag", "bad"),
    [("-max-value-bytes", "0"), ("-run-timeout", "soon"), ("-network-guard", "none")],
)
def test_bad_limit_values_exit_two_naming_the_flag(tmp_path: Path, flag: str, bad: str) -> None:
    """A bad limit value is a usage error (exit 2) naming the flag, with no traceback."""
    completed = run_cli([*_RUN, flag, bad], tmp_path)
    assert completed.returncode == 2
    assert f'invalid value "{bad}" for flag {flag}' in completed.stderr
    assert "Traceback" not in completed.stderr
