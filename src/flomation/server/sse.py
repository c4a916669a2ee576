"""``GET /api/v1/execution/{id}/stream``: the persisted log replayed, then live (protocol 10.6).

The stream re-reads the database whenever the execution changes (and every ``sse_recheck_s``),
so replay and live delivery are one code path and nothing is skipped or reordered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from flomation.server.services import Services
from flomation.wire.models import TERMINAL_COMPLETIONS

__all__ = ["Keepalive", "execution_stream", "format_log_event", "sse_event"]

_BATCH_LINES = 500
_NODE_PREFIX = "__NODE__:"
_STATUS_PREFIX = "__STATUS__:"


class Keepalive:
    """When a stream with nothing to send owes its viewer a keepalive comment (``: keepalive``),
    and the wait for a change until then."""

    def __init__(self, interval_s: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._interval_s = interval_s
        self._due_s = self._loop.time() + interval_s

    def postpone(self) -> None:
        """Something was just sent: the next keepalive is due a whole interval from now."""
        self._due_s = self._loop.time() + self._interval_s

    async def wait(self, changed: asyncio.Event, recheck_s: float) -> bool:
        """Wait until ``changed`` is set, ``recheck_s`` has passed or the keepalive is due; True
        when the keepalive is due (the caller sends it, then postpones the next)."""
        wait_s = max(0.0, min(recheck_s, self._due_s - self._loop.time()))
        try:
            async with asyncio.timeout(wait_s):
                await changed.wait()
        except TimeoutError:
            return self._loop.time() >= self._due_s
        return False


def sse_event(data: str, *, name: str | None = None, event_id: int | None = None) -> str:
    """One Server-Sent Event; a multi-line ``data`` becomes several ``data:`` lines."""
    parts = []
    if name is not None:
        parts.append(f"event: {name}")
    if event_id is not None:
        parts.append(f"id: {event_id}")
    # A lone CR ends a line in SSE too: left in, a log line could start a field of its own.
    pieces = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    parts.extend(f"data: {piece}" for piece in pieces)
    return "\n".join(parts) + "\n\n"


def format_log_event(seq: int, line: str) -> str:
    """The SSE event of one log line: ``node``, ``status`` or plain data, with ``id: seq``."""
    if line.startswith(_NODE_PREFIX):
        return sse_event(line[len(_NODE_PREFIX) :], name="node", event_id=seq)
    if line.startswith(_STATUS_PREFIX):
        return sse_event(line[len(_STATUS_PREFIX) :], name="status", event_id=seq)
    return sse_event(line, event_id=seq)


async def execution_stream(
    services: Services, execution_id: str, after_seq: int
) -> AsyncIterator[str]:
    """Events until the execution is terminal or suspended (then ``complete``), or shutdown."""
    store, settings = services.store, services.settings
    keepalive = Keepalive(settings.sse_keepalive_s)
    with services.events.subscribe(execution_id) as changed:
        # Status changes are reported relative to the status when the viewer connected.
        connected = await store.get_execution(execution_id)
        last_status = None if connected is None else connected.execution_status
        while True:
            changed.clear()
            lines = await store.read_logs(execution_id, after_seq, _BATCH_LINES)
            for seq, line in lines:
                yield format_log_event(seq, line)
                after_seq = seq
            if len(lines) == _BATCH_LINES:
                continue
            execution = await store.get_execution(execution_id)
            if execution is None:
                return
            finished = (
                execution.completion_status in TERMINAL_COMPLETIONS
                or execution.completion_status == "suspended"
            )
            if execution.execution_status != last_status:
                yield sse_event(execution.execution_status, name="status")
            last_status = execution.execution_status
            if finished:
                # Lines committed just before the completion must not be cut off.
                for seq, line in await store.read_logs(execution_id, after_seq, 1_000_000):
                    yield format_log_event(seq, line)
                yield sse_event(execution.completion_status, name="complete")
                return
            if services.events.closing:
                return
            if lines:
                keepalive.postpone()
            if await keepalive.wait(changed, settings.sse_recheck_s):
                yield ": keepalive\n\n"
                keepalive.postpone()
