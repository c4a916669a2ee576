"""Trigger, output, conditional, loop, error, sub-flow and common control actions.

See docs/flows.md §10.2-§10.4.

Each action runs inside a real two-node flow (manual trigger → the action) through the engine.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from executor.engine_harness import Run, edge, flow_document, node, run_engine, value
from flomation.executor.actions.common.wait import parse_wait_duration
from flomation.executor.registry import Registry

TRIGGER = node("t", "trigger/manual", 1)


def run_action(
    tmp_path: Path,
    action: str,
    routing: int,
    *inputs: dict[str, Any],
    cancel_event: threading.Event | None = None,
) -> Run:
    document = flow_document([TRIGGER, node("x", action, routing, inputs)], [edge("t", "x")])
    return run_engine(tmp_path, document, cancel_event=cancel_event)


def outputs_of(run: Run) -> dict[str, Any]:
    return dict(run.result.records["x"].outputs or {})


def error_of(run: Run) -> str:
    return run.result.records["x"].error


def compare(tmp_path: Path, a: Any, operator: str, b: Any) -> Run:
    return run_action(
        tmp_path,
        "conditional/if",
        4,
        value("value_a", a),
        value("operator", operator),
        value("value_b", b),
    )


@pytest.mark.parametrize(
    ("a", "operator", "b", "result"),
    [
        ("x", "equals", "x", True),
        ("x", "equals", "X", False),
        ("x", "not_equals", "y", True),
        ("hello", "contains", "ell", True),
        ("10", "greater_than", "9", True),
        ("abc", "greater_than", "1", False),
        ("1.5", "less_than", "2", True),
        (" 1", "less_than", "2", False),
        ("  ", "is_empty", "", True),
        ("a", "is_not_empty", "", True),
    ],
)
def test_if_operators(tmp_path: Path, a: str, operator: str, b: str, result: bool) -> None:
    """conditional/if compares as text, numerically for greater/less (unparsable → false)."""
    assert outputs_of(compare(tmp_path, a, operator, b))["result"] is result


@pytest.mark.parametrize(
    ("operator", "message"), [("", "unknown operator: "), ("nope", "unknown operator: nope")]
)
def test_if_operator_errors(tmp_path: Path, operator: str, message: str) -> None:
    """A missing or unknown operator is a hard error."""
    run = compare(tmp_path, "a", operator, "b")
    assert run.result.records["x"].status == "failed"
    assert error_of(run) == message
    assert run.result.status == 1


def _switch(tmp_path: Path, operator: str | None, text: Any, cases: Any) -> Run:
    inputs = [value("value", text)] if text is not None else []
    if operator is not None:
        inputs.append(value("operator", operator))
    if cases is not None:
        inputs.append(value("cases", cases, "key_value_array"))
    return run_action(tmp_path, "conditional/switch", 6, *inputs)


@pytest.mark.parametrize(
    ("operator", "text", "case_values", "matched"),
    [
        (None, "Beta", ["alpha", "BETA"], "case_1"),
        ("contains", "Hello World", ["xyz", "WORLD"], "case_1"),
        ("starts_with", "Hello", ["he"], "case_0"),
        ("ends_with", "Hello", ["LO"], "case_0"),
        ("regex", "order-123", ["^x", r"\d+$"], "case_1"),
        ("regex", "a", ["("], "default"),
        ("weird", "a", ["A"], "case_0"),
        (None, "q", [], "default"),
    ],
)
def test_switch_matching(
    tmp_path: Path, operator: str | None, text: str, case_values: list[str], matched: str
) -> None:
    """conditional/switch picks the first matching case (case-insensitive text operators)."""
    cases = [{"key": f"k{index}", "value": item} for index, item in enumerate(case_values)]
    outputs = outputs_of(_switch(tmp_path, operator, text, cases))
    assert outputs["matched_case"] == matched
    assert outputs["matched"] is (matched != "default")
    assert outputs["value"] == text


@pytest.mark.parametrize(
    ("text", "cases", "message"),
    [(None, [], "value is required"), ("a", None, "cases are required")],
)
def test_switch_errors(tmp_path: Path, text: Any, cases: Any, message: str) -> None:
    """A missing value or missing cases input is a hard error."""
    assert error_of(_switch(tmp_path, None, text, cases)) == message


def test_for_outputs_and_errors(tmp_path: Path) -> None:
    """conditional/for: outputs from count/start; missing or negative counts are hard errors."""
    ok = run_action(
        tmp_path, "conditional/for", 2, value("count", "4", "integer"), value("start", 2, "integer")
    )
    assert outputs_of(ok) == {
        "result": True,
        "iterations": 4,
        "max_iterations": 4,
        "current_index": 2,
    }
    missing = run_action(tmp_path, "conditional/for", 2, value("count", "lots", "integer"))
    assert error_of(missing) == "iteration count is required"
    negative = run_action(tmp_path, "conditional/for", 2, value("count", -3, "integer"))
    assert error_of(negative) == "invalid iteration count: -3"


@pytest.mark.parametrize(
    ("count", "start", "outcome"),
    [
        (value("count", "abc", "string"), None, "invalid iteration count: abc"),
        (value("count", " 5", "string"), None, "invalid iteration count:  5"),
        (value("count", 2**63, "integer"), None, "iteration count is required"),
        (value("count", "3", "string"), value("start", "7", "string"), 7),
        (value("count", 3.0, "integer"), value("start", "2.5", "integer"), 0),
        (value("count", 3, "integer"), value("start", "x", "string"), 0),
    ],
)
def test_for_reads_count_and_start_as_go_parses_text(
    tmp_path: Path, count: dict[str, Any], start: dict[str, Any] | None, outcome: Any
) -> None:
    """Count and start are read as text and parsed like Go's strconv.ParseInt.

    Upstream: flomation-co/executor actions/conditional/for/action.go (count: text required,
    else "invalid iteration count: <value>"; start: 0 unless it parses).
    """
    inputs = [count] if start is None else [count, start]
    run = run_action(tmp_path, "conditional/for", 2, *inputs)
    if isinstance(outcome, str):
        assert error_of(run) == outcome
    else:
        assert outputs_of(run)["current_index"] == outcome


def test_while_outputs(tmp_path: Path) -> None:
    """conditional/while: unknown operator compares false; max_iterations defaults to 1000."""
    run = run_action(
        tmp_path,
        "conditional/while",
        2,
        value("value_a", "a"),
        value("operator", "odd"),
        value("value_b", "a"),
    )
    assert outputs_of(run) == {"result": False, "iterations": 0, "max_iterations": 1000}
    missing = run_action(tmp_path, "conditional/while", 2, value("value_a", "a"))
    assert error_of(missing) == "operator is required"


def test_set_variable(tmp_path: Path) -> None:
    """common/set_variable keeps the value's type; an empty name is a hard error."""
    run = run_action(
        tmp_path, "common/set_variable", 2, value("name", "v"), value("value", [1, 2], "object")
    )
    assert outputs_of(run) == {"name": "v", "value": [1, 2]}
    assert run.engine.variables["v"] == [1, 2]
    assert error_of(run_action(tmp_path, "common/set_variable", 2, value("name", ""))) == (
        "variable name is required"
    )


