"""The engine's traversal semantics (docs/flows.md §4) on real flows, run in-process.

Test docstrings starting ``C<n>:`` pin the numbered rules of docs/flows.md §12.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from executor.engine_harness import edge, flow_document, node, run_engine, value
from flomation.executor.actions.base import ActionContext, ActionSpec, Outputs
from flomation.executor.checkpoint import parse_checkpoint
from flomation.executor.registry import Action, Registry

TRIGGER = node("t", "trigger/manual", 1)


def upper(node_id: str, text: str) -> dict[str, Any]:
    return node(node_id, "string/upper_case", inputs=[value("value", text)])


def output(node_id: str, name: str, raw: Any) -> dict[str, Any]:
    return node(node_id, "output/set", 3, [value("name", name), value("value", raw)])


def condition(node_id: str, a: str, operator: str, b: str) -> dict[str, Any]:
    inputs = [value("value_a", a), value("operator", operator), value("value_b", b)]
    return node(node_id, "conditional/if", 4, inputs)


def successes(run: Any) -> list[str]:
    return [node_id for node_id, status in run.pairs() if status == "success"]


class _WithExtraActions(Registry):
    """The real registry plus test-only actions (an action that crashes, for instance)."""

    def __init__(self, extra: dict[str, Action]) -> None:
        super().__init__()
        self._extra = extra

    def find(self, action_id: str) -> Action | None:
        return self._extra.get(action_id) or super().find(action_id)


def _crash(ctx: ActionContext) -> Outputs:
    return {"ratio": 1 / len(ctx.inputs)}


CRASHING = _WithExtraActions(
    {"test/crash": Action(ActionSpec("test/crash", "Crash", "divides by zero"), _crash, Path())}
)


def test_diamond_join_runs_once(tmp_path: Path) -> None:
    """C1: T→A, T→B, A→J, B→J runs J once, after both parents, in order T, A, B, J."""
    document = flow_document(
        [TRIGGER, upper("a", "a"), upper("b", "b"), upper("j", "j")],
        [edge("t", "a"), edge("t", "b"), edge("a", "j"), edge("b", "j")],
    )
    run = run_engine(tmp_path, document)
    assert successes(run) == ["t", "a", "b", "j"]
    assert run.count("j", "running") == 1
    assert run.result.status == 0


def test_unequal_paths_join_pulls_the_longer_parent(tmp_path: Path) -> None:
    """C2: with edges T→A, A→B, B→J, T→J the join pulls B first; order T, A, B, J, each once."""
    document = flow_document(
        [TRIGGER, upper("a", "a"), upper("b", "b"), upper("j", "j")],
        [edge("t", "a"), edge("a", "b"), edge("b", "j"), edge("t", "j")],
    )
    run = run_engine(tmp_path, document)
    assert successes(run) == ["t", "a", "b", "j"]
    assert all(run.count(n, "running") == 1 for n in "tabj")


def test_trigger_and_subflow_begin_children_are_not_walked(tmp_path: Path) -> None:
    """§4.6: a trigger or subflow/begin that is an edge's target is not walked as a child."""
    document = flow_document(
        [
            TRIGGER,
            upper("a", "a"),
            node("t2", "trigger/manual", 1),
            node("begin", "subflow/begin", inputs=[value("name", "unused")]),
            upper("b", "b"),
        ],
        [edge("t", "a"), edge("a", "t2"), edge("a", "begin"), edge("a", "b"), edge("a", "b", "x")],
    )
    run = run_engine(tmp_path, document)
    assert successes(run) == ["t", "a", "b"]
    assert run.count("b", "running") == 1


def test_unmatched_parent_is_not_executed(tmp_path: Path) -> None:
    """C3: the false-branch node of a true conditional never runs; the join runs once."""
    document = flow_document(
        [
            TRIGGER,
            condition("if", "x", "equals", "x"),
            upper("x", "x"),
            upper("y", "y"),
            upper("j", "j"),
        ],
        [
            edge("t", "if"),
            edge("if", "x", "true-branch"),
            edge("if", "y", "false-branch"),
            edge("x", "j"),
            edge("y", "j"),
        ],
    )
    run = run_engine(tmp_path, document)
    assert "y" not in {node_id for node_id, _ in run.pairs()}
    assert run.count("j", "success") == 1
    assert "y" not in run.result.records


