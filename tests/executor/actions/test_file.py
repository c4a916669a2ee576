"""``file/write`` and ``file/read`` and their confinement (docs/flows.md §10.6, §12 C25)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from executor.engine_harness import edge, flow_document, node, run_cli, value, written_state
from flomation.executor.actions.base import HardError
from flomation.executor.actions.file import read, write

MakeCtx = Callable[..., Any]
_ESCAPE = "file path escapes the execution directory"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The execution work directory, with a sibling ``outside`` directory next to it."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


def _write(make_ctx: MakeCtx, work: Path, path: str, content: Any = "hi", **extra: Any) -> Any:
    rows = [("file_path", "string", path), ("content", "text", content)]
    rows += [(name, "boolean", value) for name, value in extra.items()]
    return write.run(make_ctx(*rows, work_dir=work))


def _hard_error(action: Callable[[], Any]) -> str:
    with pytest.raises(HardError) as caught:
        action()
    return caught.value.message


def _tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def test_write_creates_parents_and_reports_utf8_bytes(make_ctx: MakeCtx, work: Path) -> None:
    """Parents are created, the path is echoed as given and bytes_written counts UTF-8 bytes."""
    outputs = _write(make_ctx, work, "out/deep/result.txt", "héllo")
    assert outputs == {"file_path": "out/deep/result.txt", "bytes_written": 6, "success": True}
    target = work / "out" / "deep" / "result.txt"
    assert target.read_text(encoding="utf-8") == "héllo"
    assert stat.S_IMODE(target.stat().st_mode) & ~0o644 == 0
    assert stat.S_IMODE((work / "out").stat().st_mode) & ~0o755 == 0


def test_write_truncates_by_default_and_appends_on_request(make_ctx: MakeCtx, work: Path) -> None:
    """A second write replaces the file; ``append: true`` adds to it."""
    _write(make_ctx, work, "log.txt", "first\n")
    _write(make_ctx, work, "log.txt", "second\n")
    assert (work / "log.txt").read_text() == "second\n"
    _write(make_ctx, work, "log.txt", "third\n", append=True)
    assert (work / "log.txt").read_text() == "second\nthird\n"


def test_write_accepts_paths_that_stay_inside(make_ctx: MakeCtx, work: Path) -> None:
    """``..`` that stays inside, absolute paths inside and inside symlinks are allowed."""
    (work / "a").mkdir()
    _write(make_ctx, work, "a/../b.txt", "1")
    _write(make_ctx, work, str(work / "c.txt"), "2")
    (work / "link").symlink_to(work / "a")
    _write(make_ctx, work, "link/d.txt", "3")
    assert (work / "b.txt").read_text() == "1"
    assert (work / "c.txt").read_text() == "2"
    assert (work / "a" / "d.txt").read_text() == "3"


def test_write_through_a_symlinked_work_dir(make_ctx: MakeCtx, work: Path, tmp_path: Path) -> None:
    """A work directory reached through a symlink still counts as inside."""
    (tmp_path / "alias").symlink_to(work)
    _write(make_ctx, tmp_path / "alias", "x.txt", "ok")
    assert (work / "x.txt").read_text() == "ok"


@pytest.mark.parametrize(
    "path",
    ["../x.txt", "sub/../../x.txt", "/tmp/flomation-escape-test.txt", "../outside/new/x.txt"],
)
def test_write_outside_is_refused_and_writes_nothing(
    make_ctx: MakeCtx, work: Path, path: str
) -> None:
    """Escaping paths raise the confinement error and create nothing anywhere (C25)."""
    before = _tree(work.parent)
    assert _hard_error(lambda: _write(make_ctx, work, path)) == _ESCAPE
    assert _tree(work.parent) == before
    assert not Path("/tmp/flomation-escape-test.txt").exists()


def test_write_through_a_symlink_pointing_outside_is_refused(make_ctx: MakeCtx, work: Path) -> None:
    """A symlink inside the work directory that leads outside is followed and refused."""
    (work / "exit").symlink_to(work.parent / "outside")
    (work / "file-link").symlink_to(work.parent / "outside" / "secret.txt")
    assert _hard_error(lambda: _write(make_ctx, work, "exit/x.txt")) == _ESCAPE
    assert _hard_error(lambda: _write(make_ctx, work, "file-link")) == _ESCAPE
    assert (work.parent / "outside" / "secret.txt").read_text() == "secret"
    assert not (work.parent / "outside" / "x.txt").exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("content", "text", "x")], "file_path is required"),
        ([("file_path", "string", ""), ("content", "text", "x")], "file_path is required"),
        ([("file_path", "string", "a.txt")], "content is required"),
        (
            [("file_path", "string", "a\x00b"), ("content", "text", "x")],
            "file path contains a NUL byte",
        ),
    ],
)
def test_write_input_errors(
    make_ctx: MakeCtx, work: Path, rows: list[tuple[str, str, Any]], message: str
) -> None:
    """Missing inputs are hard errors with the spec's texts."""
    assert _hard_error(lambda: write.run(make_ctx(*rows, work_dir=work))) == message
    assert _tree(work) == []