def test_sleep_zero_missing_and_cancelled(tmp_path: Path) -> None:
    """common/sleep: 0 returns at once, no duration fails, cancellation wakes it as a success."""
    zero = run_action(tmp_path, "common/sleep", 2, value("duration", 0, "integer"))
    assert outputs_of(zero) == {"slept_for_seconds": 0, "cancelled": False}
    missing = run_action(tmp_path, "common/sleep", 2, value("duration", "x", "integer"))
    assert error_of(missing) == "duration is required"
    document = flow_document(
        [
            TRIGGER,
            node("x", "common/sleep", 2, [value("duration", 1, "integer"), value("unit", "hours")]),
        ],
        [edge("t", "x")],
    )
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    started = datetime.now(UTC)
    run = run_engine(tmp_path, document, cancel_event=cancel)
    timer.join()
    assert datetime.now(UTC) - started < timedelta(seconds=5)
    assert outputs_of(run) == {"slept_for_seconds": 0, "cancelled": True}
    assert run.result.records["x"].status == "success"
    assert run.result.status == 2


def test_wait_duration_suspends_until_now_plus_duration(tmp_path: Path) -> None:
    """common/wait with a duration suspends with reason wait and resume_at ≈ now + duration."""
    before = datetime.now(UTC).replace(microsecond=0)
    run = run_action(tmp_path, "common/wait", 2, value("duration", "2d"))
    checkpoint = run.result.checkpoint
    assert checkpoint is not None and checkpoint.suspend_info is not None
    resume_at = checkpoint.suspend_info.resume_at
    assert resume_at is not None
    assert timedelta(days=2) <= resume_at - before < timedelta(days=2, seconds=5)
    outputs = outputs_of(run)
    assert outputs["suspended"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", outputs["resume_at"])
    assert outputs["tool_result"] == f"Waiting until {outputs['resume_at']}"
    assert outputs["duration"] == "2d"


@pytest.mark.parametrize(
    ("inputs", "message", "tool_result"),
    [
        ([value("resume_at", "tomorrow")], "invalid resume_at: ", "Invalid resume_at format: "),
        ([value("duration", "5 minutes")], "invalid duration: ", "Invalid duration: "),
        ([value("resume_at", " 2026-06-15T14:00:00Z")], "invalid resume_at: ", "Invalid "),
        (
            [],
            "either duration or resume_at is required",
            "Either duration or resume_at is required",
        ),
    ],
)
def test_wait_errors(
    tmp_path: Path, inputs: list[dict[str, Any]], message: str, tool_result: str
) -> None:
    """common/wait errors are hard errors with {tool_result, suspended, resume_at, duration}."""
    run = run_action(tmp_path, "common/wait", 2, *inputs)
    assert error_of(run).startswith(message)
    outputs = outputs_of(run)
    assert outputs["tool_result"].startswith(tool_result)
    assert (outputs["suspended"], outputs["resume_at"], outputs["duration"]) == (False, "", "")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300ms", 0.3),
        ("1.5h", 5400),
        ("2h45m", 9900),
        ("1w", 604800),
        ("3d", 259200),
        ("0", 0),
        ("1µs", 1e-6),
        ("-1m", -60),
    ],
)
def test_wait_duration_syntax(text: str, seconds: float) -> None:
    """Go duration syntax plus <n>d and <n>w."""
    assert parse_wait_duration(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5", "0d", "1y", "h", ".s", "-2d"])
def test_wait_duration_rejects(text: str) -> None:
    """Malformed durations raise ValueError with upstream's message."""
    with pytest.raises(ValueError, match="unsupported duration format"):
        parse_wait_duration(text)


def test_pause_default_reason(tmp_path: Path) -> None:
    """common/pause defaults its reason to 'Manual pause' and suspends with reason manual."""
    run = run_action(tmp_path, "common/pause", 2)
    assert outputs_of(run) == {
        "tool_result": "Manual pause",
        "suspended": True,
        "reason": "Manual pause",
    }
    assert run.result.status == 3


def test_output_set_requires_both_inputs(tmp_path: Path) -> None:
    """output/set without a value input returns set false and writes nothing."""
    run = run_action(tmp_path, "output/set", 3, value("name", "n"))
    assert outputs_of(run) == {"set": False}
    assert run.result.outputs == {}


def test_set_outputs_counts_keys(tmp_path: Path) -> None:
    """output/set_outputs copies every parent output (later parents overwrite) and counts them."""
    document = flow_document(
        [
            TRIGGER,
            node("a", "common/set_variable", inputs=[value("name", "k"), value("value", 1)]),
            node("x", "output/set_outputs", 3),
        ],
        [edge("t", "a"), edge("a", "x")],
    )
    run = run_engine(tmp_path, document)
    assert outputs_of(run) == {"count": 2}
    assert run.result.outputs == {"name": "k", "value": 1}


def test_web_response(tmp_path: Path) -> None:
    """output/web_response stores its non-null inputs as __web_response__."""
    run = run_action(
        tmp_path,
        "output/web_response",
        3,
        value("body", "ok", "text"),
        value("status_code", 201, "integer"),
        value("headers", None, "text"),
    )
    assert outputs_of(run) == {"set": True}
    assert run.result.outputs == {"__web_response__": {"body": "ok", "status_code": 201}}


def test_webhook_and_generic_triggers_echo_inputs(tmp_path: Path) -> None:
    """trigger/webhook (and any other trigger/… id) echoes every non-null input."""
    document = flow_document(
        [node("w", "trigger/schedule", 1, [value("a", 1, "integer"), value("b", None)])], []
    )
    run = run_engine(tmp_path, document)
    assert run.result.records["w"].outputs == {"a": 1}
    registry = Registry()
    assert registry.find("trigger/schedule") is registry.find("trigger/webhook")


def test_webhook_trigger_declares_upstreams_outputs() -> None:
    """trigger/webhook declares body, method, content_type and triggered_at, as upstream's.

    Upstream: flomation-co/executor actions/trigger/webhook/action.go (Outputs).
    """
    action = Registry().find("trigger/webhook")
    assert action is not None
    assert [item.name for item in action.spec.outputs] == [
        "body",
        "method",
        "content_type",
        "triggered_at",
    ]


def test_manual_trigger_outputs(tmp_path: Path) -> None:
    """trigger/manual outputs the start time (Go time JSON, UTC) and the quote."""
    run = run_engine(tmp_path, flow_document([TRIGGER], []))
    outputs = run.result.records["t"].outputs or {}
    assert outputs["quote"] == "To err is human"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", outputs["start"])


def test_subflow_invoke_without_name_is_a_soft_failure(tmp_path: Path) -> None:
    """subflow/invoke with an empty name fails softly with 'sub_flow_name is required'."""
    run = run_action(tmp_path, "subflow/invoke", 2, value("sub_flow_name", " "))
    assert run.result.records["x"].status == "failed"
    assert error_of(run) == "sub_flow_name is required"
    assert run.result.status == 0


def test_subflow_end_tool_result_without_result_input(tmp_path: Path) -> None:
    """subflow/end without a result input reports ``Sub-flow returned: <Go-JSON>``.

    Upstream: flomation-co/executor actions/subflow/end/action.go.
    """
    run = run_action(
        tmp_path, "subflow/end", 2, value("return_value", 2, "integer"), value("a", "<")
    )
    assert outputs_of(run) == {
        "return_value": 2,
        "a": "<",
        "tool_result": 'Sub-flow returned: {"a":"\\u003c","return_value":2}',
    }


def test_on_error_called_directly_returns_empty_error_outputs(tmp_path: Path) -> None:
    """error/on_error run as an ordinary node returns its four outputs, each ``""``.

    Upstream: flomation-co/executor actions/error/on_error/action.go.
    """
    run = run_action(tmp_path, "error/on_error", 2)
    assert outputs_of(run) == {
        "error_message": "",
        "error_node_id": "",
        "error_node_label": "",
        "error_node_type": "",
    }
    assert run.result.records["x"].status == "success"


def test_keyword_action_ids_resolve_through_the_alias_rule() -> None:
    """conditional/if, /for, /while live in if_.py, for_.py, while_.py; 'if_' is no id."""
    registry = Registry()
    for action_id in ("conditional/if", "conditional/for", "conditional/while"):
        action = registry.find(action_id)
        assert action is not None
        assert action.spec.id == action_id
    assert registry.find("conditional/if_") is None
    assert "conditional/if" in {action.spec.id for action in registry.all_actions()}
