"""Tests of the sub-flow actions called directly (docs/flows.md §10.3; the engine: §4.9)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flomation.executor.actions.base import HardError
from flomation.executor.actions.subflow import begin

MakeCtx = Callable[..., Any]


def test_subflow_begin_reports_its_name(make_ctx: MakeCtx) -> None:
    """subflow/begin outputs ``tool_result`` and ``name`` before its parameters.

    Upstream: flomation-co/executor actions/subflow/begin/action.go ("Sub-flow '<name>'
    started").
    """
    ctx = make_ctx(("name", "string", "greet"), ("who", "string", "Ada"), ("n", "integer", None))
    assert begin.run(ctx) == {
        "tool_result": "Sub-flow 'greet' started",
        "name": "greet",
        "who": "Ada",
    }


@pytest.mark.parametrize("rows", [[], [("name", "string", "")]])
def test_subflow_begin_without_a_name_is_a_hard_error(
    make_ctx: MakeCtx, rows: list[tuple[str, str, Any]]
) -> None:
    """A missing or empty name is the hard error ``sub-flow name is required`` (upstream's text)."""
    with pytest.raises(HardError) as caught:
        begin.run(make_ctx(*rows))
    assert caught.value.message == "sub-flow name is required"
