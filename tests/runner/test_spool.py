"""The output spool: the result's complete output, reading lines back, and its disk cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from flomation.runner.spool import SPOOL_FILE_NAME, OutputSpool, truncation_marker


def test_spool_result_is_all_lines_joined(tmp_path: Path) -> None:
    """The result log is every line joined with newlines, without a trailing newline."""
    spool = OutputSpool(tmp_path / SPOOL_FILE_NAME)
    assert spool.result_logs(1000) == ""
    spool.append("first")
    spool.append_many(["", "caf\u00e9", "last"])
    assert spool.result_logs(1000) == "first\n\ncaf\u00e9\nlast"
    spool.close()
    spool.close()
    assert spool.result_logs(1000) == "first\n\ncaf\u00e9\nlast"
    assert (spool.lines_total, spool.bytes_total) == (4, 18)
    with pytest.raises(RuntimeError):
        spool.append("too late")


def test_spool_without_output_creates_no_file(tmp_path: Path) -> None:
    """An executor that prints nothing leaves no spool file, and its result log is empty."""
    spool = OutputSpool(tmp_path / SPOOL_FILE_NAME)
    assert spool.read_lines(0, 1000) is None
    spool.close()
    assert spool.result_logs(1000) == ""
    assert not (tmp_path / SPOOL_FILE_NAME).exists()


def test_spool_that_cannot_be_created_reports_incomplete_output(tmp_path: Path) -> None:
    """A spool whose file cannot be created does not raise; the result says output is missing."""
    spool = OutputSpool(tmp_path / "missing-directory" / SPOOL_FILE_NAME)
    spool.append_many(["first", "second"])
    spool.close()
    assert spool.result_logs(1000).endswith("the output is incomplete")


def test_spool_truncates_to_head_marker_and_tail(tmp_path: Path) -> None:
    """Oversized output keeps whole lines from the start and the end around a marker line."""
    spool = OutputSpool(tmp_path / SPOOL_FILE_NAME)
    lines = [f"{index:05d} " + "\u00e9" * 40 for index in range(2000)]  # 87 bytes each
    spool.append_many(lines)
    spool.close()
    joined = "\n".join(lines)
    result = spool.result_logs(20_000, head_bytes=5_000)
    assert len(result.encode()) <= 20_000
    result_lines = result.split("\n")
    marker_index = next(
        index for index, line in enumerate(result_lines) if line.startswith("[flomation-runner]")
    )
    head_lines, marker, tail_lines = (
        result_lines[:marker_index],
        result_lines[marker_index],
        result_lines[marker_index + 1 :],
    )
    assert head_lines == lines[: len(head_lines)]
    assert tail_lines == lines[len(lines) - len(tail_lines) :]
    assert 4_900 < len("\n".join(head_lines).encode()) <= 5_000
    kept = len("\n".join(head_lines).encode()) + len("\n".join(tail_lines).encode())
    assert marker == truncation_marker(len(joined.encode()) - kept)


def test_spool_write_failure_is_reported_not_raised(tmp_path: Path) -> None:
    """A spool on a full disk (/dev/full) does not raise and the result says output is missing."""
    spool = OutputSpool(Path("/dev/full"))
    spool.append_many(["x" * 1000] * 2000)
    spool.close()
    assert spool.result_logs(10_000).endswith("the output is incomplete")


def test_spool_reaches_the_disk_while_output_flows(tmp_path: Path) -> None:
    """Batches reach the disk at once, single lines after the interval (both survive SIGKILL)."""
    spool = OutputSpool(tmp_path / "spool.log", flush_interval_s=3600.0)
    spool.append_many(["first", "second"])
    assert (tmp_path / "spool.log").read_bytes() == b"first\nsecond\n"
    spool.close()
    timed = OutputSpool(tmp_path / "timed.log", flush_interval_s=0.0)
    timed.append("single line")
    assert (tmp_path / "timed.log").read_bytes() == b"single line\n"
    timed.close()


def test_spool_reads_lines_back_from_any_index(tmp_path: Path) -> None:
    """read_lines returns the lines from an index on, within its budget, and reads on in order."""
    spool = OutputSpool(tmp_path / SPOOL_FILE_NAME)
    lines = [f"line-{index:04d}-é" for index in range(300)]
    for start in range(0, 300, 70):
        spool.append_many(lines[start : start + 70])
    assert spool.read_lines(75, 10_000) == (75, lines[75 : 75 + 10_000 // 14])
    # Sequential reads continue where the previous one stopped, across writes.
    collected: list[str] = []
    while (found := spool.read_lines(len(collected), 200)) is not None:
        first, batch = found
        assert first == len(collected)
        assert 1 <= len(batch) <= 200 // 14
        collected.extend(batch)
    assert collected == lines
    assert spool.read_lines(300, 200) is None
    spool.close()
    assert spool.read_lines(0, 200) is None


def test_capped_spool_keeps_head_and_tail_within_its_disk_budget(tmp_path: Path) -> None:
    """Past max_bytes the spool keeps the head and the latest tail on disk, and the result
    logs mark the bytes dropped between them."""
    spool = OutputSpool(tmp_path / SPOOL_FILE_NAME, max_bytes=4096)
    lines = [f"line {n}" for n in range(3000)]
    for start in range(0, len(lines), 10):
        spool.append_many(lines[start : start + 10])
    on_disk = sum(path.stat().st_size for path in tmp_path.iterdir())
    assert on_disk <= 4096
    logs = spool.result_logs(1024 * 1024)
    spool.close()
    head, after = logs.split("\n[flomation-runner] output truncated: ")
    omitted, tail = after.split(" bytes omitted\n")
    assert head.startswith("line 0\nline 1\n") and tail.endswith("\nline 2999")
    assert tail.split("\n") == lines[-len(tail.split("\n")) :]
    assert len(head) + len(tail) + int(omitted) == len("\n".join(lines))


def test_capped_spool_reads_back_head_and_tail_and_skips_what_the_cap_dropped(
    tmp_path: Path,
) -> None:
    """read_lines serves lines from the head and both tail files, reads on across files, and
    answers a line the cap dropped with the oldest line kept after it."""
    spool = OutputSpool(tmp_path / SPOOL_FILE_NAME, max_bytes=4096)
    lines = [f"line {n:04d}" for n in range(1000)]  # 10 bytes each on disk
    for start in range(0, len(lines), 7):
        spool.append_many(lines[start : start + 7])
    # Read everything the files hold, from line 0 on, as the live stream's backlog does.
    kept: dict[int, str] = {}
    index = 0
    while (found := spool.read_lines(index, 300)) is not None:
        first, batch = found
        assert first >= index and batch == lines[first : first + len(batch)]
        kept.update(zip(range(first, first + len(batch)), batch, strict=True))
        index = first + len(batch)
    # The head (2 KiB: lines 0-204) and the newest tail lines up to the last line are all read.
    assert [n for n in kept if n < 204] == list(range(204))
    assert max(kept) == 999
    newest = sorted(n for n in kept if n >= 204)
    assert newest == list(range(newest[0], 1000))
    assert 1000 - newest[0] >= 1024 // 10  # at least one tail file's quarter of the cap
    assert len(kept) * 10 <= 4096
    # Asked for a line the cap dropped, it answers with the oldest line kept after it, and a
    # line of the head or of a tail file from the line itself, wherever the last read stopped.
    assert 204 < 500 < newest[0]
    dropped = spool.read_lines(500, 30)
    assert dropped is not None and dropped[0] == newest[0]
    assert spool.read_lines(newest[0] + 3, 30) == (newest[0] + 3, lines[newest[0] + 3 :][:2])
    assert spool.read_lines(17, 30) == (17, lines[17:19])
    assert spool.read_lines(1000, 30) is None
    spool.close()
    assert spool.read_lines(0, 30) is None
