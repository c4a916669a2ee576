"""Checkpoint rendering and loading (docs/flows.md §4.12, §7.5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from flomation.executor.checkpoint import (
    Checkpoint,
    CheckpointError,
    SuspendInfo,
    format_resume_at,
    load_checkpoint,
    parse_checkpoint,
    parse_rfc3339,
)
from flomation.executor.events import NodeRecord


def _full() -> Checkpoint:
    return Checkpoint(
        node_results={"t": {"quote": "q"}, "a": {"result": "A"}},
        entry_node_id="t",
        variables={"v": [1]},
        outputs={"o": 1},
        node_execution_results={
            "t": NodeRecord("t", "trigger/manual", "l", "success", None, {"quote": "q"}, "", 0)
        },
        reachable_nodes={"t", "a"},
        in_error_chain=False,
        had_error=True,
        suspend_info=SuspendInfo("p", "wait", datetime(2026, 6, 15, 14, 0, tzinfo=UTC)),
        resume_data={"await": {"outcome": "x"}},
    )


def test_field_order() -> None:
    """§7.5: members in the fixed order; empty optional members omitted."""
    text = _full().to_json().text
    assert list(json.loads(text)) == [
        "node_results",
        "variables",
        "outputs",
        "node_execution_results",
        "entry_node_id",
        "reachable_nodes",
        "in_error_chain",
        "had_error",
        "suspend_info",
        "resume_data",
    ]
    minimal = Checkpoint(node_results={}, entry_node_id="t").to_json().text
    assert (
        minimal
        == '{"node_results":{},"entry_node_id":"t","in_error_chain":false,"had_error":false}'
    )


def test_round_trip_is_identical() -> None:
    """A checkpoint written, read and written again is byte-identical (resume_at included)."""
    text = _full().to_json().text
    assert '"resume_at":"2026-06-15T14:00:00Z"' in text
    assert parse_checkpoint(json.loads(text)).to_json().text == text


def test_full_state_json_is_accepted(tmp_path: Path) -> None:
    """--checkpoint may name a whole state.json: its checkpoint member is used."""
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps({"id": "e", "status": 3, "checkpoint": json.loads(_full().to_json().text)})
    )
    checkpoint = load_checkpoint(path)
    assert checkpoint.entry_node_id == "t"
    assert checkpoint.suspend_info is not None
    assert checkpoint.suspend_info.suspend_node_id == "p"
    assert checkpoint.node_execution_results["t"].outputs == {"quote": "q"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "not a checkpoint"),
        ('{"node_results": 3}', "must be an object"),
        ('{"node_results": {}, "suspend_info": {"resume_at": "soon"}}', "resume_at"),
    ],
)
def test_bad_checkpoints(tmp_path: Path, content: str, message: str) -> None:
    """Unreadable or malformed checkpoints raise CheckpointError naming the problem."""
    path = tmp_path / "cp.json"
    path.write_text(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="unable to read"):
        load_checkpoint(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 6, 15, 14, 0, tzinfo=UTC), "2026-06-15T14:00:00Z"),
        (datetime(2026, 6, 15, 14, 0, 0, 500000, tzinfo=UTC), "2026-06-15T14:00:00.5Z"),
        (datetime(2026, 6, 15, 16, 0, tzinfo=timezone(timedelta(hours=2))), "2026-06-15T14:00:00Z"),
    ],
)
def test_format_resume_at(moment: datetime, text: str) -> None:
    """resume_at is UTC with fractional seconds only when non-zero, trailing zeros removed."""
    assert format_resume_at(moment) == text
    assert format_resume_at(parse_rfc3339(text)) == text


def test_parse_rfc3339_accepts_long_fractions_and_offsets() -> None:
    """RFC 3339 with nanoseconds and offsets parses; a time without zone does not."""
    assert parse_rfc3339("2026-06-15T14:00:00.123456789+01:00") == datetime(
        2026, 6, 15, 13, 0, 0, 123456, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        parse_rfc3339("2026-06-15T14:00:00")
