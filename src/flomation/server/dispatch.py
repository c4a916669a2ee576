"""Long-poll wake-ups without a lost-wake-up window (docs/protocol.md §8.1 A12).

A poll registers a :class:`Ticket` *before* its first claim query, so a notification that lands
between an empty claim and the wait is never missed. ``notify`` wakes one eligible ticket per
new execution (not every runner); a woken ticket that then claims something passes the wake on
to the next eligible ticket, so wakes cascade until a claim comes back empty, which proves
nothing eligible is left. A ticket that leaves with an unused wake also passes it on.

Wake-ups are in-process: the server is meant to run as one process per database.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from flomation.server.records import DispatchTarget, RunnerScope

__all__ = ["Dispatcher", "Ticket"]

_T = TypeVar("_T")

_NOTHING = RunnerScope(frozenset(), frozenset())


class Ticket:
    """One waiting poll. ``abandon`` ends its wait (the client disconnected)."""

    def __init__(self, number: int, scope: RunnerScope, runner_id: str | None) -> None:
        self.number = number
        self.scope = scope
        self.runner_id = runner_id
        self.event = asyncio.Event()
        self.wake: DispatchTarget | None = None
        self.handoff: list[DispatchTarget] = []
        self.abandoned = False

    def abandon(self) -> None:
        """Stop waiting as soon as possible."""
        self.abandoned = True
        self.event.set()


class Dispatcher:
    """Registry of waiting polls; owned by the app, closed on shutdown."""

    def __init__(self) -> None:
        self._tickets: dict[int, Ticket] = {}
        self._numbers = itertools.count()
        self._closing = False
        self._relays: list[Callable[[DispatchTarget], None]] = []

    def add_relay(self, relay: Callable[[DispatchTarget], None]) -> None:
        """Also pass every execution made claimable here to ``relay`` (other replicas)."""
        self._relays.append(relay)

    @property
    def waiting(self) -> int:
        """How many polls are registered right now."""
        return len(self._tickets)

    @property
    def closing(self) -> bool:
        """True once shutdown began: no poll waits any more."""
        return self._closing

    def idle_polls_by_runner(self) -> Counter[str]:
        """Polls held per runner id: a runner long-polls once per free slot (the dashboard)."""
        return Counter(t.runner_id for t in self._tickets.values() if t.runner_id is not None)

    def register(self, scope: RunnerScope | None, runner_id: str | None = None) -> Ticket:
        """A ticket for a poll; ``scope`` None (paused runner) is never woken by executions."""
        ticket = Ticket(next(self._numbers), scope or _NOTHING, runner_id)
        self._tickets[ticket.number] = ticket
        if self._closing:
            ticket.event.set()
        return ticket

    def unregister(self, ticket: Ticket) -> None:
        """Forget a ticket; an unused wake goes to the next eligible ticket."""
        self._tickets.pop(ticket.number, None)
        pending = [*ticket.handoff, *([ticket.wake] if ticket.wake is not None else [])]
        ticket.handoff, ticket.wake = [], None
        for target in pending:
            self.notify(target, relay=False)

    def notify(self, target: DispatchTarget, *, relay: bool = True) -> None:
        """An execution with ``target`` became claimable: wake the oldest eligible idle ticket.

        ``relay`` passes it on to the relays too (False for what other replicas said).
        """
        if relay:
            for send in self._relays:
                send(target)
        for ticket in self._tickets.values():
            if ticket.wake is None and not ticket.abandoned and ticket.scope.accepts(target):
                ticket.wake = target
                ticket.event.set()
                return

    def close(self) -> None:
        """Release every held poll now (graceful shutdown)."""
        self._closing = True
        for ticket in self._tickets.values():
            ticket.event.set()

    def _stopped(self, ticket: Ticket) -> bool:
        return self._closing or ticket.abandoned

    async def claim_until(
        self,
        ticket: Ticket,
        claim: Callable[[], Awaitable[_T | None]] | None,
        hold_s: float,
    ) -> _T | None:
        """Claim now, and again after every wake, until success or ``hold_s`` has passed.

        ``claim`` None holds the poll for the full time (a paused runner) and returns None.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hold_s
        while True:
            consumed, ticket.wake = ticket.wake, None
            ticket.event.clear()
            if claim is not None:
                result = await claim()
                if result is not None:
                    # Wakes used on (or arriving during) a claim that found work are handed on
                    # so that another eligible poll looks for the execution they were meant for.
                    late, ticket.wake = ticket.wake, None
                    ticket.handoff = [t for t in (consumed, late) if t is not None]
                    return result
            remaining = deadline - loop.time()
            if remaining <= 0 or self._stopped(ticket):
                return None
            try:
                async with asyncio.timeout(remaining):
                    await ticket.event.wait()
            except TimeoutError:
                return None
            if self._stopped(ticket):
                return None
