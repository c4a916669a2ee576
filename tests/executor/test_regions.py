"""The pure parts of loops (docs/flows.md §4.8) and sub-flows (§4.9): a loop's body and iteration
limit, and which begin node a sub-flow name means; test_engine.py runs both constructs whole."""

from __future__ import annotations

from executor.engine_harness import edge, flow_document, node, value
from flomation.executor.flow import parse_flow
from flomation.executor.regions import iteration_limit, loop_body, subflow_begin


def test_loop_body_is_the_loop_edges_targets_once_in_edge_order() -> None:
    """A loop's body is the targets of its ``loop`` edges, each once, in edge order."""
    flow = parse_flow(
        flow_document(
            [node("l", "conditional/for", 5), node("a", "x/a"), node("b", "x/b"), node("c", "x/c")],
            [
                edge("l", "b", "loop"),
                edge("l", "c", "output"),
                edge("l", "a", "loop"),
                edge("l", "b", "loop"),
            ],
        )
    )
    assert loop_body(flow, flow.by_id["l"]) == ["b", "a"]


def test_iteration_limit_takes_a_positive_integer_else_1000() -> None:
    """``max_iterations`` counts when it is an integer above 0; anything else means 1000."""
    assert iteration_limit({"max_iterations": 3}) == 3
    others = [0, -2, True, 2.5, "3", None]
    assert [iteration_limit({"max_iterations": other}) for other in others] == [1000] * 6
    assert iteration_limit({}) == 1000


def test_subflow_begin_is_the_first_begin_whose_trimmed_name_matches() -> None:
    """The first ``subflow/begin`` in array order whose trimmed ``name`` input is the name."""
    flow = parse_flow(
        flow_document(
            [
                node("other", "subflow/begin", inputs=[value("name", "other")]),
                node("first", "subflow/begin", inputs=[value("name", "  work ")]),
                node("second", "subflow/begin", inputs=[value("name", "work")]),
                node("not-a-begin", "subflow/end", inputs=[value("name", "work")]),
            ],
            [],
        )
    )
    found = subflow_begin(flow, "work")
    assert found is not None and found.id == "first"
    assert subflow_begin(flow, "missing") is None
