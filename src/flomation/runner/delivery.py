"""Result delivery: the outbox journal, fresh results and the delivery loop.

``OutboxJournal`` is what an execution writes to: its journal record and, at the end, its result,
committed to the outbox before any attempt to send it. ``FreshResults`` hands a result just stored
(with its request already signed) to ``ResultDelivery``, whose loop sends it at once from memory;
an attempt that fails (no answer, 5xx, 403) is retried from the file with ``backoff_s`` until the
server answers 200 or refuses for good (404, repeated 403, the age limit: dead-lettered). A 413 on
a result makes it shrink (``state.logs`` head and tail kept) and go again (docs/protocol.md §4.6,
§5.9).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Protocol

import structlog

from flomation.runner.api import ApiError, PreparedRequest, RunnerApi, execution_path
from flomation.runner.backoff import backoff_s
from flomation.runner.health import RunnerMetrics
from flomation.runner.outbox import PURGE_BATCH, Outbox, OutboxEntry
from flomation.runner.spool import truncation_marker
from flomation.wire.jsontext import compact_json

__all__ = ["DeliveryTuning", "FreshResults", "OutboxJournal", "ResultDelivery", "shrink_result"]

Logger = structlog.typing.FilteringBoundLogger
_MAX_RESULTS_IN_FLIGHT = 64
_RETRY_PASS_UNDER_LOAD_S = 5.0
_RETRY_BATCH = 8  # outbox entries (with their bodies) loaded per retry pass


class DeliveryTuning(Protocol):
    """The delivery timings and limits (``AgentTuning`` has them; tests shorten them)."""

    @property
    def delivery_backoff_s(self) -> tuple[float, float]: ...
    @property
    def outbox_max_age_s(self) -> float: ...
    @property
    def outbox_keep_done_s(self) -> float: ...
    @property
    def forbidden_attempts(self) -> int: ...
    @property
    def exit_flush_s(self) -> float: ...


class ResultDelivery:
    """Delivers outbox entries until cancelled: fresh results at once, failed ones when due."""

    def __init__(
        self,
        fresh: FreshResults,
        *,
        tuning: DeliveryTuning,
        metrics: RunnerMetrics,
        log: Logger,
    ) -> None:
        self._fresh = fresh
        self._tuning = tuning
        self._metrics = metrics
        self._log = log

    async def run(self, api: RunnerApi, outbox: Outbox) -> None:
        """Deliver outbox entries forever.

        New results are sent at once, each in its own task with the body still in memory (no
        read-back); entries whose first attempt failed are retried from the file, one at a
        time, when due. An entry is never sent by both paths at the same time.
        """
        next_purge_s = 0.0
        next_retry_pass_s = 0.0
        senders_free = asyncio.Semaphore(_MAX_RESULTS_IN_FLIGHT)
        async with asyncio.TaskGroup() as senders:
            while True:
                if time.monotonic() >= next_purge_s:
                    # Finished entries are kept a day for inspection, then removed.
                    cutoff = time.time() - self._tuning.outbox_keep_done_s
                    while await asyncio.to_thread(outbox.purge_done, cutoff) == PURGE_BATCH:
                        pass
                    next_purge_s = time.monotonic() + 3600.0
                self._fresh.wakeup.clear()
                for entry, prepared in self._fresh.take():
                    await senders_free.acquire()
                    senders.create_task(
                        self._send_fresh(api, outbox, entry, prepared, senders_free)
                    )
                # Reading due entries loads their bodies: preferably not while new results are
                # in flight (their own entries would be read back for nothing), but under
                # constant load retries still get a pass every few seconds.
                if not self._fresh.busy or time.monotonic() >= next_retry_pass_s:
                    next_retry_pass_s = time.monotonic() + _RETRY_PASS_UNDER_LOAD_S
                    if await self._deliver_retries(api, outbox):
                        continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._fresh.wakeup.wait()

    async def _send_fresh(
        self,
        api: RunnerApi,
        outbox: Outbox,
        entry: OutboxEntry,
        prepared: PreparedRequest,
        senders_free: asyncio.Semaphore,
    ) -> None:
        try:
            await self._deliver_one(api, outbox, entry, first_attempt=True, prepared=prepared)
        finally:
            self._fresh.done(entry.id)
            senders_free.release()

    async def _deliver_retries(self, api: RunnerApi, outbox: Outbox) -> bool:
        """One pass over due entries of the file; True when one was delivered or given up."""
        progressed = False
        due = await asyncio.to_thread(outbox.due, time.time(), limit=_RETRY_BATCH)
        if self._fresh.storing:
            return False  # one of these may be a result whose first attempt is about to start
        for entry in due:
            if self._fresh.holds(entry.id):
                continue
            delivered = await self._deliver_one(api, outbox, entry, first_attempt=False)
            if delivered is None:
                return progressed  # no answer at all: the API is unreachable, back off
            progressed = progressed or delivered
        return progressed

    async def _deliver_one(
        self,
        api: RunnerApi,
        outbox: Outbox,
        entry: OutboxEntry,
        *,
        first_attempt: bool,
        prepared: PreparedRequest | None = None,
    ) -> bool | None:
        """One delivery attempt; ``prepared`` is the entry's request already signed, if any."""
        tuning = self._tuning
        log = self._log.bind(execution_id=entry.execution_id)
        if time.time() - entry.created_at > tuning.outbox_max_age_s:
            await outbox.call(outbox.mark_dead, entry.id, "outbox age limit reached")
            self._metrics.count_outbox_dead()
            log.error("result given up: older than the outbox age limit")
            return True
        body = entry.body
        try:
            if prepared is None:
                response = await api.send(entry.method, entry.path, body, endpoint="result")
            else:
                response = await api.send_prepared(prepared)
            while response.status == 413 and _is_result(entry.path):
                smaller = shrink_result(body)
                if smaller is None:
                    break
                body = smaller
                response = await api.send(entry.method, entry.path, body, endpoint="result")
        except ApiError as exc:
            await self._retry_later(outbox, entry, f"no answer: {exc}")
            return None
        status = response.status
        if status == 200:
            if first_attempt:
                self._fresh.acknowledged(entry.id, time.monotonic())
            await outbox.call(outbox.mark_delivered, entry.id)
            log.info("result delivered", attempts=entry.attempts + 1)
            return True
        if status == 404:
            await outbox.call(outbox.mark_dead, entry.id, "execution unknown to the server (404)")
            self._metrics.count_outbox_dead()
            log.error("result given up: the server does not know this execution (404)")
            return True
        if status == 403 and entry.attempts + 1 >= tuning.forbidden_attempts:
            await outbox.call(
                outbox.mark_dead, entry.id, f"refused (403) {tuning.forbidden_attempts} times"
            )
            self._metrics.count_outbox_dead()
            log.error("result given up: refused (403) repeatedly")
            return True
        await self._retry_later(outbox, entry, f"HTTP {status}")
        return False

    async def _retry_later(self, outbox: Outbox, entry: OutboxEntry, reason: str) -> None:
        base_s, cap_s = self._tuning.delivery_backoff_s
        delay_s = backoff_s(entry.attempts, base_s=base_s, cap_s=cap_s)
        next_attempt_at = time.time() + delay_s
        await outbox.call(outbox.mark_failed_attempt, entry.id, reason, next_attempt_at)
        self._log.warning(
            "result delivery failed; will retry",
            execution_id=entry.execution_id,
            reason=reason,
            retry_in_s=round(delay_s, 1),
        )

    async def flush(self, outbox: Outbox) -> None:
        """Give pending results a short chance to go out before exiting."""
        if outbox.depth() == 0:
            return
        self._fresh.wakeup.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._tuning.exit_flush_s):
                while outbox.depth() > 0:
                    await asyncio.sleep(0.05)
        if outbox.depth():
            self._log.warning(
                "exiting with undelivered results; they are sent at the next start",
                pending=outbox.depth(),
            )


