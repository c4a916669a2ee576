"""The engine's routing decisions (docs/flows.md §4.2, §4.6, §4.7) as pure functions of a flow and
node outputs; test_engine.py pins the same rules through whole runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from executor.engine_harness import edge, flow_document, node
from flomation.executor.flow import Flow, Node, parse_flow
from flomation.executor.result import ExecutionError
from flomation.executor.routing import (
    GateOutputs,
    child_targets,
    entry_node,
    may_run,
    on_unmatched_branch,
    reachable_nodes,
    switch_route,
)


def _flow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Flow:
    return parse_flow(flow_document(nodes, edges))


def _action(node_id: str) -> dict[str, Any]:
    return node(node_id, "string/upper_case")


def _gates(outputs: dict[str, Mapping[str, Any]]) -> tuple[list[str], GateOutputs]:
    """A gate lookup over fixed outputs that records which gates it was asked for."""
    asked: list[str] = []

    def gate_outputs(source: Node) -> Mapping[str, Any] | None:
        asked.append(source.id)
        return outputs.get(source.id)

    return asked, gate_outputs


def test_requested_entry_wins_over_the_checkpoint_entry() -> None:
    """A requested entry node that exists is the entry, whatever the checkpoint says."""
    flow = _flow([node("t", "trigger/manual", 1), _action("a"), _action("b")], [])
    chosen = entry_node(flow, "b", "a")
    assert chosen is not None and chosen.id == "b"


def test_checkpoint_entry_is_the_entry_when_none_is_requested() -> None:
    """Without a requested entry, a resumed checkpoint's entry node is the entry."""
    flow = _flow([node("t", "trigger/manual", 1), _action("a")], [])
    chosen = entry_node(flow, "", "a")
    assert chosen is not None and chosen.id == "a"


def test_unknown_requested_entry_falls_back_to_the_first_trigger() -> None:
    """A requested entry not in the flow falls back to the first trigger, not the checkpoint's."""
    flow = _flow(
        [_action("a"), node("t1", "trigger/manual", 1), node("t2", "trigger/webhook", 1)], []
    )
    chosen = entry_node(flow, "missing", "a")
    assert chosen is not None and chosen.id == "t1"
    assert entry_node(_flow([_action("a")], []), "", "gone") is None


def test_rootless_input_providers_join_the_reachable_set() -> None:
    """Sources feeding the reachable set join it, transitively, unless a trigger reaches them."""
    flow = _flow(
        [
            node("t", "trigger/manual", 1),
            _action("a"),
            _action("p1"),
            _action("p2"),
            node("t2", "trigger/webhook", 1),
            _action("w"),
            _action("off"),
        ],
        [
            edge("t", "a"),
            edge("p1", "a"),  # a rootless provider of a
            edge("p2", "p1"),  # a provider of that provider
            edge("t2", "w"),
            edge("w", "a"),  # reached from another trigger: stays out
            edge("off", "w"),  # feeds only what stays out
        ],
    )
    assert reachable_nodes(flow, "t") == {"t", "a", "p1", "p2"}


def test_may_run_excludes_unreachable_nodes_and_other_triggers() -> None:
    """A node may run when reachable and not a trigger other than the entry."""
    flow = _flow(
        [node("t", "trigger/manual", 1), node("t2", "trigger/webhook", 1), _action("a")], []
    )
    by_id = flow.by_id
    reachable = {"t", "t2", "a"}
    assert may_run(by_id["t"], "t", reachable)
    assert not may_run(by_id["t2"], "t", reachable)
    assert may_run(by_id["a"], "t", reachable)
    assert not may_run(by_id["a"], "t", {"t"})


def test_switch_routes_to_a_wired_case_else_default() -> None:
    """A switch takes its matched case when that handle has edges, else ``default``."""
    flow = _flow(
        [node("s", "conditional/switch", 6), _action("x"), _action("d")],
        [edge("s", "x", "case-x"), edge("s", "d", "default")],
    )
    assert switch_route(flow, "s", {"matched_case": "case-x"}) == "case-x"
    assert switch_route(flow, "s", {"matched_case": "case-y"}) == "default"
    assert switch_route(flow, "s", {"matched_case": ""}) == "default"
    assert switch_route(flow, "s", {"matched_case": 3}) == "default"


def test_conditional_children_follow_its_boolean_result() -> None:
    """A conditional's children are its true-branch or false-branch targets."""
    flow = _flow(
        [node("c", "conditional/if", 4), _action("yes"), _action("no")],
        [edge("c", "yes", "true-branch"), edge("c", "no", "false-branch")],
    )
    gate = flow.by_id["c"]
    assert child_targets(flow, gate, {"result": True}, looped=False) == ["yes"]
    assert child_targets(flow, gate, {"result": False}, looped=False) == ["no"]


def test_conditional_without_a_boolean_result_is_a_hard_error() -> None:
    """A conditional whose result is not a boolean raises the §4.6 error naming the node."""
    flow = _flow([node("c", "conditional/if", 4)], [])
    with pytest.raises(ExecutionError) as raised:
        child_targets(flow, flow.by_id["c"], {"result": "true"}, looped=False)
    assert raised.value.message == "conditional node c did not return a boolean result"
    assert raised.value.node_id == "c"


