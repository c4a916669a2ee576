"""Log shipping: batching, dropping, retries, and reading a full queue's backlog from the spool."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog

from fixtures.http_peer import Recorded, Reply, http_peer
from flomation.runner.logs import (
    LogShipper,
    PrepareBatch,
    SendOutcome,
    SendPrepared,
    drop_marker,
)
from flomation.runner.spool import SPOOL_FILE_NAME, OutputSpool


class Recorder:
    """A real prepare callable: its senders record every send and answer from a script."""

    def __init__(self, outcomes: list[SendOutcome] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.prepared: list[list[str]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.outcomes = list(outcomes or [])
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, lines: list[str]) -> SendPrepared:
        self.prepared.append(list(lines))

        async def send() -> SendOutcome:
            self.calls.append(list(lines))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                await self.gate.wait()
            finally:
                self.in_flight -= 1
            return self.outcomes.pop(0) if self.outcomes else SendOutcome.SENT

        return send


async def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


async def test_lines_added_together_go_in_one_batch_after_the_interval() -> None:
    """Lines queued within the flush interval are sent as one batch."""
    recorder = Recorder()
    shipper = LogShipper(recorder, flush_interval_s=0.05)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(shipper.run())
        for line in ("a", "b", "c"):
            shipper.add(line)
        await wait_until(lambda: len(recorder.calls) == 1)
        await shipper.close(timeout_s=5)
    assert recorder.calls == [["a", "b", "c"]]
    assert (shipper.stats.lines_sent, shipper.stats.bytes_sent) == (3, 3)
    assert (shipper.stats.batches_sent, shipper.stats.lines_dropped) == (1, 0)


async def test_next_batch_is_prepared_while_one_is_in_flight_and_sent_after_it() -> None:
    """The next batch is prepared during a send; sends stay one at a time and in order."""
    recorder = Recorder()
    recorder.gate.clear()
    shipper = LogShipper(recorder, flush_interval_s=0, max_batch_bytes=10)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(shipper.run())
        shipper.add("first")
        await wait_until(lambda: len(recorder.calls) == 1)
        shipper.add("second")
        await wait_until(lambda: len(recorder.prepared) == 2)
        assert recorder.calls == [["first"]]
        shipper.add("third")
        recorder.gate.set()
        await shipper.close(timeout_s=5)
    assert recorder.calls == [["first"], ["second"], ["third"]]
    assert recorder.most_in_flight == 1
    assert shipper.stats.lines_sent == 3


async def test_full_batch_is_sent_without_waiting_for_the_interval() -> None:
    """Reaching max_batch_bytes sends at once; the remainder waits for close()."""
    recorder = Recorder()
    # 10 characters + 3 of JSON overhead per line: 7 lines fit in 100 bytes.
    shipper = LogShipper(recorder, flush_interval_s=60, max_batch_bytes=100)
    lines = [f"line-{index:05d}" for index in range(20)]
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(shipper.run())
        shipper.add_many(lines)
        await wait_until(lambda: len(recorder.calls) == 2)
        await asyncio.sleep(0.05)
        assert recorder.calls == [lines[:7], lines[7:14]]
        await shipper.close(timeout_s=5)
    assert recorder.calls == [lines[:7], lines[7:14], lines[14:]]


async def test_full_queue_drops_oldest_and_the_next_batch_carries_a_marker() -> None:
    """Overflowing max_queue_bytes drops the oldest lines, counted and announced once."""
    recorder = Recorder()
    shipper = LogShipper(recorder, flush_interval_s=0.01, max_queue_bytes=130)
    lines = [f"line-{index:04d}" for index in range(25)]
    shipper.add_many(lines)
    assert shipper.queued_lines == 10
    assert shipper.stats.lines_dropped == 15
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(shipper.run())
        await wait_until(lambda: len(recorder.calls) == 1)
        shipper.add("later")
        await shipper.close(timeout_s=5)
    assert recorder.calls == [[drop_marker(15), *lines[15:]], ["later"]]
    assert shipper.stats.lines_sent == 11


async def test_a_marker_lost_with_its_batch_is_reported_again() -> None:
    """When the batch carrying a drop marker is refused, the next batch's marker counts those
    earlier drops as well as the refused batch's own lines."""
    recorder = Recorder([SendOutcome.DROP])
    shipper = LogShipper(recorder, flush_interval_s=0.01, max_queue_bytes=130)
    lines = [f"line-{index:04d}" for index in range(25)]
    shipper.add_many(lines)  # 15 dropped: the first batch starts with their marker
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(shipper.run())
        await wait_until(lambda: shipper.stats.batches_failed == 1)
        shipper.add("later")
        await shipper.close(timeout_s=5)
    assert recorder.calls == [[drop_marker(15), *lines[15:]], [drop_marker(25), "later"]]
    assert (shipper.stats.lines_dropped, shipper.stats.lines_sent) == (25, 1)