class FreshResults:
    """Results just stored in the outbox: queued for their first attempt, or being sent."""

    def __init__(self) -> None:
        self._queued: dict[int, tuple[OutboxEntry, PreparedRequest]] = {}
        self._sending: set[int] = set()
        # Resolved when an entry's first attempt ends (acknowledgement time or None).
        self._acknowledgements: dict[int, asyncio.Future[float | None]] = {}
        self.storing = 0  # results being written to the outbox right now
        self.wakeup = asyncio.Event()

    def add(self, entry: OutboxEntry, prepared: PreparedRequest) -> asyncio.Future[float | None]:
        """Queue a new result, signed, for its first attempt.

        The returned future tells when the result was acknowledged.
        """
        self._queued[entry.id] = (entry, prepared)
        acknowledgement: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        self._acknowledgements[entry.id] = acknowledgement
        self.wakeup.set()
        return acknowledgement

    def take(self) -> list[tuple[OutboxEntry, PreparedRequest]]:
        """The queued results with their signed requests, now counted as being sent."""
        entries = list(self._queued.values())
        self._queued.clear()
        self._sending.update(entry.id for entry, _ in entries)
        return entries

    def acknowledged(self, entry_id: int, at_s: float) -> None:
        """The server answered 200 to the first attempt at ``at_s`` (``time.monotonic()``)."""
        acknowledgement = self._acknowledgements.pop(entry_id, None)
        if acknowledgement is not None and not acknowledgement.done():
            acknowledgement.set_result(at_s)

    def done(self, entry_id: int) -> None:
        """The first attempt of this entry is over (unacknowledged unless said before)."""
        self._sending.discard(entry_id)
        acknowledgement = self._acknowledgements.pop(entry_id, None)
        if acknowledgement is not None and not acknowledgement.done():
            acknowledgement.set_result(None)

    @property
    def busy(self) -> bool:
        """True while a new result is being stored, waits for its first attempt, or is sent."""
        return bool(self.storing or self._queued or self._sending)

    def holds(self, entry_id: int) -> bool:
        """True while the entry is queued or being sent."""
        return entry_id in self._queued or entry_id in self._sending


