"""The live log stream: executor output forwarded to ``POST /logs`` while the execution runs.

:class:`LogShipper` forwards lines in batches from its own sender loop, so a slow or unreachable
API never stalls the pipe reader (defect R2): ``add`` only appends to a bounded queue. When the
queue is full its oldest lines leave memory; with a backlog reader (the output spool's
:meth:`flomation.runner.spool.OutputSpool.read_lines`) they are read back from disk and still
sent, in order, so an executor writing faster than the API accepts loses nothing and is never
slowed down. Lines the backlog cannot give back (there is none, or the spool's disk cap dropped
them before they were sent) are dropped, and a marker line tells viewers how many the live stream
lost. The complete output reaches the server in the result, from the spool.

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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Imported where first needed: ``flomation-runner local`` uses OutputSpool alone, and
    # structlog costs ~50 ms of its start (docs/benchmarks.md, the edit-run loop).
    import structlog

__all__ = [
    "DEFAULT_BATCH_MAX_BYTES",
    "LINE_OVERHEAD",
    "LogShipper",
    "PrepareBatch",
    "SendOutcome",
    "SendPrepared",
    "ShipperStats",
    "count_fitting",
    "drop_marker",
]

# 256 KiB batches forwarded ~180,000 lines/s, 1 MiB ~220,000 (bench/runner_bench.py --only logs):
# each request has a fixed cost (two signatures, a commit on the server). Servers accept 4 MiB.
DEFAULT_BATCH_MAX_BYTES = 1024 * 1024

# JSON string quotes and the separating comma: a line's share of the request body beyond its text.
LINE_OVERHEAD = 3


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
# (index of the first line, byte budget) -> the lines from there on, with the index of the first
# line returned (later than asked when the lines asked for are gone), or None if unavailable.
BacklogReader = Callable[[int, int], tuple[int, list[str]] | None]


def count_fitting(line_lengths: Iterable[int], count: int, room: int) -> int:
    """How many of ``count`` lines, taken in order, fit in ``room`` bytes (C-speed loops)."""
    totals = list(
        map(
            operator.add,
            accumulate(line_lengths),
            range(LINE_OVERHEAD, LINE_OVERHEAD * count + 1, LINE_OVERHEAD),
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
        self._enqueue([line], len(line) + LINE_OVERHEAD)

    def add_many(self, lines: Sequence[str]) -> None:
        """Queue several lines at once (same rules as :meth:`add`, much cheaper per line)."""
        if lines:
            self._enqueue(list(lines), sum(map(len, lines)) + LINE_OVERHEAD * len(lines))

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
            count = count_fitting(map(len, chunk), len(chunk), limit - size) or int(not batch)
            if count:
                part_size = sum(map(len, chunk[:count])) + LINE_OVERHEAD * count
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
        found = self._backlog(self._next_index, self._max_batch_bytes)
        first, lines = found or (self._next_index + self._evicted, [])
        # Lines the backlog no longer has (or never had) are dropped, and a marker says so.
        gone = min(first - self._next_index, self._evicted)
        if gone:
            self._count_dropped(gone)
            self._next_index += gone
            self._evicted -= gone
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
            keep = count_fitting(map(len, reversed(chunk)), len(chunk), self._max_queue_bytes)
            keep = max(keep, 1)
            dropped += len(chunk) - keep
            chunks[0] = chunk[len(chunk) - keep :]
            sizes[0] = sum(map(len, chunks[0])) + LINE_OVERHEAD * keep
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