def test_rootless_provider_runs_before_its_child(tmp_path: Path) -> None:
    """C4: a parent without incoming edges and not below a trigger is pulled before the join."""
    document = flow_document(
        [
            TRIGGER,
            upper("p", "p"),
            node("j", "string/concatenate", inputs=[value("a", "${p.result}")]),
        ],
        [edge("p", "j"), edge("t", "j")],
    )
    run = run_engine(tmp_path, document)
    assert successes(run) == ["t", "p", "j"]
    assert run.result.records["j"].outputs == {
        "tool_result": "P",
        "result": "P",
        "success": True,
        "error": "",
    }


def test_non_firing_trigger_never_runs(tmp_path: Path) -> None:
    """C5: a second trigger feeding the join has no event and ${W.x} resolves to ''."""
    document = flow_document(
        [
            TRIGGER,
            node("w", "trigger/webhook", 1, [value("x", "from-w")]),
            output("j", "seen", "[${w.x}]"),
        ],
        [edge("t", "j"), edge("w", "j")],
    )
    run = run_engine(tmp_path, document)
    assert "w" not in {node_id for node_id, _ in run.pairs()}
    assert run.result.outputs == {"seen": "[]"}


def test_typed_whole_value_references(tmp_path: Path) -> None:
    """C9: ${items}, ${t.items} and ' ${items}' receive the list; 'x ${items}' receives text."""
    document = flow_document(
        [
            TRIGGER,
            output("o1", "bare", "${items}"),
            output("o2", "scoped", "${t.items}"),
            output("o3", "spaced", " ${items}"),
            output("o4", "text", "x ${items}"),
        ],
        [edge("t", "o1"), edge("t", "o2"), edge("t", "o3"), edge("t", "o4")],
    )
    run = run_engine(tmp_path, document, trigger_data={"items": [1, 2, 3]})
    assert run.result.outputs == {
        "bare": [1, 2, 3],
        "scoped": [1, 2, 3],
        "spaced": [1, 2, 3],
        "text": "x [1,2,3]",
    }


def test_trigger_data_becomes_trigger_outputs(tmp_path: Path) -> None:
    """C23: injected keys (not __node_id) are trigger outputs, typed, and feed ${name}."""
    document = flow_document([TRIGGER, output("o", "name", "${name}")], [edge("t", "o")])
    run = run_engine(tmp_path, document, trigger_data={"name": "Ada", "n": 5, "__node_id": "t"})
    outputs = run.result.records["t"].outputs or {}
    assert outputs["name"] == "Ada"
    assert outputs["n"] == 5
    assert "__node_id" not in outputs
    assert run.result.outputs == {"name": "Ada"}


def test_blank_input_is_auto_wired_from_the_parent(tmp_path: Path) -> None:
    """C27: an input with an empty value takes the same-named output of the last parent."""
    document = flow_document(
        [
            TRIGGER,
            node("s", "common/set_variable", inputs=[value("name", "text"), value("value", "hi")]),
            node("u", "string/upper_case", inputs=[value("value", "")]),
        ],
        [edge("t", "s"), edge("s", "u")],
    )
    run = run_engine(tmp_path, document)
    assert (run.result.records["u"].inputs or {})["value"] == "hi"


def test_non_boolean_conditional_result_is_a_hard_error(tmp_path: Path) -> None:
    """C11: a type-4 node whose result is not a boolean fails the flow after its success event."""
    document = flow_document(
        [TRIGGER, node("c", "string/upper_case", 4, [value("value", "yes")]), upper("after", "x")],
        [edge("t", "c"), edge("c", "after", "true-branch")],
    )
    run = run_engine(tmp_path, document)
    assert run.result.status == 1
    assert run.result.error == "conditional node c did not return a boolean result"
    assert run.count("c", "success") == 1
    assert run.result.outputs is None