class OutboxJournal:
    """The execution's journal and result store, backed by the durable outbox."""

    def __init__(self, outbox: Outbox, fresh: FreshResults, api: RunnerApi) -> None:
        self._outbox = outbox
        self._fresh = fresh
        self._api = api

    async def started(self, execution_id: str, flo_id: str, workdir: Path) -> None:
        await self._outbox.call(
            self._outbox.journal_start, execution_id, flo_id, workdir, None, None, time.time()
        )

    async def process_started(self, execution_id: str, pgid: int) -> None:
        await self._outbox.call(self._outbox.journal_set_process, execution_id, pgid, pgid)

    async def store_result(self, execution_id: str, body: bytes) -> asyncio.Future[float | None]:
        path = execution_path(execution_id)
        now = time.time()
        self._fresh.storing += 1
        try:
            # The first attempt is signed on the signing thread while the result is committed
            # to disk: the signatures are off the exit -> ack path. The signing task gets its
            # turn first, so that its job is with the signing thread before the commit starts.
            signing = asyncio.ensure_future(self._api.prepare_result(execution_id, body))
            await asyncio.sleep(0)
            try:
                entry_id = await self._outbox.call(
                    self._outbox.put,
                    execution_id,
                    "result",
                    path,
                    body,
                    now=now,
                    finish_journal=True,
                )
            except BaseException:
                signing.cancel()
                raise
            prepared = await signing
        finally:
            self._fresh.storing -= 1
        return self._fresh.add(
            OutboxEntry(
                id=entry_id,
                execution_id=execution_id,
                kind="result",
                method="POST",
                path=path,
                body=body,
                created_at=now,
                attempts=0,
                next_attempt_at=now,
                last_error=None,
                done_at=None,
                done_reason=None,
            ),
            prepared,
        )

    async def finished(self, execution_id: str) -> None:
        await self._outbox.call(self._outbox.journal_finish, execution_id)


def _is_result(path: str) -> bool:
    return path.startswith("/api/v1/execution/") and path.count("/") == 4


def shrink_result(body: bytes) -> bytes | None:
    """The result with ``state.logs`` halved (head and tail kept), or None if nothing to cut."""
    try:
        result = json.loads(body)
        logs = result["state"]["logs"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(logs, str) or len(logs) < 1024:
        return None
    keep = len(logs) // 4
    omitted = len(logs) - 2 * keep
    result["state"]["logs"] = "\n".join((logs[:keep], truncation_marker(omitted), logs[-keep:]))
    return compact_json(result)
