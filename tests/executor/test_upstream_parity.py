"""Behaviour pinned to the newest upstream executor source (issue 18's parity list).

Each test names the flomation-co/executor file whose behaviour it pins. Actions run inside a real
flow through the engine (manual trigger → the action), as in test_control_actions.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from executor.engine_harness import edge, flow_document, node, run_cli, run_engine, value
from executor.test_control_actions import TRIGGER, error_of, outputs_of, run_action
from fixtures.http_peer import http_peer
from flomation.executor.actions.common.wait import parse_wait_duration
from flomation.executor.actions.trigger.manual import go_time_json
from flomation.executor.checkpoint import parse_checkpoint


def _compare(tmp_path: Path, action: str, routing: int, operator: str) -> Any:
    return run_action(
        tmp_path,
        action,
        routing,
        value("value_a", "a"),
        value("operator", operator),
        value("value_b", "a"),
    )


def test_while_with_an_empty_operator_is_false(tmp_path: Path) -> None:
    """flomation-co/executor: actions/conditional/while/action.go: an empty operator is false."""
    for operator in ("", "   "):
        run = _compare(tmp_path, "conditional/while", 2, operator)
        assert run.result.records["x"].status == "success"
        assert outputs_of(run) == {"result": False, "iterations": 0, "max_iterations": 1000}


def test_while_with_a_non_text_operator_is_required(tmp_path: Path) -> None:
    """actions/conditional/while/action.go: a non-text operator is 'operator is required'."""
    run = run_action(
        tmp_path, "conditional/while", 2, value("operator", "eq", "integer"), value("value_a", "1")
    )
    assert error_of(run) == "operator is required"


def test_if_with_an_empty_operator_is_an_unknown_operator(tmp_path: Path) -> None:
    """flomation-co/executor: actions/conditional/if/action.go: '' is 'unknown operator: '."""
    run = _compare(tmp_path, "conditional/if", 4, "  ")
    assert run.result.records["x"].status == "failed"
    assert error_of(run) == "unknown operator: "
    missing = run_action(tmp_path, "conditional/if", 4, value("value_a", "a"))
    assert error_of(missing) == "operator is required"


def _suspend_then_resume(tmp_path: Path, action: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    document = flow_document(
        [TRIGGER, action, node("after", "string/upper_case", inputs=[value("text", "z")])],
        [edge("t", "x"), edge("x", "after")],
    )
    first = run_engine(tmp_path, document)
    assert first.result.checkpoint is not None
    text = first.result.checkpoint.to_json().text
    second = run_engine(tmp_path, document, checkpoint=parse_checkpoint(json.loads(text)))
    assert second.result.status == 0
    return (
        dict(first.result.records["x"].outputs or {}),
        dict(second.result.records["x"].outputs or {}),
    )


def test_pause_resumed_result_names_the_reason(tmp_path: Path) -> None:
    """flomation-co/executor: actions/common/pause/action.go: resumed 'Resumed: ' + reason."""
    pause = node("x", "common/pause", inputs=[value("reason", "Approve invoice")])
    suspended, resumed = _suspend_then_resume(tmp_path, pause)
    assert suspended["tool_result"] == "Approve invoice"
    assert resumed == {
        "tool_result": "Resumed: Approve invoice",
        "suspended": False,
        "reason": "Approve invoice",
    }


def test_wait_resumed_outputs_are_reset(tmp_path: Path) -> None:
    """flomation-co/executor: actions/common/wait/action.go: resume gives fixed, empty outputs."""
    wait = node("x", "common/wait", inputs=[value("resume_at", "2026-06-15T14:00:00+02:00")])
    suspended, resumed = _suspend_then_resume(tmp_path, wait)
    assert suspended["resume_at"] == "2026-06-15T14:00:00+02:00"
    assert suspended["tool_result"] == "Waiting until 2026-06-15T14:00:00+02:00"
    assert resumed == {
        "tool_result": "Resumed after wait",
        "suspended": False,
        "resume_at": "",
        "duration": "",
    }


@pytest.mark.parametrize(
    ("text", "days"),
    [("1.5d", 1), (" 2d ", 2), ("1h2d", 1), ("+3w", 21)],
)
def test_wait_day_and_week_counts_scan_like_go(text: str, days: int) -> None:
    """actions/common/wait/action.go: parseDuration reads <n>d/<n>w with fmt.Sscanf("%d")."""
    assert parse_wait_duration(text).total_seconds() == days * 86400


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   ", "empty duration"),
        ("0d", "unsupported duration format: 0 (use s, m, h, d, or w)"),
        ("5 minutes", "unsupported duration format: 5 minutes (use s, m, h, d, or w)"),
    ],
)
def test_wait_duration_errors_carry_upstream_text(text: str, message: str) -> None:
    """actions/common/wait/action.go: parseDuration's error texts."""
    with pytest.raises(ValueError) as caught:
        parse_wait_duration(text)
    assert str(caught.value) == message