def test_hard_error_stops_siblings_without_on_error(tmp_path: Path) -> None:
    """C13: a failing node stops its unrun siblings; status 1 and outputs null."""
    document = flow_document(
        [TRIGGER, condition("bad", "1", "bogus", "2"), output("sib", "ran", "yes")],
        [edge("t", "bad"), edge("t", "sib")],
    )
    run = run_engine(tmp_path, document)
    assert run.result.status == 1
    assert run.result.outputs is None
    assert "sib" not in run.result.records
    assert run.event("bad", "failed")["error"] == "unknown operator: bogus"
    assert "Error processing Action" in run.messages()
    assert "Error executing flow" in run.messages()


def test_on_error_chain_keeps_outputs_and_status_one(tmp_path: Path) -> None:
    """C13: with an On Error chain the chain's output is kept but the status is still 1."""
    document = flow_document(
        [
            TRIGGER,
            condition("bad", "1", "bogus", "2"),
            node("oe", "error/on_error"),
            output("rep", "why", "${error_message}|${oe.error_node_id}|${error_node_type}"),
        ],
        [edge("t", "bad"), edge("oe", "rep")],
    )
    run = run_engine(tmp_path, document)
    assert run.result.status == 1
    assert run.result.outputs == {"why": "unknown operator: bogus|bad|conditional/if"}
    assert run.event("oe", "success") == {
        "id": "oe",
        "action": "error/on_error",
        "label": "error/on_error",
        "status": "success",
    }
    assert "Error executing flow" not in run.messages()


def test_failing_on_error_chain_leaves_the_original_error(tmp_path: Path) -> None:
    """A chain that fails itself leaves the original error: status 1, outputs null."""
    document = flow_document(
        [
            TRIGGER,
            condition("bad", "1", "bogus", "2"),
            node("oe", "error/on_error"),
            condition("bad2", "1", "worse", "2"),
        ],
        [edge("t", "bad"), edge("oe", "bad2")],
    )
    run = run_engine(tmp_path, document)
    assert run.result.status == 1
    assert run.result.error == "unknown operator: bogus"
    assert run.result.outputs is None


def test_switch_without_an_edge_for_the_matched_case_routes_to_default(tmp_path: Path) -> None:
    """C14: matched_case case_1 with no case_1 edge routes to default."""
    cases = [{"key": "a", "value": "alpha"}, {"key": "b", "value": "beta"}]
    switch = node(
        "s",
        "conditional/switch",
        6,
        [value("value", "BETA"), value("cases", cases, "key_value_array")],
    )
    document = flow_document(
        [TRIGGER, switch, output("c0", "route", "case_0"), output("d", "route", "default")],
        [edge("t", "s"), edge("s", "c0", "case_0"), edge("s", "d", "default")],
    )
    run = run_engine(tmp_path, document)
    assert (run.result.records["s"].outputs or {})["matched_case"] == "case_1"
    assert run.result.outputs == {"route": "default"}
    assert "c0" not in run.result.records


def _for_loop(count: int) -> str:
    body = node(
        "b",
        "common/set_variable",
        inputs=[value("name", "seen"), value("value", "${var.seen}${var.loop.index},")],
    )
    return flow_document(
        [
            TRIGGER,
            node("f", "conditional/for", 5, [value("count", count, "integer")]),
            body,
            output("o", "seen", "${var.seen}"),
            output("n", "iterations", "${f.iterations}"),
        ],
        [
            edge("t", "f"),
            edge("f", "b", "loop"),
            edge("f", "o", "output"),
            edge("f", "n", "output"),
        ],
    )


def test_for_loop_runs_its_body_count_times_with_the_loop_index(tmp_path: Path) -> None:
    """C15: loop node and body each emit 3 running/success pairs; the body sees index 0, 1, 2."""
    run = run_engine(tmp_path, _for_loop(3))
    for node_id in ("f", "b"):
        assert run.count(node_id, "running") == 3
        assert run.count(node_id, "success") == 3
    assert run.result.outputs == {"seen": "0,1,2,", "iterations": 3}
    assert run.engine.variables["loop.index"] == 2
    assert run.engine.variables["loop.iteration"] == 3


