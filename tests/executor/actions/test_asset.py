"""Tests of ``common/asset`` (docs/flows.md §10.4), as upstream's actions/common/asset pins it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flomation.executor.actions.common import asset

MakeCtx = Callable[..., Any]

_TOKEN = "flo:blob:0123456789abcdef0123456789abcdef?size=10&type=image%2Fpng"


def test_asset_passes_the_reference_through(make_ctx: MakeCtx) -> None:
    """The uploaded file's reference comes out as ``file``, trimmed.

    Upstream: flomation-co/executor actions/common/asset/action_test.go
    (TestAsset_PassesThroughReference).
    """
    outputs = asset.run(make_ctx(("file", "file", f" {_TOKEN}\n")))
    assert outputs == {"tool_result": "File asset ready.", "file": _TOKEN, "success": True}


@pytest.mark.parametrize("rows", [[], [("file", "file", "")], [("file", "file", "  ")]])
def test_asset_without_a_file_is_a_soft_failure(
    make_ctx: MakeCtx, rows: list[tuple[str, str, Any]]
) -> None:
    """No reference is the soft failure ``no file uploaded`` (TestAsset_EmptyIsError)."""
    assert asset.run(make_ctx(*rows)) == {
        "tool_result": "Error: no file has been uploaded to this asset node",
        "success": False,
        "error": "no file uploaded",
    }