def _routing_nodes_flow() -> Flow:
    """A switch s and an await w, each with case ``x`` and ``default`` edges; a loop l."""
    return _flow(
        [
            node("s", "conditional/switch", 6),
            node("w", "common/await", 7),
            node("l", "conditional/for", 5),
            _action("sx"),
            _action("sd"),
            _action("wx"),
            _action("wd"),
            _action("body"),
            _action("after"),
        ],
        [
            edge("s", "sx", "x"),
            edge("s", "sd", "default"),
            edge("w", "wx", "x"),
            edge("w", "wd", "default"),
            edge("l", "body", "loop"),
            edge("l", "after", "output"),
        ],
    )


def test_switch_await_and_loop_children() -> None:
    """Switch falls back to default, await has no fallback, a loop's children are its outputs."""
    flow = _routing_nodes_flow()
    by_id = flow.by_id
    assert child_targets(flow, by_id["s"], {"matched_case": "nope"}, looped=False) == ["sd"]
    assert child_targets(flow, by_id["w"], {"matched_case": "nope"}, looped=False) == []
    assert child_targets(flow, by_id["w"], {"matched_case": "x"}, looped=False) == ["wx"]
    assert child_targets(flow, by_id["l"], {"result": True}, looped=False) == ["after"]


def test_plain_children_are_every_edge_target_in_edge_order() -> None:
    """A plain node's targets are every edge's, whatever the handle; a subflow/end has none."""
    flow = _flow(
        [_action("a"), _action("b"), _action("c"), node("end", "subflow/end")],
        [edge("a", "c", "any"), edge("a", "b"), edge("a", "c"), edge("end", "b")],
    )
    assert child_targets(flow, flow.by_id["a"], {}, looped=False) == ["c", "b", "c"]
    assert child_targets(flow, flow.by_id["end"], {}, looped=False) == []


def test_ai_node_children_follow_should_respond() -> None:
    """An AI node that should not respond routes to its no_response targets alone."""
    flow = _flow(
        [node("ai", "ai/openai"), _action("out"), _action("quiet"), _action("tool")],
        [
            edge("ai", "out", "output"),
            edge("ai", "quiet", "no_response"),
            edge("ai", "tool", "tools"),
        ],
    )
    ai = flow.by_id["ai"]
    assert child_targets(flow, ai, {"should_respond": False}, looped=False) == ["quiet"]
    assert child_targets(flow, ai, {"should_respond": True}, looped=False) == ["out"]
    assert child_targets(flow, ai, {"response": "hi"}, looped=True) == ["out", "quiet"]


def _branching_flow() -> Flow:
    """t → c; c true-branch → yes → after; c false-branch → no; yes and no → join."""
    return _flow(
        [
            node("t", "trigger/manual", 1),
            node("c", "conditional/if", 4),
            _action("yes"),
            _action("no"),
            _action("after"),
            _action("join"),
        ],
        [
            edge("t", "c"),
            edge("c", "yes", "true-branch"),
            edge("c", "no", "false-branch"),
            edge("yes", "after"),
            edge("yes", "join"),
            edge("no", "join"),
        ],
    )


def test_unmatched_branch_spreads_to_descendants_but_not_to_joins() -> None:
    """The branch a conditional did not take is unmatched down its chain; a join of both is not."""
    flow = _branching_flow()
    _, gate_outputs = _gates({"c": {"result": False}})
    memo: dict[str, bool] = {}
    assert on_unmatched_branch(flow, "yes", gate_outputs, memo)
    assert on_unmatched_branch(flow, "after", gate_outputs, memo)
    assert not on_unmatched_branch(flow, "no", gate_outputs, memo)
    assert not on_unmatched_branch(flow, "join", gate_outputs, memo)
    assert not on_unmatched_branch(flow, "t", gate_outputs, memo)


def test_a_gate_without_outputs_leaves_its_true_branch_unmatched() -> None:
    """A gate with no outputs (not runnable) leaves true-branch unmatched and false-branch taken."""
    flow = _branching_flow()
    _, gate_outputs = _gates({})
    assert on_unmatched_branch(flow, "yes", gate_outputs, {})
    assert not on_unmatched_branch(flow, "no", gate_outputs, {})


def test_switch_and_await_edges_are_unmatched_off_their_route() -> None:
    """A switch's edge off its route is unmatched (its default is not); await has no default."""
    flow = _routing_nodes_flow()
    _, gate_outputs = _gates({"s": {"matched_case": "y"}, "w": {"matched_case": "y"}})
    unmatched = {
        node_id: on_unmatched_branch(flow, node_id, gate_outputs, {})
        for node_id in ("sx", "sd", "wx", "wd")
    }
    assert unmatched == {"sx": True, "sd": False, "wx": True, "wd": True}


def test_gates_are_asked_once_while_the_memo_holds() -> None:
    """Answers are kept in the memo, so a second question asks no gate until it is cleared."""
    flow = _branching_flow()
    asked, gate_outputs = _gates({"c": {"result": True}})
    memo: dict[str, bool] = {}
    assert not on_unmatched_branch(flow, "after", gate_outputs, memo)
    assert asked == ["c"]
    assert not on_unmatched_branch(flow, "after", gate_outputs, memo)
    assert asked == ["c"]
    memo.clear()
    on_unmatched_branch(flow, "after", gate_outputs, memo)
    assert asked == ["c", "c"]


def test_a_cycle_of_plain_nodes_is_not_unmatched() -> None:
    """A cycle without gates ends the search: its nodes are not on an unmatched branch."""
    flow = _flow([_action("a"), _action("b")], [edge("a", "b"), edge("b", "a")])
    _, gate_outputs = _gates({})
    assert not on_unmatched_branch(flow, "a", gate_outputs, {})