def test_for_loop_with_zero_count_runs_no_body(tmp_path: Path) -> None:
    """C15: count 0 runs no body but still runs the output children."""
    run = run_engine(tmp_path, _for_loop(0))
    assert run.count("b", "running") == 0
    assert run.result.outputs == {"seen": "", "iterations": 0}


def test_while_loop_reevaluates_its_condition_each_iteration(tmp_path: Path) -> None:
    """A while loop re-runs its node every iteration and stops when the comparison fails."""
    loop = node(
        "w",
        "conditional/while",
        5,
        [value("value_a", "${var.n}"), value("operator", "not_equals"), value("value_b", "3")],
    )
    body = node(
        "b",
        "common/set_variable",
        inputs=[value("name", "n"), value("value", "${var.loop.iteration}")],
    )
    document = flow_document(
        [TRIGGER, loop, body, output("o", "iterations", "${w.iterations}")],
        [edge("t", "w"), edge("w", "b", "loop"), edge("w", "o", "output")],
    )
    run = run_engine(tmp_path, document)
    assert run.count("w", "success") == 4
    assert run.count("b", "success") == 3
    assert run.result.outputs == {"iterations": 3}


def test_while_loop_stops_at_max_iterations(tmp_path: Path) -> None:
    """An always-true while loop stops after max_iterations body runs."""
    loop = node(
        "w",
        "conditional/while",
        5,
        [
            value("value_a", "a"),
            value("operator", "equals"),
            value("value_b", "a"),
            value("max_iterations", 5, "integer"),
        ],
    )
    document = flow_document(
        [TRIGGER, loop, upper("b", "x"), output("o", "iterations", "${w.iterations}")],
        [edge("t", "w"), edge("w", "b", "loop"), edge("w", "o", "output")],
    )
    run = run_engine(tmp_path, document)
    assert run.count("b", "success") == 5
    assert run.result.outputs == {"iterations": 5}


def test_failing_loop_body_records_the_iteration_and_fails(tmp_path: Path) -> None:
    """A hard error in the body stops the loop with iterations = failing iteration + 1."""
    body = condition("b", "${var.loop.index}", "${var.loop.index}", "x")
    document = flow_document(
        [TRIGGER, node("f", "conditional/for", 5, [value("count", 3, "integer")]), body],
        [edge("t", "f"), edge("f", "b", "loop")],
    )
    run = run_engine(tmp_path, document)
    assert run.result.status == 1
    assert run.result.error == "unknown operator: 0"
    assert (run.result.records["f"].outputs or {})["iterations"] == 1


def _subflow(invoke_name: str, *, recursive: bool = False) -> str:
    invoke = node(
        "inv",
        "subflow/invoke",
        inputs=[value("sub_flow_name", invoke_name), value("x", 21, "integer")],
    )
    begin = node("begin", "subflow/begin", inputs=[value("name", "double")])
    if recursive:
        again = node("again", "subflow/invoke", inputs=[value("sub_flow_name", "double")])
        return flow_document(
            [TRIGGER, invoke, begin, again], [edge("t", "inv"), edge("begin", "again")]
        )
    add = node(
        "add",
        "arithmetic/addition",
        inputs=[value("a", "${begin.x}", "integer"), value("b", "${x}", "integer")],
    )
    end = node("end", "subflow/end", inputs=[value("result", "${answer}")])
    after = output("after", "doubled", "${inv.tool_result}/${inv.result}")
    return flow_document(
        [TRIGGER, invoke, begin, add, end, after],
        [edge("t", "inv"), edge("inv", "after"), edge("begin", "add"), edge("add", "end")],
    )


def test_subflow_runs_with_parameters_and_returns_the_end_result(tmp_path: Path) -> None:
    """The invoke node passes its parameters to the begin node and merges the end node's result."""
    run = run_engine(tmp_path, _subflow("double"))
    assert run.result.status == 0, run.result.error
    assert run.result.outputs == {"doubled": "42/42"}
    invoke_outputs = run.result.records["inv"].outputs or {}
    assert invoke_outputs["success"] is True
    assert invoke_outputs["error"] == ""
    assert successes(run) == ["t", "inv", "begin", "add", "end", "after"]