async def test_overflow_drops_whole_oldest_chunks_first() -> None:
    """Bulk-added chunks are dropped oldest first and the newest lines stay queued in order."""
    recorder = Recorder()
    shipper = LogShipper(recorder, flush_interval_s=0, max_queue_bytes=130)
    lines = [f"line-{index:05d}" for index in range(20)]
    for start in range(0, 20, 5):
        shipper.add_many(lines[start : start + 5])
    assert (shipper.queued_lines, shipper.stats.lines_dropped) == (10, 10)
    await shipper.close(timeout_s=5)
    assert recorder.calls == [[drop_marker(10), *lines[10:]]]


async def test_retry_then_success_delivers_the_same_batch() -> None:
    """A RETRY answer resends the same batch after a short delay."""
    recorder = Recorder([SendOutcome.RETRY, SendOutcome.SENT])
    shipper = LogShipper(recorder, flush_interval_s=0, retry_delays_s=(0.01, 0.01))
    shipper.add("x")
    await shipper.close(timeout_s=5)
    assert recorder.calls == [["x"], ["x"]]
    assert (shipper.stats.lines_sent, shipper.stats.batches_failed) == (1, 0)


async def test_batch_dropped_after_two_retries_then_marker() -> None:
    """Three RETRY answers drop the batch; the next batch starts with the drop marker."""
    recorder = Recorder([SendOutcome.RETRY] * 3)
    shipper = LogShipper(recorder, flush_interval_s=0, retry_delays_s=(0.01, 0.01))
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(shipper.run())
        shipper.add_many(["a", "b"])
        await wait_until(lambda: shipper.stats.batches_failed == 1)
        shipper.add("c")
        await shipper.close(timeout_s=5)
    assert recorder.calls == [["a", "b"]] * 3 + [[drop_marker(2), "c"]]
    assert (shipper.stats.lines_dropped, shipper.stats.lines_sent) == (2, 1)


async def test_batch_given_up_after_lost_answers_is_unconfirmed_not_dropped() -> None:
    """Lines whose answers were lost may be stored: counted apart, and no drop marker follows."""
    recorder = Recorder([SendOutcome.NO_ANSWER, SendOutcome.RETRY, SendOutcome.RETRY])
    shipper = LogShipper(recorder, flush_interval_s=0, retry_delays_s=(0.01, 0.01))
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(shipper.run())
        shipper.add_many(["a", "b"])
        await wait_until(lambda: shipper.stats.batches_failed == 1)
        shipper.add("c")
        await shipper.close(timeout_s=5)
    assert recorder.calls == [["a", "b"]] * 3 + [["c"]]
    stats = shipper.stats
    assert (stats.lines_dropped, stats.lines_unconfirmed, stats.lines_sent) == (0, 2, 1)


async def test_drop_answer_is_not_retried() -> None:
    """A DROP answer (permanent refusal) gives the batch up without another attempt."""
    recorder = Recorder([SendOutcome.DROP])
    shipper = LogShipper(recorder, flush_interval_s=0)
    shipper.add("bad")
    await shipper.close(timeout_s=5)
    assert recorder.calls == [["bad"]]
    assert (shipper.stats.batches_failed, shipper.stats.lines_dropped) == (1, 1)


async def test_failing_send_callable_is_treated_as_transient() -> None:
    """An exception from send is retried like RETRY and never ends the sender loop."""
    calls: list[list[str]] = []

    async def flaky(lines: list[str]) -> SendPrepared:
        async def send() -> SendOutcome:
            calls.append(lines)
            if len(calls) == 1:
                raise ConnectionError("boom")
            return SendOutcome.SENT

        return send

    shipper = LogShipper(flaky, flush_interval_s=0, retry_delays_s=(0.01,))
    shipper.add("x")
    await shipper.close(timeout_s=5)
    assert calls == [["x"], ["x"]]
    assert shipper.stats.lines_sent == 1


