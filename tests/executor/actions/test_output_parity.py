"""Output actions pinned to upstream (flomation-co/executor: actions/output/set_outputs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flomation.executor.actions.output import set_outputs

MakeContext = Callable[..., Any]


def test_set_outputs_warns_about_a_parent_without_result(make_ctx: MakeContext) -> None:
    """A parent with no cached result is skipped with upstream's warning; the others count."""
    ctx = make_ctx(parents=[("ghost", None), ("real", {"a": 1, "b": 2})])
    assert set_outputs.run(ctx) == {"count": 2}
    assert ctx.flow_outputs == {"a": 1, "b": 2}
    assert [(line.level, line.message, line.fields) for line in ctx.logs] == [
        ("warning", "Parent node has no cached result", {"parent_id": "ghost"})
    ]