def test_write_os_errors_are_hard_errors(make_ctx: MakeCtx, work: Path) -> None:
    """A directory in the way or a file where a directory should be fails with Go-style text."""
    (work / "dir").mkdir()
    assert _hard_error(lambda: _write(make_ctx, work, "dir")) == (
        "failed to open file: open dir: is a directory"
    )
    (work / "plain").write_text("x")
    message = _hard_error(lambda: _write(make_ctx, work, "plain/child.txt"))
    assert message.startswith("failed to open file: mkdir ")


def test_write_null_content_writes_an_empty_file(make_ctx: MakeCtx, work: Path) -> None:
    """A null content value reads as ``""`` through the String accessor."""
    assert _write(make_ctx, work, "empty.txt", None)["bytes_written"] == 0
    assert (work / "empty.txt").read_bytes() == b""


def _read(make_ctx: MakeCtx, work: Path, path: str) -> Any:
    return read.run(make_ctx(("file_path", "string", path), work_dir=work))


def test_read_returns_content_and_size(make_ctx: MakeCtx, work: Path) -> None:
    """Content is decoded as UTF-8 and size_bytes is the byte count."""
    (work / "in").mkdir()
    (work / "in" / "data.txt").write_bytes("Grüße\n".encode())
    assert _read(make_ctx, work, "in/data.txt") == {
        "tool_result": "Grüße\n",
        "content": "Grüße\n",
        "file_path": "in/data.txt",
        "size_bytes": 8,
        "success": True,
        "error": "",
    }


def test_read_replaces_invalid_utf8(make_ctx: MakeCtx, work: Path) -> None:
    """Invalid UTF-8 bytes become U+FFFD."""
    (work / "bad.bin").write_bytes(b"a\xffb")
    assert _read(make_ctx, work, "bad.bin")["content"] == "a\ufffdb"


@pytest.mark.parametrize("path", ["../outside/secret.txt", "leak"])
def test_read_outside_is_refused(make_ctx: MakeCtx, work: Path, path: str) -> None:
    """Reading outside the work directory, directly or via a symlink, is refused."""
    (work / "leak").symlink_to(work.parent / "outside" / "secret.txt")
    assert _hard_error(lambda: _read(make_ctx, work, path)) == _ESCAPE


def test_read_errors(make_ctx: MakeCtx, work: Path) -> None:
    """Missing, directory, non-regular and oversized files are hard ``failed to read file``."""
    assert _hard_error(lambda: _read(make_ctx, work, "nope.txt")) == (
        "failed to read file: open nope.txt: no such file or directory"
    )
    (work / "dir").mkdir()
    assert _hard_error(lambda: _read(make_ctx, work, "dir")) == (
        "failed to read file: read dir: is a directory"
    )
    os.mkfifo(work / "pipe")
    assert _hard_error(lambda: _read(make_ctx, work, "pipe")) == (
        "failed to read file: pipe is not a regular file"
    )
    with (work / "big.bin").open("wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)  # sparse: costs no disk
    assert _hard_error(lambda: _read(make_ctx, work, "big.bin")) == (
        "failed to read file: big.bin is larger than 10485760 bytes"
    )
    assert _hard_error(lambda: read.run(make_ctx(work_dir=work))) == "file_path is required"


def test_read_accepts_exactly_ten_mebibytes(make_ctx: MakeCtx, work: Path) -> None:
    """A file of exactly 10 MiB is read in full."""
    with (work / "edge.bin").open("wb") as handle:
        handle.truncate(10 * 1024 * 1024)
    assert _read(make_ctx, work, "edge.bin")["size_bytes"] == 10 * 1024 * 1024


def test_escaping_write_fails_the_flow_in_the_real_executor(work: Path) -> None:
    """C25 end to end: the executor reports the failed node, status 1, and writes nothing."""
    write_inputs = [value("file_path", "../escape.txt"), value("content", "x", "text")]
    flow = flow_document(
        [node("t", "trigger/manual", 1), node("w", "file/write", 2, write_inputs)],
        [edge("t", "w")],
    )
    (work / "execution.flow").write_text(flow)
    completed = run_cli(["--output", "json", "--path", "execution.flow"], work)
    assert completed.returncode == 0
    state = written_state(work)
    assert state["status"] == 1
    assert state["node_results"]["w"]["status"] == "failed"
    assert state["node_results"]["w"]["error"] == _ESCAPE
    assert not (work.parent / "escape.txt").exists()
