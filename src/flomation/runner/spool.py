"""The output spool: every line an executor printed, on disk in its work directory.

:class:`OutputSpool` keeps the complete output for the result (``state.logs``, docs/protocol.md
§5.9) without holding it in memory, gives lines back to the live stream when its queue overflowed
(:class:`flomation.runner.logs.LogShipper`'s backlog), bounds the disk it takes
(``execution.max_spool_bytes``, docs/security.md) and leaves its files for crash recovery
(:func:`spool_files`).
"""

from __future__ import annotations

import bisect
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flomation.runner.logs import count_fitting

__all__ = [
    "DEFAULT_RESULT_HEAD_BYTES",
    "SPOOL_FILE_NAME",
    "OutputSpool",
    "spool_files",
    "truncation_marker",
]

SPOOL_FILE_NAME = ".flomation-output.log"
_TAIL_SUFFIX = ".tail-"  # then the output offset of the tail file's first byte
DEFAULT_RESULT_HEAD_BYTES = 1024 * 1024
_SPOOL_BUFFER_BYTES = 1024 * 1024
# read_lines() reads this much beyond its budget: room for the lines it skips within one write.
_SPOOL_READ_MARGIN_BYTES = 512 * 1024


class OutputSpool:
    """Every output line of one execution, in a file (``SPOOL_FILE_NAME`` in the work directory).

    Each batch written with :meth:`append_many` (one pipe read) is handed to the kernel at once,
    single lines at least every ``flush_interval_s``, so a runner killed with SIGKILL leaves its
    output on disk for crash recovery to report. A write failure (disk full) does not raise: the
    spool stops writing and :meth:`result_logs` ends with a line saying the output is incomplete.
    The file is created with the first line: an executor that prints nothing costs no file.

    With ``max_bytes`` the spool takes at most that much disk (docs/security.md): the first
    half holds the head of the output; the lines after it go to two tail files of a quarter
    each, used in turn (the older one is emptied when the newer one is full), so the latest
    quarter or more of the output is kept. :meth:`result_logs` then marks the lines dropped
    in between; :meth:`read_lines` serves the head and the tail files, and skips to the oldest
    line kept when asked for one the cap dropped.
    """

    def __init__(
        self, path: Path, *, flush_interval_s: float = 1.0, max_bytes: int | None = None
    ) -> None:
        self.path = path
        self._head_limit = None if max_bytes is None else max_bytes // 2
        self._segment_limit = 0 if max_bytes is None else max(max_bytes // 4, 1)
        self._head_lines: int | None = None  # set once the head is full
        self._head_bytes = 0
        self._tails: list[_TailSegment] = []  # older first
        self._tail_dropped_bytes = 0
        self._flush_interval_s = flush_interval_s
        self._flushed_at = time.monotonic()
        self.lines_total = 0
        self.bytes_total = 0  # bytes written: each line plus its newline
        self._write_error: str | None = None
        self._file: BinaryIO | None = None
        self._closed = False
        self._reader: BinaryIO | None = None  # of the head file
        self._read_position: tuple[int, int] | None = None  # (next line, its output offset)
        # Where each write still on disk started (line index, output offset), head and tail
        # files alike (a write never spans two files): read_lines() seeks from there.
        self._write_first_lines: list[int] = []
        self._write_offsets: list[int] = []

    def append(self, line: str) -> None:
        """Add one line (without its newline); RuntimeError after :meth:`close`."""
        self._write(line + "\n", 1)

    def append_many(self, lines: Sequence[str]) -> None:
        """Add several lines with one write (same rules as :meth:`append`)."""
        if lines:
            self._write("\n".join(lines) + "\n", len(lines), flush=True)

    def _write(self, text: str, line_count: int, *, flush: bool = False) -> None:
        if self._closed:
            raise RuntimeError(f"output spool {self.path} is closed")
        first_line = self.lines_total
        self.lines_total += line_count
        if self._write_error is not None:
            return
        data = text.encode("utf-8", "replace")
        if self._head_lines is not None:
            self._write_tail(data, first_line, flush=flush)
            return
        if self._head_limit is not None and self.bytes_total + len(data) > self._head_limit:
            # The lines that still fit complete the head; the rest start the tail.
            cut = data.rfind(b"\n", 0, self._head_limit - self.bytes_total) + 1
            head_lines = data.count(b"\n", 0, cut)
            if cut:
                self._write_head(data[:cut], first_line, flush=True)
            self._head_lines = first_line + head_lines
            self._head_bytes = self.bytes_total
            self._write_tail(data[cut:], self._head_lines, flush=True)
            return
        self._write_head(data, first_line, flush=flush)

    def _write_head(self, data: bytes, first_line: int, *, flush: bool) -> None:
        self._note_write(first_line)
        try:
            if self._file is None:
                self._file = open(self.path, "wb", buffering=_SPOOL_BUFFER_BYTES)  # noqa: SIM115
            self._file.write(data)
            self._flush_when_due(self._file, flush=flush)
        except OSError as error:
            self._write_error = f"{self.path}: {error.strerror or error}"
            return
        self.bytes_total += len(data)

    def _note_write(self, first_line: int) -> None:
        """Record where a write starts, for :meth:`read_lines`."""
        self._write_first_lines.append(first_line)
        self._write_offsets.append(self.bytes_total)

    def _flush_when_due(self, file: BinaryIO, *, flush: bool) -> None:
        """Hand the written lines to the kernel now (``flush``) or every ``flush_interval_s``."""
        now = time.monotonic()
        if flush or now - self._flushed_at >= self._flush_interval_s:
            file.flush()
            self._flushed_at = now

    def _write_tail(self, data: bytes, first_line: int, *, flush: bool) -> None:
        """Lines past the head: into the newer tail file, the older one emptied when it is full."""
        if not data:
            return
        try:
            if not self._tails or (
                self._tails[-1].size and self._tails[-1].size + len(data) > self._segment_limit
            ):
                if len(self._tails) == 2:
                    self._drop_segment(self._tails.pop(0))
                # Named after the output offset of its first byte: crash recovery orders the
                # files it finds and counts the bytes dropped between them (spool_files).
                tail_path = self.path.with_name(f"{self.path.name}{_TAIL_SUFFIX}{self.bytes_total}")
                file = open(tail_path, "wb")  # noqa: SIM115 (closed by _drop_segment or close())
                self._tails.append(_TailSegment(tail_path, file, self.bytes_total))
            self._note_write(first_line)
            segment = self._tails[-1]
            segment.file.write(data)
            segment.size += len(data)
            self._flush_when_due(segment.file, flush=flush)
        except OSError as error:
            self._write_error = f"{self.path}: {error.strerror or error}"
            return
        self.bytes_total += len(data)

    def _drop_segment(self, segment: _TailSegment) -> None:
        """Empty the older tail file: its bytes count as dropped, its writes leave the index."""
        self._tail_dropped_bytes += segment.size
        segment.close()
        segment.path.unlink(missing_ok=True)
        offsets = self._write_offsets
        first = bisect.bisect_left(offsets, segment.start)
        last = bisect.bisect_left(offsets, segment.start + segment.size)
        del offsets[first:last], self._write_first_lines[first:last]

    def read_lines(self, first_line: int, max_bytes: int) -> tuple[int, list[str]] | None:
        """Lines from index ``first_line`` on (at least one), about ``max_bytes`` of them.

        Returns the index of the first line returned with the lines: ``first_line``, or, when
        the disk cap dropped that line, the oldest line after it still kept. Sized like the live
        stream's batches (characters plus JSON overhead). None when no such line is on disk: a
        write failed, the spool is closed, or it was never written. Consecutive calls (each
        asking for the line after the previous result) read on without searching.
        """
        written = self._write_offsets and not self._closed and self._write_error is None
        if not written or first_line >= self.lines_total:
            return None
        try:
            self._flush_files()
            start = self._start_of(first_line)
            if start is None:
                return None
            line, offset, skip = start
            reader, file_offset = self._reader_at(offset)
            lines = self._read_lines(reader, file_offset, line, offset, skip, max_bytes)
        except OSError:
            return None
        return None if lines is None else (line, lines)

    def _flush_files(self) -> None:
        """Hand every buffered line to the kernel, so that a reader of the files sees it."""
        if self._file is not None:
            self._file.flush()
        for segment in self._tails:
            segment.file.flush()

    def _start_of(self, first_line: int) -> tuple[int, int, int] | None:
        """Where reading from ``first_line`` starts: (line, output offset of its write, lines of
        that write to skip first); the oldest line kept after it when the cap dropped it."""
        position = self._read_position
        if position is not None and position[0] == first_line and self._on_disk(position[1]):
            return first_line, position[1], 0
        write = bisect.bisect_right(self._write_first_lines, first_line) - 1
        offset = self._write_offsets[write]
        if (
            self._head_lines is not None
            and first_line >= self._head_lines
            and (offset < self._head_bytes)
        ):
            # Past the head, in a tail file the cap has emptied: the writes left start after it.
            write += 1
            if write == len(self._write_offsets):
                return None
            return self._write_first_lines[write], self._write_offsets[write], 0
        return first_line, offset, first_line - self._write_first_lines[write]

    def _on_disk(self, offset: int) -> bool:
        """Whether the output at ``offset`` is still in one of the files."""
        if self._head_lines is None or offset < self._head_bytes:
            return True
        return bool(self._tails) and offset >= self._tails[0].start

    def _reader_at(self, offset: int) -> tuple[BinaryIO, int]:
        """A reader of the file holding output ``offset``, and that file's first output offset."""
        if self._head_lines is None or offset < self._head_bytes:
            if self._reader is None:
                self._reader = open(self.path, "rb")  # noqa: SIM115 (closed by close())
            return self._reader, 0
        segment = next(segment for segment in reversed(self._tails) if segment.start <= offset)
        if segment.reader is None:
            segment.reader = open(segment.path, "rb")  # noqa: SIM115 (closed with the segment)
        return segment.reader, segment.start

    def _read_lines(
        self,
        reader: BinaryIO,
        file_offset: int,
        first_line: int,
        offset: int,
        skip: int,
        max_bytes: int,
    ) -> list[str] | None:
        reader.seek(offset - file_offset)
        # Reading on from the previous batch needs max_bytes at most (a line takes fewer bytes
        # on disk than in a batch); a search skips lines of the same write first.
        read_bytes = max_bytes + (_SPOOL_READ_MARGIN_BYTES if skip else 0)
        data = b""
        start = 0
        while True:
            # Skip the lines of the same write before the one wanted; have one full line.
            while skip:
                newline = data.find(b"\n", start)
                if newline < 0:
                    break
                start = newline + 1
                skip -= 1
            if not skip and data.find(b"\n", start) >= 0:
                break
            more = reader.read(read_bytes)
            if not more:
                return None
            offset += start
            data = data[start:] + more
            start = 0
        raw_lines = data[start : data.rfind(b"\n") + 1].split(b"\n")
        raw_lines.pop()  # after the last newline: nothing
        count = count_fitting(map(len, raw_lines), len(raw_lines), max_bytes) or 1
        del raw_lines[count:]
        stop = start + sum(map(len, raw_lines)) + count  # just past the last newline taken
        self._read_position = (first_line + count, offset + stop)
        return data[start : stop - 1].decode("utf-8", "replace").split("\n")

    def close(self) -> None:
        """Flush and close the file; idempotent. :meth:`result_logs` still works afterwards."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._file is not None:
            try:
                self._file.close()
            except OSError as error:
                self._write_error = self._write_error or f"{self.path}: {error.strerror or error}"
            self._file = None
        for segment in self._tails:
            segment.close()
        self._closed = True

    def result_logs(self, max_bytes: int, *, head_bytes: int = DEFAULT_RESULT_HEAD_BYTES) -> str:
        """All lines joined with "\\n" (no trailing newline), at most about ``max_bytes`` bytes.

        Larger output keeps the first ``head_bytes`` (cut back to a line end when there is one)
        and the tail, with a marker line ``[flomation-runner] output truncated: <n> bytes
        omitted`` between them.
        """
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as error:
                self._write_error = self._write_error or f"{self.path}: {error.strerror or error}"
        joined_bytes = max(self.bytes_total - 1, 0)
        text = ""
        if self._head_lines is not None:
            text = self._capped_logs(max_bytes, head_bytes)
        elif joined_bytes:
            with open(self.path, "rb") as spool:
                if joined_bytes <= max_bytes:
                    text = spool.read(joined_bytes).decode("utf-8", "replace")
                else:
                    text = self._truncated(spool, joined_bytes, max_bytes, head_bytes)
        if self._write_error is not None:
            lost = (
                f"[flomation-runner] output spool write failed ({self._write_error}): "
                "the output is incomplete"
            )
            text = f"{text}\n{lost}" if text else lost
        return text

    def _capped_logs(self, max_bytes: int, head_bytes: int) -> str:
        """The result logs once the spool cap was reached: head file, marker, tail files."""
        for segment in self._tails:
            if not segment.file.closed:
                segment.file.flush()
        kept_head = self._head_bytes
        tail_bytes = sum(segment.size for segment in self._tails)
        marker_room = len(truncation_marker(self.bytes_total)) + 2
        keep = max(max_bytes - marker_room, 0)
        head_size = min(head_bytes, keep // 2, kept_head)
        head = b""
        if head_size:
            with open(self.path, "rb") as spool:
                head = spool.read(head_size)
        line_end = head.rfind(b"\n")
        head = head[:line_end] if line_end >= 0 else head
        tail = b"".join(segment.path.read_bytes() for segment in self._tails)
        tail = tail[max(tail_bytes - (keep - len(head)), 0) :].removesuffix(b"\n")
        line_start = tail.find(b"\n")
        if 0 <= line_start < len(tail) - 1 and len(tail) < tail_bytes - 1:
            tail = tail[line_start + 1 :]
        omitted = max(self.bytes_total - 1, 0) - len(head) - len(tail)
        return "\n".join(
            (
                head.decode("utf-8", "ignore"),
                truncation_marker(omitted),
                tail.decode("utf-8", "ignore"),
            )
        )

    @staticmethod
    def _truncated(spool: BinaryIO, joined_bytes: int, max_bytes: int, head_bytes: int) -> str:
        # Room for the marker with the largest possible count, and its two newlines.
        marker_room = len(truncation_marker(joined_bytes)) + 2
        keep = max(max_bytes - marker_room, 0)
        head_size = min(head_bytes, keep // 2)
        tail_size = keep - head_size
        head = spool.read(head_size)
        line_end = head.rfind(b"\n")
        if line_end >= 0:
            head = head[:line_end]
        spool.seek(joined_bytes - tail_size)
        tail = spool.read(tail_size)
        line_start = tail.find(b"\n")
        if 0 <= line_start < len(tail) - 1:
            tail = tail[line_start + 1 :]
        omitted = joined_bytes - len(head) - len(tail)
        # "ignore" only ever drops the bytes of a character cut at the edges: the file holds
        # valid UTF-8.
        return "\n".join(
            (
                head.decode("utf-8", "ignore"),
                truncation_marker(omitted),
                tail.decode("utf-8", "ignore"),
            )
        )


@dataclass(slots=True)
class _TailSegment:
    """One of the spool's two tail files (see :class:`OutputSpool`)."""

    path: Path
    file: BinaryIO
    start: int  # output offset of its first byte
    size: int = 0
    reader: BinaryIO | None = None  # opened by the first read_lines() that needs it

    def close(self) -> None:
        self.file.close()
        if self.reader is not None:
            self.reader.close()


def spool_files(path: Path) -> list[tuple[int, Path]]:
    """The files a spool at ``path`` left on disk, in output order, each with its output offset.

    The head file first (offset 0), then the tail files (:class:`OutputSpool` with
    ``max_bytes``); a gap between one file's end and the next offset is output the cap dropped.
    """
    tails: list[tuple[int, Path]] = []
    with contextlib.suppress(OSError):
        for tail in path.parent.glob(f"{path.name}{_TAIL_SUFFIX}*"):
            offset = tail.name.removeprefix(f"{path.name}{_TAIL_SUFFIX}")
            if offset.isdigit():
                tails.append((int(offset), tail))
    return [(0, path), *sorted(tails)]


def truncation_marker(omitted_bytes: int) -> str:
    """The line replacing the middle of an oversized result log."""
    return f"[flomation-runner] output truncated: {omitted_bytes} bytes omitted"