async def _ship_one_line_logging_json(
    prepare: PrepareBatch,
) -> tuple[LogShipper, list[dict[str, Any]]]:
    """Ship the line ``x`` through ``prepare`` (one retry, after 10 ms) with a logger rendering
    like the runner's (runner/logging.py: JSON lines, tracebacks as text); returns the closed
    shipper and the entries it logged."""
    out = io.StringIO()
    log: structlog.typing.FilteringBoundLogger = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(0),
    )
    shipper = LogShipper(prepare, flush_interval_s=0, retry_delays_s=(0.01,), log=log)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(shipper.run())
        shipper.add("x")
        await shipper.close(timeout_s=5)
    return shipper, [json.loads(line) for line in out.getvalue().splitlines()]


async def test_failure_to_prepare_a_batch_is_logged_with_its_traceback() -> None:
    """A prepare (signing) callable that raises is logged with the traceback, then retried."""
    prepared: list[list[str]] = []

    async def failing_once(lines: list[str]) -> SendPrepared:
        prepared.append(lines)
        if len(prepared) == 1:
            raise RuntimeError("signing key unreadable")

        async def send() -> SendOutcome:
            return SendOutcome.SENT

        return send

    shipper, (entry,) = await _ship_one_line_logging_json(failing_once)
    assert prepared == [["x"], ["x"]]
    assert shipper.stats.lines_sent == 1
    assert entry["level"] == "warning" and entry["stage"] == "prepare"
    assert entry["lines"] == 1
    assert "Traceback" in entry["exception"]
    assert "RuntimeError: signing key unreadable" in entry["exception"]


async def test_failure_of_the_send_callable_is_logged_per_attempt() -> None:
    """Each attempt whose send callable raises leaves one warning naming the stage and attempt."""

    async def always_raising(lines: list[str]) -> SendPrepared:
        async def send() -> SendOutcome:
            raise ConnectionResetError("peer went away")

        return send

    shipper, entries = await _ship_one_line_logging_json(always_raising)
    assert [(entry["stage"], entry["attempt"]) for entry in entries] == [("send", 1), ("send", 2)]
    assert all("ConnectionResetError: peer went away" in entry["exception"] for entry in entries)
    assert shipper.stats.batches_failed == 1


async def test_close_gives_up_at_its_timeout_when_the_api_hangs() -> None:
    """close() returns at its deadline even while a send hangs; unsent lines count as dropped,
    the line in flight (the server may have stored it) as unconfirmed."""
    recorder = Recorder()
    recorder.gate.clear()
    shipper = LogShipper(recorder, flush_interval_s=0)
    async with asyncio.TaskGroup() as tasks:
        run = tasks.create_task(shipper.run())
        shipper.add("stuck")
        await wait_until(lambda: len(recorder.calls) == 1)
        shipper.add("queued")
        async with asyncio.timeout(5):
            await shipper.close(timeout_s=0.1)
        assert run.done()
    assert (shipper.stats.lines_dropped, shipper.stats.lines_unconfirmed) == (1, 1)
    assert shipper.stats.lines_sent == 0


async def test_add_never_blocks_while_a_request_is_in_flight() -> None:
    """With a hung API, add() keeps accepting lines and the queue stays bounded."""
    recorder = Recorder()
    recorder.gate.clear()
    shipper = LogShipper(recorder, flush_interval_s=0, max_queue_bytes=10_000)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(shipper.run())
        shipper.add("first")
        await wait_until(lambda: len(recorder.calls) == 1)
        shipper.add_many(["y" * 97] * 10_000)
        assert shipper.queued_lines == 100
        recorder.gate.set()
        await shipper.close(timeout_s=5)
    assert shipper.stats.lines_dropped == 9_900
    assert recorder.calls[1][0] == drop_marker(9_900)


@pytest.fixture
def logs_server() -> Iterator[tuple[str, list[list[str]], list[int]]]:
    """A real HTTP endpoint on 127.0.0.1 that records line batches and answers scripted codes."""
    received: list[list[str]] = []
    statuses: list[int] = []

    def handle(request: Recorded) -> Reply:
        if (request.method, request.path) != ("POST", "/api/v1/execution/e1/logs"):
            return 404, {}, b""
        status = statuses.pop(0) if statuses else 200
        if status == 200:
            received.append(request.json()["lines"])
        return status, {}, b""

    with http_peer(handle) as peer:
        yield f"http://127.0.0.1:{peer.port}/api/v1/execution/e1/logs", received, statuses