def test_unknown_subflow_is_a_hard_error(tmp_path: Path) -> None:
    """An invoke naming no subflow/begin node fails with 'sub-flow "<name>" not found'."""
    run = run_engine(tmp_path, _subflow("nope"))
    assert run.result.status == 1
    assert run.result.error == 'sub-flow "nope" not found'


def test_recursive_subflow_stops_at_depth_ten(tmp_path: Path) -> None:
    """An 11th nested invocation is the hard error 'sub-flow recursion depth exceeded (max 10)'."""
    run = run_engine(tmp_path, _subflow("double", recursive=True))
    assert run.result.status == 1
    assert run.result.error == "sub-flow recursion depth exceeded (max 10)"
    assert run.count("begin", "success") == 10


def _pause_flow() -> str:
    return flow_document(
        [
            TRIGGER,
            upper("a", "a"),
            node("p", "common/pause", inputs=[value("reason", "check")]),
            output("b", "after", "${a.result}"),
        ],
        [edge("t", "a"), edge("a", "p"), edge("p", "b")],
    )


def test_suspend_and_resume_round_trip(tmp_path: Path) -> None:
    """C16: pause suspends (status 3); resuming from the checkpoint runs only P and B."""
    first = run_engine(tmp_path, _pause_flow())
    assert first.result.status == 3
    assert first.result.outputs is None
    assert first.pairs()[-1] == ("p", "suspended")
    checkpoint = first.result.checkpoint
    assert checkpoint is not None
    assert checkpoint.suspend_info is not None
    assert checkpoint.suspend_info.suspend_reason == "manual"
    assert "Execution suspended" in first.messages()
    restored = parse_checkpoint(json.loads(checkpoint.to_json().text))
    second = run_engine(tmp_path, _pause_flow(), checkpoint=restored)
    assert second.pairs() == [
        ("p", "running"),
        ("p", "success"),
        ("b", "running"),
        ("b", "success"),
    ]
    assert second.result.status == 0
    assert second.result.outputs == {"after": "A"}
    assert set(second.result.records) == {"t", "a", "p", "b"}
    assert (second.result.records["p"].outputs or {})["suspended"] is False


def test_wait_resume_at_survives_the_checkpoint_round_trip(tmp_path: Path) -> None:
    """C17: common/wait suspends with reason wait and an identical resume_at after a round trip."""
    wait = node("w", "common/wait", inputs=[value("resume_at", "2026-06-15T14:00:00Z")])
    document = flow_document(
        [TRIGGER, wait, upper("after", "x")], [edge("t", "w"), edge("w", "after")]
    )
    run = run_engine(tmp_path, document)
    checkpoint = run.result.checkpoint
    assert checkpoint is not None
    text = checkpoint.to_json().text
    suspend_info = json.loads(text)["suspend_info"]
    assert suspend_info == {
        "suspend_node_id": "w",
        "suspend_reason": "wait",
        "resume_at": "2026-06-15T14:00:00Z",
    }
    assert parse_checkpoint(json.loads(text)).to_json().text == text
    resumed = run_engine(tmp_path, document, checkpoint=parse_checkpoint(json.loads(text)))
    assert (resumed.result.records["w"].outputs or {})["tool_result"] == "Resumed after wait"
    assert (resumed.result.records["w"].outputs or {})["resume_at"] == ""
    assert resumed.result.status == 0


def test_cancellation_before_a_node_cancels_it_and_sets_status_two(tmp_path: Path) -> None:
    """§9.1: with the cancel flag set the next node gets a lone cancelled event; status 2."""
    cancel = threading.Event()
    cancel.set()
    document = flow_document([TRIGGER, upper("a", "a")], [edge("t", "a")])
    run = run_engine(tmp_path, document, cancel_event=cancel)
    assert run.pairs() == [("t", "cancelled")]
    assert run.result.status == 2
    assert run.result.outputs is None
    assert run.result.records["t"].status == "cancelled"


