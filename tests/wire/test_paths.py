"""Tests of work directory path safety (docs/protocol.md §5.1, defect R7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flomation.wire.paths import UnsafeIdError, is_safe_id, work_directory


@pytest.mark.parametrize(
    "value",
    ["3f1c0b7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "a", "A_b-9", "x" * 128],
)
def test_uuids_and_simple_ids_are_safe(value: str) -> None:
    """UUIDs and short alphanumeric ids with - and _ are valid path components."""
    assert is_safe_id(value)


@pytest.mark.parametrize(
    "value",
    ["", "..", ".", "../x", "a/b", "-lead", "_lead", "x" * 129, "a b", "a\x00", None, 5, "é"],
)
def test_traversal_and_odd_ids_are_unsafe(value: object) -> None:
    """Ids that could escape or confuse the filesystem are rejected."""
    assert not is_safe_id(value)


def test_work_directory_is_inside_the_root(tmp_path: Path) -> None:
    """A valid pair of ids gives <root>/<flo>/<execution> inside the root."""
    path = work_directory(tmp_path, "flow-1", "exec-1")
    assert path == tmp_path / "flow-1" / "exec-1"


def test_work_directory_refuses_symbolic_links(tmp_path: Path) -> None:
    """A flow or execution directory that is a symbolic link (it could leave the root) raises."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "flow-2").mkdir(parents=True)
    outside.mkdir()
    (root / "flow-1").symlink_to(outside)
    (root / "flow-2" / "exec-1").symlink_to(outside)
    with pytest.raises(UnsafeIdError, match="symbolic link"):
        work_directory(root, "flow-1", "exec-1")
    with pytest.raises(UnsafeIdError, match="symbolic link"):
        work_directory(root, "flow-2", "exec-1")
    assert work_directory(root, "flow-2", "exec-2") == root / "flow-2" / "exec-2"


def test_work_directory_refuses_unsafe_ids(tmp_path: Path) -> None:
    """An unsafe id raises UnsafeIdError naming the field, and nothing is created."""
    with pytest.raises(UnsafeIdError, match="flo_id"):
        work_directory(tmp_path, "../../etc", "exec-1")
    with pytest.raises(UnsafeIdError, match=r"execution\.id"):
        work_directory(tmp_path, "flow", "..")
    assert list(tmp_path.iterdir()) == []
