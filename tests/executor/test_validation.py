"""Static flow checks (docs/flows.md): each silent trap is named with the node it concerns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from executor.engine_harness import edge, flow_document, node, value
from flomation.executor.catalogue import load_catalogue, load_upstream
from flomation.executor.validation import Problem, format_problem, validate_flow_text
from flomation.wire.jsontext import JsonObject

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(sys.executable).parent / "flomation-runner"
TRIGGER = node("start", "trigger/manual", 1)


def _problems(text: str, trigger_data_keys: list[str] | None = None) -> list[Problem]:
    return validate_flow_text(
        text, load_catalogue(), upstream=load_upstream(), trigger_data_keys=trigger_data_keys
    )


def _errors(text: str) -> list[str]:
    return [format_problem("f", p) for p in _problems(text) if p.severity == "error"]


def _warnings(text: str, trigger_data_keys: list[str] | None = None) -> list[str]:
    return [
        format_problem("f", p)
        for p in _problems(text, trigger_data_keys)
        if p.severity == "warning"
    ]


def _condition(config_type: int) -> str:
    check = node(
        "check",
        "conditional/if",
        config_type,
        [value("value_a", "1"), value("operator", "equals"), value("value_b", "1")],
    )
    yes = node("yes", "output/set", 3, [value("name", "r"), value("value", "yes")])
    no = node("no", "output/set", 3, [value("name", "r"), value("value", "no")])
    return flow_document(
        [TRIGGER, check, yes, no],
        [
            edge("start", "check"),
            edge("check", "yes", "true-branch"),
            edge("check", "no", "false-branch"),
        ],
    )


def test_every_example_flow_is_valid() -> None:
    """Every flow under examples/ passes validation with neither errors nor warnings."""
    for example in sorted((ROOT / "examples").glob("*.flow.json")):
        problems = _problems(example.read_text(encoding="utf-8"))
        assert problems == [], (example.name, problems)


def test_conditional_without_config_type_4_is_named() -> None:
    """A conditional/if whose config type is not 4 (it would run both branches) is an error."""
    assert _errors(_condition(4)) == []
    errors = _errors(_condition(2))
    assert len(errors) == 1
    assert "node 'check': data.config.type is 2 (action) but conditional/if needs 4" in errors[0]
    assert "both branches run" in errors[0]


def test_trigger_without_config_type_1_is_named() -> None:
    """A trigger whose config type is missing (its data would be dropped) is an error."""
    trigger = node("start", "trigger/manual", 1)
    del trigger["data"]["config"]["type"]
    errors = _errors(flow_document([trigger], []))
    assert errors == [
        "f: error: node 'start': data.config.type is missing: trigger/manual needs 1 (trigger); "
        "without it the trigger data is not passed on to the next nodes"
    ]


def test_integer_input_without_integer_type_is_named() -> None:
    """An integer input written with type string (it reads as missing) is an error."""
    index = node(
        "pick",
        "common/array_index",
        2,
        [value("array", [1, 2], "object"), value("index", 0, "string")],
    )
    errors = _errors(flow_document([TRIGGER, index], [edge("start", "pick")]))
    assert len(errors) == 1
    assert (
        "node 'pick': input 'index' has type 'string' but common/array_index declares "
        in (errors[0])
    )


def test_text_input_typed_integer_is_valid() -> None:
    """A text input written with type integer reads as its digits, so it validates.

    Older editors typed arithmetic operands ``integer``; upstream's newest declares them
    ``string`` (flomation-co/executor actions/arithmetic/addition/action.go).
    """
    add = node(
        "add",
        "arithmetic/addition",
        2,
        [value("a", 1, "integer"), value("b", "2", "integer")],
    )
    assert _errors(flow_document([TRIGGER, add], [edge("start", "add")])) == []


def test_value_that_does_not_fit_its_type_is_named() -> None:
    """Literal values that the node cannot read as their declared type are errors."""
    nodes = [
        TRIGGER,
        node("count", "conditional/for", 5, [value("count", "five", "integer")]),
        node("op", "conditional/if", 4, [value("operator", "bigger")]),
        node(
            "write",
            "file/write",
            2,
            [
                value("file_path", "a.txt"),
                value("content", "x", "text"),
                value("append", "maybe", "boolean"),
            ],
        ),
    ]
    edges = [edge("start", "count"), edge("start", "op"), edge("start", "write")]
    errors = _errors(flow_document(nodes, edges))
    assert any("node 'count': input 'count': 'five' is not a number" in e for e in errors)
    assert any("node 'op': input 'operator': 'bigger' is not one of: equals" in e for e in errors)
    assert any("node 'write': input 'append': \"maybe\" is not a boolean" in e for e in errors)


def test_required_input_missing_is_named() -> None:
    """A node without one of its required inputs is an error naming the input."""
    check = node("check", "conditional/if", 4, [value("value_a", "1")])
    errors = _errors(flow_document([TRIGGER, check], [edge("start", "check")]))
    assert "f: error: node 'check': required input 'operator' (string) is missing" in errors


def test_edge_to_missing_node_and_duplicate_ids_are_named() -> None:
    """An edge to or from a missing node and a duplicated node id are errors."""
    shout = node("shout", "string/upper_case", 2, [value("value", "x")])
    text = flow_document(
        [TRIGGER, shout, shout],
        [edge("start", "shout"), edge("shout", "ghost"), edge("phantom", "shout")],
    )
    errors = _errors(text)
    assert (
        "f: error: node 'shout': duplicate node id (nodes[1] and nodes[2]); the executor "
        in (errors[0])
    )
    assert "f: error: node 'shout': edge 'shout-ghost': target 'ghost' is not a node" in errors
    assert "f: error: edge 'phantom-shout': source 'phantom' is not a node" in errors


def test_unknown_node_type_suggests_the_closest_names() -> None:
    """An unknown node type is named with the closest known types; an upstream one says so."""
    typo = node("shout", "string/uppercase", 2)
    slack = node("post", "slack/send_message", 2)
    errors = _errors(flow_document([TRIGGER, typo, slack], [edge("start", "shout")]))
    assert errors[0].startswith(
        "f: error: node 'shout': unknown node type 'string/uppercase'; closest: string/upper_case"
    )
    assert "node 'post': node type 'slack/send_message' is an upstream node type" in errors[1]


def test_flow_without_trigger_is_named() -> None:
    """A flow with no trigger node (the executor has no start node) is an error."""
    errors = _errors(flow_document([node("a", "string/upper_case", 2, [value("value", "x")])], []))
    assert errors == [
        "f: error: no trigger node: the executor starts at the first node whose type starts with "
        "'trigger/' (add a trigger/manual node; docs/flows.md 'Nodes')"
    ]


def test_handle_the_node_cannot_route_to_is_named() -> None:
    """Edges whose handle the source never routes on are errors naming the source node."""
    loop = node("loop", "conditional/for", 5, [value("count", 2, "integer")])
    body = node("body", "string/upper_case", 2, [value("value", "x")])
    after = node("after", "string/upper_case", 2, [value("value", "y")])
    text = flow_document(
        [TRIGGER, loop, body, after],
        [edge("start", "loop"), edge("loop", "body", "true-branch"), edge("body", "after", "loop")],
    )
    errors = _errors(text)
    assert any(
        "node 'loop': edge 'loop-body' has 'true-branch': conditional/for routes only on loop, "
        "output" in e
        for e in errors
    )
    assert any(
        "node 'body': edge 'body-after': string/upper_case cannot route on 'loop'" in e
        for e in errors
    )


def test_switch_case_beyond_the_cases_is_named() -> None:
    """A switch edge on case_2 when only two cases exist is never followed: an error."""
    cases = [{"key": "a", "value": "a"}, {"key": "b", "value": "b"}]
    switch = node(
        "route",
        "conditional/switch",
        6,
        [value("value", "a"), value("cases", cases, "key_value_array")],
    )
    target = node("t2", "string/upper_case", 2, [value("value", "x")])
    ok = node("t0", "string/upper_case", 2, [value("value", "x")])
    text = flow_document(
        [TRIGGER, switch, target, ok],
        [edge("start", "route"), edge("route", "t2", "case_2"), edge("route", "t0", "case_0")],
    )
    errors = _errors(text)
    assert len(errors) == 1 and "node 'route': edge 'route-t2' has 'case_2'" in errors[0]


def test_reference_that_cannot_resolve_is_a_warning() -> None:
    """References that read as empty are warnings naming node, input and the better spelling."""
    greet = node("greet", "string/concatenate", 2, [value("a", "hi")])
    shout = node("shout", "string/upper_case", 2, [value("value", "${greet.result}")])
    show = node(
        "show",
        "output/set",
        3,
        [value("name", "x"), value("value", "${result} ${greet.reslt} ${var.nope} ${flow.nope}")],
    )
    text = flow_document(
        [TRIGGER, greet, shout, show],
        [edge("start", "greet"), edge("greet", "shout"), edge("shout", "show")],
    )
    assert _errors(text) == []
    warnings = _warnings(text)
    assert len(warnings) == 3, warnings
    assert (
        "node 'show': input 'value': ${greet.reslt} reads as empty: greet (string/concatenate) "
        "has no output 'reslt'" in warnings[0]
    )
    assert "${var.nope} reads as empty: no common/set_variable node sets it" in warnings[1]
    assert "${flow.nope} is not a flow field" in warnings[2]
    # ${result} is fine: the direct parent shout outputs it.


def test_bare_reference_to_a_grandparent_names_the_node_to_use() -> None:
    """A bare ${x} only sees direct parents; the warning names the node that has x."""
    greet = node("greet", "string/concatenate", 2, [value("a", "hi")])
    mid = node("mid", "output/set", 3, [value("name", "g"), value("value", "x")])
    show = node("show", "output/set", 3, [value("name", "x"), value("value", "${result}")])
    text = flow_document(
        [TRIGGER, greet, mid, show],
        [edge("start", "greet"), edge("greet", "mid"), edge("mid", "show")],
    )
    warnings = _warnings(text)
    assert len(warnings) == 1
    assert (
        "node 'show': input 'value': ${result} reads as empty: a bare name only sees" in warnings[0]
    )
    assert "write ${greet.result}" in warnings[0]


def test_reference_to_trigger_data_is_checked_when_the_data_is_known() -> None:
    """With known trigger data keys, ${name} from the trigger warns when no such key is given."""
    hello = (ROOT / "examples" / "hello.flow.json").read_text(encoding="utf-8")
    assert _warnings(hello, ["name"]) == []
    warnings = _warnings(hello, [])
    assert len(warnings) == 1
    assert "node 'greet': input 'b': ${name} reads as empty" in warnings[0]
    assert "--data" in warnings[0]


def test_invalid_json_names_line_and_column() -> None:
    """Invalid JSON is one error with its line and column."""
    problems = _problems('{"nodes": [\n  {"id": 1,}\n]}')
    assert [format_problem("f.json", p) for p in problems] == [
        "f.json:2:12: error: invalid JSON: Expecting property name enclosed in double quotes"
    ]


@pytest.mark.parametrize(
    "text", ["", "[]", "null", '{"nodes": 3}', '{"nodes": [1, {"id": ""}], "edges": {}}', "\udcff"]
)
def test_malformed_documents_are_problems_not_crashes(text: str) -> None:
    """Whatever the document, validation returns errors instead of raising."""
    assert any(p.severity == "error" for p in _problems(text))


def _validate(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUNNER), "validate", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_validate_command_exit_codes(tmp_path: Path) -> None:
    """`flomation-runner validate`: 0 valid, 2 with errors, warnings 0 or 1 with --strict."""
    good = tmp_path / "good.flow.json"
    good.write_text(_condition(4), encoding="utf-8")
    bad = tmp_path / "bad.flow.json"
    bad.write_text(_condition(2), encoding="utf-8")
    warn = tmp_path / "warn.flow.json"
    warn.write_text(
        flow_document(
            [TRIGGER, node("o", "output/set", 3, [value("name", "x"), value("value", "${var.v}")])],
            [edge("start", "o")],
        ),
        encoding="utf-8",
    )
    result = _validate(str(good))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    result = _validate(str(good), str(bad))
    assert result.returncode == 2
    assert result.stdout.startswith(f"{bad}: error: node 'check': data.config.type is 2")
    assert _validate(str(warn)).returncode == 0
    strict = _validate("--strict", str(warn))
    assert strict.returncode == 1
    assert f"{warn}: warning: node 'o': input 'value': ${{var.v}} reads as empty" in strict.stdout
    missing = _validate(str(tmp_path / "absent.json"))
    assert missing.returncode == 2
    assert "absent.json: error: no such flow file" in missing.stdout
    assert _validate().returncode == 2  # usage error


def test_validate_reads_every_example_in_one_call() -> None:
    """All examples validate together in one call with exit 0 and no output."""
    examples = sorted(str(p) for p in (ROOT / "examples").glob("*.flow.json"))
    result = _validate(*examples)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout
    assert json.loads((ROOT / "examples" / "hello.flow.json").read_text())["nodes"]


_JSON_LEAF = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_JSON = st.recursive(
    _JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_NAMES = st.sampled_from(["start", "a", "b", "", "trigger/manual", "conditional/if", "x.y"])
_CONNECTION = st.fixed_dictionaries(
    {
        "name": _NAMES | _JSON,
        "type": st.sampled_from(["string", "integer", "boolean", "rows"]) | _JSON,
    },
    optional={"value": _JSON | st.sampled_from(["${a.result}", "${var.v}", "${flow.x}", "${"])},
)
_NODE = st.fixed_dictionaries(
    {"id": _NAMES | _JSON},
    optional={
        "type": st.sampled_from(sorted(load_catalogue())) | _NAMES | _JSON,
        "data": st.none()
        | _JSON
        | st.fixed_dictionaries(
            {},
            optional={
                "label": _NAMES | _JSON,
                "config": _JSON
                | st.fixed_dictionaries(
                    {},
                    optional={
                        "type": st.integers(0, 8) | _JSON,
                        "inputs": st.lists(_CONNECTION, max_size=4) | _JSON,
                    },
                ),
            },
        ),
    },
)
_EDGE = st.fixed_dictionaries(
    {},
    optional={
        "id": _JSON,
        "source": _NAMES | _JSON,
        "target": _NAMES | _JSON,
        "sourceHandle": st.sampled_from(["true-branch", "loop", "case_1", "default", ""]) | _JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "nodes": st.lists(_NODE, max_size=5) | _JSON,
            "edges": st.lists(_EDGE, max_size=5) | _JSON,
        },
    )
)
def test_any_document_gives_problems_never_an_exception(document: JsonObject) -> None:
    """Whatever shape a flow document has, validation returns problems and never raises."""
    problems = _problems(json.dumps(document))
    assert all(isinstance(p.message, str) and p.severity in ("error", "warning") for p in problems)
