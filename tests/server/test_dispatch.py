"""The wake-up registry on its own (docs/protocol.md §8.1 A12): no lost wake-ups, no herd."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from flomation.server.dispatch import Dispatcher, Ticket
from flomation.server.records import DispatchTarget, RunnerScope

QUEUES = ("a", "b", "c")


class _Backlog:
    """Executions waiting to be claimed, each with a target (stands in for the database)."""

    def __init__(self) -> None:
        self.items: list[tuple[int, DispatchTarget]] = []
        self.claimed: list[int] = []
        self.idle_scopes: list[RunnerScope] = []

    def claim_for(self, scope: RunnerScope) -> int | None:
        for index, (number, target) in enumerate(self.items):
            if scope.accepts(target):
                del self.items[index]
                self.claimed.append(number)
                return number
        return None


class _Poller:
    """One held poll of a single-slot runner, observable from outside its task."""

    def __init__(self, dispatcher: Dispatcher, backlog: _Backlog, queues: frozenset[str]) -> None:
        self.dispatcher = dispatcher
        self.backlog = backlog
        self.scope = RunnerScope(queues, frozenset())
        self.ticket: Ticket | None = None
        self.claiming = False
        self.finished = False

    async def poll(self) -> None:
        # One poll: once it has work it stops polling. The hold is far longer than the test:
        # it ends when the test closes the dispatcher, never by the wall clock.
        self.ticket = ticket = self.dispatcher.register(self.scope)

        async def claim() -> int | None:
            self.claiming = True
            await asyncio.sleep(0)  # a claim takes time: others interleave
            self.claiming = False
            return self.backlog.claim_for(self.scope)

        try:
            result = await self.dispatcher.claim_until(ticket, claim, 3600.0)
        finally:
            self.dispatcher.unregister(ticket)
            self.finished = True
        if result is None:
            self.backlog.idle_scopes.append(self.scope)

    def settled(self) -> bool:
        """Done, or waiting with no claim running and no wake it has yet to act on."""
        if self.finished:
            return True
        ticket = self.ticket
        return ticket is not None and not self.claiming and not ticket.event.is_set()


async def _settle(pollers: list[_Poller]) -> None:
    """Let the event loop run until every poll waits or is done (wake cascades have ended)."""
    for _ in range(100_000):
        if all(poller.settled() for poller in pollers):
            return
        await asyncio.sleep(0)
    raise AssertionError("the pollers never settled: a wake cascade does not end")


async def _run_round(queue_sets: list[frozenset[str]], arrivals: list[str]) -> _Backlog:
    dispatcher = Dispatcher()
    backlog = _Backlog()
    pollers = [_Poller(dispatcher, backlog, queues) for queues in queue_sets]
    tasks = [asyncio.create_task(poller.poll()) for poller in pollers]
    await _settle(pollers)
    for number, queue in enumerate(arrivals):
        target = DispatchTarget(queue, "")
        backlog.items.append((number, target))
        dispatcher.notify(target)
        if number % 3 == 0:
            await asyncio.sleep(0)
    await _settle(pollers)
    dispatcher.close()  # the explicit end of every hold still open
    await asyncio.gather(*tasks)
    return backlog


@settings(max_examples=25, deadline=None)
@given(
    queue_sets=st.lists(st.frozensets(st.sampled_from(QUEUES), min_size=1), min_size=1, max_size=6),
    arrivals=st.lists(st.sampled_from(QUEUES), max_size=30),
)
def test_no_execution_waits_while_an_eligible_poll_is_held(
    queue_sets: list[frozenset[str]], arrivals: list[str]
) -> None:
    """Whatever the scopes and arrival order, no poll ends empty-handed while an execution it
    could take is still waiting (wakes are passed on, never lost), and none is claimed twice."""
    backlog = asyncio.run(_run_round(queue_sets, arrivals))
    assert len(backlog.claimed) == len(set(backlog.claimed))
    for _, target in backlog.items:
        assert not any(scope.accepts(target) for scope in backlog.idle_scopes)


async def test_notify_wakes_one_eligible_waiter() -> None:
    """One notification wakes exactly one idle ticket whose scope accepts the target."""
    dispatcher = Dispatcher()
    other = dispatcher.register(RunnerScope(frozenset({"b"}), frozenset()))
    first = dispatcher.register(RunnerScope(frozenset({"a"}), frozenset()))
    second = dispatcher.register(RunnerScope(frozenset({"a"}), frozenset()))
    dispatcher.notify(DispatchTarget("a", ""))
    assert (other.event.is_set(), first.event.is_set(), second.event.is_set()) == (
        False,
        True,
        False,
    )
    dispatcher.unregister(first)  # leaving with an unused wake hands it on
    assert second.event.is_set()


async def test_close_releases_everyone() -> None:
    """Closing the dispatcher ends every held wait, including paused (scope-less) ones."""
    dispatcher = Dispatcher()
    tickets = [dispatcher.register(None) for _ in range(3)]
    waits = [asyncio.create_task(dispatcher.claim_until(ticket, None, 30)) for ticket in tickets]
    await asyncio.sleep(0.01)
    dispatcher.close()
    async with asyncio.timeout(2):
        assert await asyncio.gather(*waits) == [None, None, None]