async def test_ships_batches_to_a_real_http_endpoint(
    logs_server: tuple[str, list[list[str]], list[int]],
) -> None:
    """Against a real HTTP server, a 503 is retried and every line arrives once, in order."""
    url, received, statuses = logs_server
    statuses.append(503)
    async with aiohttp.ClientSession() as session:

        async def prepare(lines: list[str]) -> SendPrepared:
            async def send() -> SendOutcome:
                async with session.post(url, json={"lines": lines}) as response:
                    if response.status == 200:
                        return SendOutcome.SENT
                    return SendOutcome.DROP if response.status == 400 else SendOutcome.RETRY

            return send

        shipper = LogShipper(prepare, flush_interval_s=0.01, max_batch_bytes=4096)
        lines = [f"{index:05d} " + "z" * 90 for index in range(1000)]
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(shipper.run())
            for line in lines:
                shipper.add(line)
            await shipper.close(timeout_s=10)
    assert [line for batch in received for line in batch] == lines
    assert len(received) > 1
    assert shipper.stats.lines_sent == 1000


async def test_full_queue_with_a_backlog_loses_nothing(tmp_path: Path) -> None:
    """Lines evicted from a full queue are read back from the spool and sent in order."""
    recorder = Recorder()
    spool = OutputSpool(tmp_path / SPOOL_FILE_NAME)
    shipper = LogShipper(
        recorder,
        flush_interval_s=0.01,
        max_batch_bytes=100,
        max_queue_bytes=130,
        backlog=spool.read_lines,
    )
    lines = [f"line-{index:05d}" for index in range(200)]
    for start in range(0, 200, 25):
        spool.append_many(lines[start : start + 25])
        shipper.add_many(lines[start : start + 25])
    assert shipper.queued_lines == 200
    await shipper.close(timeout_s=5)
    sent = [line for call in recorder.calls for line in call]
    assert sent == lines
    assert (shipper.stats.lines_sent, shipper.stats.lines_dropped) == (200, 0)
    spool.close()


async def test_backlog_that_cannot_be_read_is_dropped_with_a_marker(tmp_path: Path) -> None:
    """When the spool cannot give evicted lines back, they are dropped and announced."""
    recorder = Recorder()
    spool = OutputSpool(tmp_path / SPOOL_FILE_NAME)
    shipper = LogShipper(
        recorder, flush_interval_s=0, max_queue_bytes=130, backlog=spool.read_lines
    )
    lines = [f"line-{index:04d}" for index in range(25)]
    shipper.add_many(lines)  # never written to the spool: nothing to read back
    await shipper.close(timeout_s=5)
    assert recorder.calls == [[drop_marker(15), *lines[15:]]]
    assert shipper.stats.lines_dropped == 15
    spool.close()


async def test_backlog_from_a_capped_spool_marks_only_what_the_cap_dropped(tmp_path: Path) -> None:
    """With a full queue and a spool past its disk cap, the live stream gets the head, a marker
    counting exactly the lines the cap dropped, then every line the tail files kept, in order."""
    recorder = Recorder()
    spool = OutputSpool(tmp_path / SPOOL_FILE_NAME, max_bytes=4096)
    shipper = LogShipper(
        recorder,
        flush_interval_s=0.01,
        max_batch_bytes=200,
        max_queue_bytes=130,
        backlog=spool.read_lines,
    )
    lines = [f"line {n:04d}" for n in range(1000)]
    for start in range(0, len(lines), 7):
        spool.append_many(lines[start : start + 7])
        shipper.add_many(lines[start : start + 7])
    await shipper.close(timeout_s=5)
    sent = [line for call in recorder.calls for line in call]
    markers = [line for line in sent if line.startswith("[flomation-runner]")]
    delivered = [line for line in sent if not line.startswith("[flomation-runner]")]
    assert len(markers) == 1
    dropped = shipper.stats.lines_dropped
    assert markers == [drop_marker(dropped)]
    # Head lines, then the marker, then an unbroken run up to the last line.
    cut = sent.index(markers[0])
    assert delivered[:cut] == lines[:cut]
    assert delivered[cut:] == lines[cut + dropped :]
    assert 0 < dropped < 1000 - 204 - 102
    assert shipper.stats.lines_sent == 1000 - dropped
    spool.close()
