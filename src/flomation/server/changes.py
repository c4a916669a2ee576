"""Wake-ups and execution changes carried between server replicas on PostgreSQL (LISTEN/NOTIFY).

Within one process the dispatcher wakes held polls and ``ExecutionEvents`` wakes live streams
directly. With several replicas on one PostgreSQL database, what one replica does must wake the
others' polls and streams too: each replica relays its own notifications as ``NOTIFY`` and
delivers the ones it hears (its own included: an extra wake is harmless, a claim that finds
nothing waits again). Notifications can be lost while the listening connection is re-established;
the periodic shared wake-up pass (``reaper.run_shared_wakeups``) and the streams' re-check
interval cover that gap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import structlog
from sqlalchemy.engine import make_url

from flomation.server.dispatch import Dispatcher
from flomation.server.events import ExecutionEvents
from flomation.server.records import DispatchTarget

__all__ = ["PostgresChangeFeed"]

_log = structlog.get_logger("flomation.server.changes")
_DISPATCH = "flomation_dispatch"
_EXECUTION = "flomation_execution"
_SEPARATOR = "\x1f"
_RECONNECT_DELAY_S = 1.0
_CONNECT_TIMEOUT_S = 10
# Execution changes only wake live viewers (streams re-read the database): waiting this long
# gathers a busy replica's changes into one NOTIFY statement instead of one per request or two
# (docs/benchmarks.md, "Lifecycle throughput"). Wake-ups of held polls are sent at once.
_CHANGE_GATHER_S = 0.005

_Work = Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]


def _dispatch_payload(target: DispatchTarget) -> str:
    return f"{target.queue_id or ''}{_SEPARATOR}{target.organisation_key}"


def _dispatch_target(payload: str) -> DispatchTarget | None:
    queue_id, separator, organisation_id = payload.partition(_SEPARATOR)
    if not separator:
        return None
    return DispatchTarget(queue_id or None, organisation_id)


class PostgresChangeFeed:
    """Relays this replica's notifications and delivers every replica's, until stopped."""

    def __init__(self, database_url: str, dispatcher: Dispatcher, events: ExecutionEvents) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._dispatcher = dispatcher
        self._events = events
        self._pending: dict[tuple[str, str], None] = {}
        self._ready = asyncio.Event()
        self._wakeup_pending = asyncio.Event()
        dispatcher.add_relay(self.relay_dispatch)
        events.add_relay(self.relay_change)

    def relay_dispatch(self, target: DispatchTarget) -> None:
        """Tell the other replicas that an execution for ``target`` became claimable."""
        self._queue(_DISPATCH, _dispatch_payload(target))
        self._wakeup_pending.set()

    def relay_change(self, execution_id: str) -> None:
        """Tell the other replicas' live streams that the execution changed."""
        self._queue(_EXECUTION, execution_id)

    def _queue(self, channel: str, payload: str) -> None:
        self._pending[(channel, payload)] = None
        self._ready.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Listen and send until ``stop`` is set; connection failures are logged and retried."""
        async with asyncio.TaskGroup() as tasks:
            workers = [
                tasks.create_task(self._keep(self._listen), name="changes-listen"),
                tasks.create_task(self._keep(self._send), name="changes-send"),
            ]
            # The workers run until cancelled here, as soon as the replica stops: they need no
            # periodic wake-up to look at ``stop`` (one held every shutdown for a second).
            await stop.wait()
            for worker in workers:
                worker.cancel()

    async def _keep(self, work: _Work) -> None:
        """Run ``work`` on a fresh connection, again after each failure, until cancelled."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
                ) as connection:
                    await work(connection)
            except (psycopg.Error, OSError) as exc:
                _log.warning("replica change feed interrupted; reconnecting", error=str(exc))
                await asyncio.sleep(_RECONNECT_DELAY_S)

    async def _listen(self, connection: psycopg.AsyncConnection[Any]) -> None:
        await connection.execute(f"LISTEN {_DISPATCH}")
        await connection.execute(f"LISTEN {_EXECUTION}")
        async for notice in connection.notifies():
            self._deliver(notice.channel, notice.payload)

    def _deliver(self, channel: str, payload: str) -> None:
        if channel == _EXECUTION:
            self._events.publish(payload, relay=False)
        elif (target := _dispatch_target(payload)) is not None:
            self._dispatcher.notify(target, relay=False)

    async def _send(self, connection: psycopg.AsyncConnection[Any]) -> None:
        while True:
            await self._ready.wait()
            if not self._wakeup_pending.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup_pending.wait(), _CHANGE_GATHER_S)
            self._ready.clear()
            self._wakeup_pending.clear()
            batch, self._pending = list(self._pending), {}
            try:
                await connection.execute(
                    "SELECT pg_notify(channel, payload)"
                    " FROM unnest(%s::text[], %s::text[]) AS t(channel, payload)",
                    ([channel for channel, _ in batch], [payload for _, payload in batch]),
                )
            except BaseException:
                # Kept for the next connection: a lost wake-up would delay a claim.
                self._pending = dict.fromkeys(batch) | self._pending
                raise