def _switch(tmp_path: Path, operator: str, text: str, *conditions: str) -> dict[str, Any]:
    cases = [{"key": f"k{index}", "value": item} for index, item in enumerate(conditions)]
    run = run_action(
        tmp_path,
        "conditional/switch",
        6,
        value("value", text),
        value("operator", operator),
        value("cases", cases, "key_value_array"),
    )
    return outputs_of(run)


def test_switch_operator_is_not_trimmed(tmp_path: Path) -> None:
    """flomation-co/executor: actions/conditional/switch/action.go: ' regex ' is equals."""
    assert _switch(tmp_path, " regex ", "abc", "a.c", "ABC")["matched_case"] == "case_1"
    assert _switch(tmp_path, "regex", "abc", "a.c", "ABC")["matched_case"] == "case_0"


def test_switch_regex_is_re2(tmp_path: Path) -> None:
    """actions/conditional/switch/action.go uses Go regexp (RE2): look-arounds never match."""
    outputs = _switch(tmp_path, "regex", "price: 10 EUR", r"\d+(?= EUR)", r"(\d+) \1", r"\d+ EUR$")
    assert outputs["matched_case"] == "case_2"
    assert _switch(tmp_path, "regex", "Ünïcode", r"^\p{Lu}\pL+$")["matched_case"] == "case_0"


def test_switch_invalid_pattern_writes_nothing_to_stderr(tmp_path: Path) -> None:
    """An invalid RE2 pattern quietly never matches: RE2 prints nothing on the executor's stderr."""
    document = flow_document(
        [
            TRIGGER,
            node(
                "x",
                "conditional/switch",
                6,
                [
                    value("value", "ab"),
                    value("operator", "regex"),
                    value("cases", [{"key": "k", "value": "a(?=b)"}], "key_value_array"),
                ],
            ),
        ],
        [edge("t", "x")],
    )
    (tmp_path / "execution.flow").write_text(document, encoding="utf-8")
    completed = run_cli(
        ["--output", "json", "--path", "execution.flow", "--id", str(uuid.uuid4())], tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    routed = [line for line in completed.stdout.splitlines() if '"matched_case":"default"' in line]
    assert routed, completed.stdout
    assert "parsing" not in completed.stderr and "re2" not in completed.stderr.lower()


def test_request_sends_gos_default_user_agent(tmp_path: Path) -> None:
    """flomation-co/executor: actions/web/request/action.go: Go's default User-Agent goes out."""
    with http_peer(
        lambda request: (200, {}, request.headers.get("User-Agent", "").encode())
    ) as peer:
        url = f"http://127.0.0.1:{peer.port}/"
        plain = run_action(tmp_path, "web/request", 2, value("method", "GET"), value("url", url))
        assert outputs_of(plain)["response_body"] == "Go-http-client/1.1"
        own = run_action(
            tmp_path,
            "web/request",
            2,
            value("method", "GET"),
            value("url", url),
            value("headers", "user-agent: mine/2", "text"),
        )
        assert outputs_of(own)["response_body"] == "mine/2"


def test_output_set_with_a_name_that_is_not_text_sets_nothing(tmp_path: Path) -> None:
    """flomation-co/executor: actions/output/set/action.go: name.String() nil → set false."""
    run = run_action(
        tmp_path, "output/set", 3, value("name", "not-a-number", "integer"), value("value", "v")
    )
    assert outputs_of(run) == {"set": False}
    assert run.result.outputs == {}
    numbered = run_action(
        tmp_path, "output/set", 3, value("name", 7, "integer"), value("value", "v")
    )
    assert run.result.outputs == {} and numbered.result.outputs == {"7": "v"}


def test_manual_start_is_gos_time_json(tmp_path: Path) -> None:
    """flomation-co/executor: actions/trigger/manual/action.go: start is Go time JSON (UTC)."""
    before = time.time_ns()
    run = run_engine(tmp_path, flow_document([TRIGGER], []))
    after = time.time_ns()
    start = (run.result.records["t"].outputs or {})["start"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", start)
    moment = datetime.fromisoformat(start[:26].rstrip(".") + "+00:00" if "." in start else start)
    assert before // 10**9 - 1 <= moment.timestamp() <= after / 10**9 + 1
    assert go_time_json(1_136_214_245_000_000_000) == "2006-01-02T15:04:05Z"
    assert go_time_json(1_136_214_245_120_000_000) == "2006-01-02T15:04:05.12Z"
    assert go_time_json(1_136_214_245_000_000_001) == "2006-01-02T15:04:05.000000001Z"
    assert datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC).timestamp() == 1_136_214_245


def test_sleep_unit_is_matched_exactly(tmp_path: Path) -> None:
    """flomation-co/executor: actions/common/sleep/action.go: 'Minutes' is no unit, so seconds."""
    run = run_action(
        tmp_path, "common/sleep", 2, value("duration", 1, "integer"), value("unit", "Minutes")
    )
    assert outputs_of(run) == {"slept_for_seconds": 1, "cancelled": False}