def test_on_error_nodes_are_cancelled_during_cancellation(tmp_path: Path) -> None:
    """§4.10: during cancellation the On Error chain's nodes stop as cancelled; status 2."""
    cancel = threading.Event()
    cancel.set()
    document = flow_document(
        [TRIGGER, node("oe", "error/on_error"), output("rep", "why", "${error_message}")],
        [edge("oe", "rep")],
    )
    run = run_engine(tmp_path, document, cancel_event=cancel)
    assert run.pairs() == [("t", "cancelled"), ("oe", "success"), ("rep", "cancelled")]
    assert run.result.status == 2


def test_unexpected_action_exception_is_an_internal_error(tmp_path: Path) -> None:
    """C19: an exception inside an action fails the node with 'internal error: <Class>: <msg>'."""
    document = flow_document([TRIGGER, node("c", "test/crash")], [edge("t", "c")])
    run = run_engine(tmp_path, document, registry=CRASHING)
    failed = run.event("c", "failed")
    assert failed["error"] == "internal error: ZeroDivisionError: division by zero"
    assert run.result.status == 1


def test_invalid_node_has_no_event(tmp_path: Path) -> None:
    """C20: an unknown action id fails the flow with 'invalid node' and emits nothing for it."""
    document = flow_document([TRIGGER, node("x", "acme/unknown")], [edge("t", "x")])
    run = run_engine(tmp_path, document)
    assert run.pairs() == [("t", "running"), ("t", "success")]
    assert run.result.status == 1
    failure = next(line for line in run.logs if line["msg"] == "Error executing flow")
    assert failure["error"] == "invalid node"


def test_no_entry_node_is_a_hard_error(tmp_path: Path) -> None:
    """§3.6: a flow without any trigger and without --entry fails with 'no start node specified'."""
    run = run_engine(tmp_path, flow_document([upper("a", "a")], []))
    assert run.result.status == 1
    assert run.result.error == "no start node specified"


def test_unknown_entry_falls_back_with_a_warning(tmp_path: Path) -> None:
    """§2.2: an --entry naming no node logs a warning and starts at the first trigger."""
    run = run_engine(tmp_path, flow_document([TRIGGER], []), entry="ghost")
    assert run.pairs() == [("t", "running"), ("t", "success")]
    warning = next(line for line in run.logs if line["level"] == "warning")
    assert warning["msg"] == "entry node not found; falling back to trigger scan"
    assert warning["entry"] == "ghost"


def test_soft_failure_continues_the_flow(tmp_path: Path) -> None:
    """§4.5: success false is a failed event with outputs.error; children run; status 0."""
    join = node("j", "string/join", inputs=[value("array", None, "object")])
    document = flow_document(
        [TRIGGER, join, output("o", "after", "ran")], [edge("t", "j"), edge("j", "o")]
    )
    run = run_engine(tmp_path, document)
    assert run.event("j", "failed")["error"] == "array is required"
    assert run.result.status == 0
    assert run.result.outputs == {"after": "ran"}


def test_twilio_voice_tolerates_a_handled_error(tmp_path: Path) -> None:
    """§4.11: status 1 becomes 0 for twilio_voice when the error was handled (absent)."""
    document = flow_document(
        [TRIGGER, condition("bad", "1", "bogus", "2"), node("oe", "error/on_error")],
        [edge("t", "bad")],
    )
    handled = run_engine(tmp_path, document, context={"channel_type": "twilio_voice"})
    assert handled.result.status == 0
    unhandled = run_engine(
        tmp_path,
        flow_document([TRIGGER, condition("bad", "1", "bogus", "2")], [edge("t", "bad")]),
        context={"channel_type": "twilio_voice"},
    )
    assert unhandled.result.status == 1


def test_thousand_node_chain_completes(tmp_path: Path) -> None:
    """A chain of 1,000 nodes runs every node once without exhausting the stack."""
    nodes = [TRIGGER] + [upper(f"n{i}", "x") for i in range(1, 1000)]
    edges = [edge("t", "n1")] + [edge(f"n{i}", f"n{i + 1}") for i in range(1, 999)]
    run = run_engine(tmp_path, flow_document(nodes, edges))
    assert run.result.status == 0
    assert len(successes(run)) == 1000
