"""Executor output on its two ways out: the live log stream and the complete copy for the result.

:class:`LogShipper` forwards lines to ``POST /logs`` in batches from its own sender loop, so a slow
or unreachable API never stalls the pipe reader (defect R2): ``add`` only appends to a bounded
queue. When the queue is full its oldest lines leave memory; with a backlog reader (the spool's
:meth:`OutputSpool.read_lines`) they are read back from disk and still sent, in order, so an
executor writing faster than the API accepts loses nothing and is never slowed down. Without one
(or when the spool cannot give them back) they are dropped, and a marker line tells viewers how
many lines the live stream lost. :class:`OutputSpool` keeps every line in a file in the work
directory, so the complete output reaches the server in the result (``state.logs``, docs/protocol.md
§5.9) without holding it in memory.

Sizes of queued lines are measured in characters, which equals UTF-8 bytes for ASCII output and
keeps ``add`` cheap; the spool measures exact bytes.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import enum
import operator
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    # Imported where first needed: ``flomation-runner local`` uses OutputSpool alone, and
    # structlog costs ~50 ms of its start (docs/benchmarks.md, the edit-run loop).
    import structlog

__all__ = [
    "DEFAULT_BATCH_MAX_BYTES",
    "DEFAULT_RESULT_HEAD_BYTES",
    "SPOOL_FILE_NAME",
    "LogShipper",
    "OutputSpool",
    "PrepareBatch",
    "SendOutcome",
    "SendPrepared",
    "ShipperStats",
    "drop_marker",
    "spool_files",
    "truncation_marker",
]

SPOOL_FILE_NAME = ".flomation-output.log"
_TAIL_SUFFIX = ".tail-"  # then the output offset of the tail file's first byte
DEFAULT_RESULT_HEAD_BYTES = 1024 * 1024
# 256 KiB batches forwarded ~180,000 lines/s, 1 MiB ~220,000 (bench/runner_bench.py --only logs):
# each request has a fixed cost (two signatures, a commit on the server). Servers accept 4 MiB.
DEFAULT_BATCH_MAX_BYTES = 1024 * 1024

# JSON string quotes and the separating comma: a line's share of the request body beyond its text.
_LINE_OVERHEAD = 3
_SPOOL_BUFFER_BYTES = 1024 * 1024
# read_lines() reads this much beyond its budget: room for the lines it skips within one write.
_SPOOL_READ_MARGIN_BYTES = 512 * 1024


class SendOutcome(enum.Enum):
    """What the send callable made of one batch."""

    SENT = "sent"  # accepted by the server
    DROP = "drop"  # permanently refused (e.g. 400): do not retry
    RETRY = "retry"  # refused for now (5xx, 403): not stored, worth another try
    NO_ANSWER = "no answer"  # the answer was lost: maybe stored, worth another try


@dataclass(slots=True)
class ShipperStats:
    """Counters of one LogShipper (read them, do not write them)."""

    lines_sent: int = 0  # executor lines accepted by the server (markers excluded)
    bytes_sent: int = 0  # their size in characters
    lines_dropped: int = 0  # lines the server never stored (never sent, or refused every time)
    # Lines given up, or cut off by the close timeout, after an attempt whose answer was lost:
    # the server may have stored them (a retry carries the same key, docs/protocol.md §11.3).
    lines_unconfirmed: int = 0
    batches_sent: int = 0
    batches_failed: int = 0  # batches given up after DROP or the last RETRY


# Sends one prepared batch (again on a retry) and says how it went.
SendPrepared = Callable[[], Awaitable[SendOutcome]]
# Prepares (encodes, signs) one batch for sending: runs while the previous batch is in flight.
PrepareBatch = Callable[[list[str]], Awaitable[SendPrepared]]
# (index of the first line, byte budget) -> the lines from there on, or None if unavailable.
BacklogReader = Callable[[int, int], list[str] | None]


def _count_fitting(line_lengths: Iterable[int], count: int, room: int) -> int:
    """How many of ``count`` lines, taken in order, fit in ``room`` bytes (C-speed loops)."""
    totals = list(
        map(
            operator.add,
            accumulate(line_lengths),
            range(_LINE_OVERHEAD, _LINE_OVERHEAD * count + 1, _LINE_OVERHEAD),
        )
    )
    return bisect.bisect_right(totals, room)


def drop_marker(count: int) -> str:
    """The line that tells live viewers how many lines they missed."""
    return (
        f"[flomation-runner] {count} log lines dropped from the live stream "
        "(the result keeps the output: all of it, or its head and tail past the size limits)"
    )


def _with_marker(batch: list[str], dropped: int) -> list[str]:
    """The lines to send: the batch, after a drop marker when lines were dropped before it."""
    return [drop_marker(dropped), *batch] if dropped else batch


class LogShipper:
    """Batches lines to the API from :meth:`run`, one request at a time, in order.

    Run :meth:`run` in a task, call :meth:`add` for each line, and :meth:`close` at the end of
    the execution: it flushes what is queued within its timeout and makes :meth:`run` return.
    A batch goes out when it reaches ``max_batch_bytes`` or ``flush_interval_s`` after the oldest
    queued line arrived. ``prepare`` turns a batch into a sender while the batch before it is
    still in flight (encoding and signing overlap the server's work); the sender goes out once
    that request is answered. A batch answered RETRY is sent again after each of
    ``retry_delays_s``, then dropped; DROP drops it at once. A later batch starts with a marker
    line counting the lines dropped before it was prepared.
    Lines evicted from a full queue are read back through ``backlog`` (called with the index of
    the first line wanted, counting every line ever added from 0, and a byte budget).
    """

    def __init__(
        self,
        prepare: PrepareBatch,
        *,
        flush_interval_s: float = 0.25,
        max_batch_bytes: int = DEFAULT_BATCH_MAX_BYTES,
        max_queue_bytes: int = 8 * 1024 * 1024,
        retry_delays_s: Sequence[float] = (0.25, 1.0),
        backlog: BacklogReader | None = None,
        log: structlog.typing.FilteringBoundLogger | None = None,
    ) -> None:
        if max_batch_bytes < 1 or max_queue_bytes < 1 or flush_interval_s < 0:
            raise ValueError("flush_interval_s, max_batch_bytes and max_queue_bytes must be > 0")
        self._prepare = prepare
        self._flush_interval_s = flush_interval_s
        self._max_batch_bytes = max_batch_bytes
        self._max_queue_bytes = max_queue_bytes
        self._retry_delays_s = tuple(retry_delays_s)
        self._backlog = backlog
        if log is None:
            import structlog

            log = structlog.get_logger(__name__)
        self._log: structlog.typing.FilteringBoundLogger = log
        # Index of the next line to send; the first _evicted of them left memory (backlog).
        self._next_index = 0
        self._evicted = 0
        # The queue holds chunks (lists of lines, as added) so that bulk producers and the
        # sender move whole lists instead of single lines; sizes are kept per chunk.
        self._chunks: deque[list[str]] = deque()
        self._chunk_sizes: deque[int] = deque()
        self._queued_lines = 0
        self._queued_bytes = 0
        self._first_queued_at = 0.0  # time.monotonic() when the oldest queued line arrived
        self._unsent_taken = 0  # lines taken from the queue, prepared or in flight
        self._unreported_drops = 0  # dropped lines no marker has told about yet
        self._wakeup = asyncio.Event()
        self._stopped = asyncio.Event()
        self._running = False
        self._closing = False
        self._close_deadline: float | None = None  # loop time at which run() gives up
        self._close_timeout_s = 0.0
        self._run_scope: asyncio.Timeout | None = None
        self.stats = ShipperStats()

    @property
    def queued_lines(self) -> int:
        """Lines waiting to be sent (the batch in flight excluded)."""
        return self._queued_lines + self._evicted

    def add(self, line: str) -> None:
        """Queue one line for the live stream; never blocks, drops the oldest lines when full."""
        self._enqueue([line], len(line) + _LINE_OVERHEAD)

    def add_many(self, lines: Sequence[str]) -> None:
        """Queue several lines at once (same rules as :meth:`add`, much cheaper per line)."""
        if lines:
            self._enqueue(list(lines), sum(map(len, lines)) + _LINE_OVERHEAD * len(lines))

    def _enqueue(self, lines: list[str], size: int) -> None:
        if not self._chunks:
            self._first_queued_at = time.monotonic()
            self._wakeup.set()
        self._chunks.append(lines)
        self._chunk_sizes.append(size)
        self._queued_lines += len(lines)
        before = self._queued_bytes
        after = before + size
        self._queued_bytes = after
        if before < self._max_batch_bytes <= after:
            self._wakeup.set()
        if after > self._max_queue_bytes:
            self._drop_oldest()

    async def run(self) -> None:
        """The sender loop; returns after :meth:`close` once flushed or out of time."""
        if self._running or self._stopped.is_set():
            if self._closing:  # close() is flushing (or did): nothing left for this call
                await self._stopped.wait()
                return
            raise RuntimeError("LogShipper.run() is already running")
        self._running = True
        try:
            async with asyncio.timeout(self._close_deadline) as scope:
                self._run_scope = scope
                await self._send_loop()
        except TimeoutError:
            pass  # the close() deadline passed: what is left is dropped below
        finally:
            self._run_scope = None
            self._drop_unsent()
            self._stopped.set()

    async def close(self, timeout_s: float) -> None:
        """Flush the queue, then stop :meth:`run`; unsent lines are dropped.

        Gives up once no batch was accepted for ``timeout_s``: a large backlog that the API is
        taking keeps being sent, a hung or failing API does not hold the execution up.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        self._closing = True
        self._close_timeout_s = timeout_s
        self._close_deadline = deadline
        self._wakeup.set()
        if self._run_scope is not None:
            self._run_scope.reschedule(deadline)
        if self._running:
            await self._stopped.wait()
        elif not self._stopped.is_set():
            await self.run()  # run() was never started: flush from here

    async def _send_loop(self) -> None:
        # One delivery task at a time; the next batch is taken and prepared while it runs.
        async with asyncio.TaskGroup() as deliveries:
            delivery: asyncio.Task[None] | None = None
            while True:
                batch = await self._next_batch()
                if batch is None:
                    break
                prepared = await self._prepared(batch)
                if delivery is not None:
                    await delivery
                delivery = deliveries.create_task(self._deliver(*prepared))

    async def _next_batch(self) -> list[str] | None:
        """The next batch to send once it is due; None when closing with nothing left."""
        chunks = self._chunks
        while True:
            if self._evicted:
                batch = self._take_backlog()
                if batch:
                    return batch
                continue
            if not chunks:
                if self._closing:
                    return None
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if not self._closing and self._queued_bytes < self._max_batch_bytes:
                delay_s = self._first_queued_at + self._flush_interval_s - time.monotonic()
                if delay_s > 0:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay_s):
                            await self._wakeup.wait()
                    continue
            return self._take_batch()

    async def _prepared(self, batch: list[str]) -> tuple[list[str], int, SendPrepared | None]:
        """The batch, the drops its marker reports, and its sender (None: preparing failed)."""
        self._unsent_taken += len(batch)
        reported, self._unreported_drops = self._unreported_drops, 0
        try:
            return batch, reported, await self._prepare(_with_marker(batch, reported))
        except Exception:
            # Treated like a transient send failure: _deliver prepares it again.
            self._log_failure("prepare", batch, attempt=1)
            return batch, reported, None

    def _take_batch(self) -> list[str]:
        """Oldest queued lines up to max_batch_bytes (at least one line)."""
        chunks, sizes = self._chunks, self._chunk_sizes
        batch: list[str] = []
        size = 0
        limit = self._max_batch_bytes
        while chunks:
            chunk_size = sizes[0]
            if size + chunk_size <= limit:
                batch.extend(chunks.popleft())
                sizes.popleft()
                size += chunk_size
                continue
            # Only part of the next chunk fits: split it (an over-large line goes alone).
            chunk = chunks[0]
            count = _count_fitting(map(len, chunk), len(chunk), limit - size) or int(not batch)
            if count:
                part_size = sum(map(len, chunk[:count])) + _LINE_OVERHEAD * count
                batch.extend(chunk[:count])
                chunks[0] = chunk[count:]
                sizes[0] = chunk_size - part_size
                size += part_size
            break
        self._queued_bytes -= size
        self._queued_lines -= len(batch)
        self._next_index += len(batch)
        if chunks:
            self._first_queued_at = time.monotonic()
        return batch

    def _take_backlog(self) -> list[str]:
        """The oldest evicted lines, read back, up to max_batch_bytes; dropped if unreadable."""
        assert self._backlog is not None
        lines = self._backlog(self._next_index, self._max_batch_bytes) or []
        if not lines:
            self._count_dropped(self._evicted)
            self._next_index += self._evicted
            self._evicted = 0
            return []
        del lines[self._evicted :]
        self._next_index += len(lines)
        self._evicted -= len(lines)
        return lines

    async def _deliver(self, batch: list[str], reported: int, send: SendPrepared | None) -> None:
        attempts = 1 + len(self._retry_delays_s)
        maybe_stored = False  # an attempt went out and its answer never came
        in_flight = False
        try:
            for attempt in range(attempts):
                outcome = SendOutcome.RETRY
                stage = "prepare"
                try:
                    if send is None:
                        send = await self._prepare(_with_marker(batch, reported))
                    stage = "send"
                    in_flight = True
                    outcome = await send()
                    in_flight = False
                except Exception:
                    # A failing prepare or send callable must not end log shipping: transient.
                    self._log_failure(stage, batch, attempt=attempt + 1)
                maybe_stored = maybe_stored or in_flight or outcome is SendOutcome.NO_ANSWER
                in_flight = False
                if outcome is SendOutcome.SENT:
                    self._delivered(batch)
                    return
                if outcome is SendOutcome.DROP or attempt == attempts - 1:
                    break
                await asyncio.sleep(self._retry_delays_s[attempt])
        except asyncio.CancelledError:
            # The close timeout cut this batch off: after a lost answer its fate is unknown.
            if maybe_stored or in_flight:
                self._unsent_taken -= len(batch)
                self.stats.lines_unconfirmed += len(batch)
            raise
        self._unsent_taken -= len(batch)
        self.stats.batches_failed += 1
        if maybe_stored:
            self.stats.lines_unconfirmed += len(batch)
            return
        self._unreported_drops += reported  # the marker did not get through: report again
        self._count_dropped(len(batch))

    def _log_failure(self, stage: str, batch: list[str], *, attempt: int) -> None:
        """Log the exception being handled: a defect in the prepare or send callable."""
        self._log.warning(
            "log batch failed; it is retried or dropped",
            stage=stage,
            lines=len(batch),
            attempt=attempt,
            exc_info=True,
        )

    def _delivered(self, batch: list[str]) -> None:
        self._unsent_taken -= len(batch)
        stats = self.stats
        stats.batches_sent += 1
        stats.lines_sent += len(batch)
        stats.bytes_sent += sum(map(len, batch))
        if self._closing and self._run_scope is not None:
            # Progress: the close timeout counts from the last accepted batch.
            loop = asyncio.get_running_loop()
            self._run_scope.reschedule(loop.time() + self._close_timeout_s)

    def _drop_oldest(self) -> None:
        """Drop whole oldest chunks, then lines of the last chunk, until the queue fits."""
        chunks, sizes = self._chunks, self._chunk_sizes
        dropped = 0
        while self._queued_bytes > self._max_queue_bytes and len(chunks) > 1:
            dropped += len(chunks.popleft())
            self._queued_bytes -= sizes.popleft()
        if self._queued_bytes > self._max_queue_bytes and len(chunks[0]) > 1:
            chunk = chunks[0]
            keep = _count_fitting(map(len, reversed(chunk)), len(chunk), self._max_queue_bytes)
            keep = max(keep, 1)
            dropped += len(chunk) - keep
            chunks[0] = chunk[len(chunk) - keep :]
            sizes[0] = sum(map(len, chunks[0])) + _LINE_OVERHEAD * keep
            self._queued_bytes = sizes[0]
        self._queued_lines -= dropped
        if self._backlog is not None:
            self._evicted += dropped  # still on disk: read back and sent later
            self._wakeup.set()
        else:
            self._next_index += dropped
            self._count_dropped(dropped)

    def _drop_unsent(self) -> None:
        """Count what can no longer be sent (backlog, queue, batches taken) as dropped."""
        self._count_dropped(self._evicted + self._queued_lines + self._unsent_taken)
        self._evicted = 0
        self._chunks.clear()
        self._chunk_sizes.clear()
        self._unsent_taken = 0
        self._queued_lines = 0
        self._queued_bytes = 0

    def _count_dropped(self, count: int) -> None:
        self.stats.lines_dropped += count
        self._unreported_drops += count


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
    in between, and :meth:`read_lines` serves only the head.
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
        self._reader: BinaryIO | None = None
        self._read_position: tuple[int, int] | None = None  # (next line, its byte offset)
        # Where each write started (line index, byte offset): read_lines() seeks from there.
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
            self._write_tail(data, flush=flush)
            return
        if self._head_limit is not None and self.bytes_total + len(data) > self._head_limit:
            # The lines that still fit complete the head; the rest start the tail.
            cut = data.rfind(b"\n", 0, self._head_limit - self.bytes_total) + 1
            head_lines = data.count(b"\n", 0, cut)
            if cut:
                self._write_head(data[:cut], first_line, flush=True)
            self._head_lines = first_line + head_lines
            self._head_bytes = self.bytes_total
            self._write_tail(data[cut:], flush=True)
            return
        self._write_head(data, first_line, flush=flush)

    def _write_head(self, data: bytes, first_line: int, *, flush: bool) -> None:
        self._write_first_lines.append(first_line)
        self._write_offsets.append(self.bytes_total)
        try:
            if self._file is None:
                self._file = open(self.path, "wb", buffering=_SPOOL_BUFFER_BYTES)  # noqa: SIM115
            self._file.write(data)
            self._flush_when_due(self._file, flush=flush)
        except OSError as error:
            self._write_error = f"{self.path}: {error.strerror or error}"
            return
        self.bytes_total += len(data)

    def _flush_when_due(self, file: BinaryIO, *, flush: bool) -> None:
        """Hand the written lines to the kernel now (``flush``) or every ``flush_interval_s``."""
        now = time.monotonic()
        if flush or now - self._flushed_at >= self._flush_interval_s:
            file.flush()
            self._flushed_at = now

    def _write_tail(self, data: bytes, *, flush: bool) -> None:
        """Lines past the head: into the newer tail file, the older one emptied when it is full."""
        try:
            if not self._tails or (
                self._tails[-1].size and self._tails[-1].size + len(data) > self._segment_limit
            ):
                if len(self._tails) == 2:
                    older = self._tails.pop(0)
                    self._tail_dropped_bytes += older.size
                    older.file.close()
                    older.path.unlink(missing_ok=True)
                # Named after the output offset of its first byte: crash recovery orders the
                # files it finds and counts the bytes dropped between them (spool_files).
                tail_path = self.path.with_name(f"{self.path.name}{_TAIL_SUFFIX}{self.bytes_total}")
                self._tails.append(_TailSegment(tail_path, open(tail_path, "wb")))  # noqa: SIM115
            segment = self._tails[-1]
            segment.file.write(data)
            segment.size += len(data)
            self._flush_when_due(segment.file, flush=flush)
        except OSError as error:
            self._write_error = f"{self.path}: {error.strerror or error}"
            return
        self.bytes_total += len(data)

    def read_lines(self, first_line: int, max_bytes: int) -> list[str] | None:
        """Lines from index ``first_line`` on (at least one), about ``max_bytes`` of them.

        Sized like the live stream's batches (characters plus JSON overhead). None when they
        are not on disk: a write failed, the spool is closed, or they were never written.
        Consecutive calls (each asking for the line after the previous result) read on without
        searching.
        """
        on_disk = self.lines_total if self._head_lines is None else self._head_lines
        if self._file is None or self._write_error is not None or first_line >= on_disk:
            return None
        try:
            self._file.flush()
            if self._reader is None:
                self._reader = open(self.path, "rb")  # noqa: SIM115 (closed by close())
            return self._read_lines(self._reader, first_line, max_bytes)
        except OSError:
            return None

    def _read_lines(self, reader: BinaryIO, first_line: int, max_bytes: int) -> list[str] | None:
        if self._read_position is not None and self._read_position[0] == first_line:
            offset, skip = self._read_position[1], 0
        else:
            write = bisect.bisect_right(self._write_first_lines, first_line) - 1
            offset, skip = self._write_offsets[write], first_line - self._write_first_lines[write]
        reader.seek(offset)
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
        count = _count_fitting(map(len, raw_lines), len(raw_lines), max_bytes) or 1
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
            segment.file.close()
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
    size: int = 0


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
