"""The wake-up registry on its own (docs/protocol.md §8.1 A12): no lost wake-ups, no herd."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from flomation.server.dispatch import Dispatcher
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


async def _run_round(queue_sets: list[frozenset[str]], arrivals: list[str]) -> _Backlog:
    dispatcher = Dispatcher()
    backlog = _Backlog()

    async def poller(queues: frozenset[str]) -> None:
        # One poll, like a runner with a single slot: once it has work it stops polling.
        scope = RunnerScope(queues, frozenset())
        ticket = dispatcher.register(scope)

        async def claim() -> int | None:
            await asyncio.sleep(0)  # a claim takes time: others interleave
            return backlog.claim_for(scope)

        try:
            result = await dispatcher.claim_until(ticket, claim, 0.1)
        finally:
            dispatcher.unregister(ticket)
        if result is None:
            backlog.idle_scopes.append(scope)

    pollers = [asyncio.create_task(poller(queues)) for queues in queue_sets]
    await asyncio.sleep(0.01)
    for number, queue in enumerate(arrivals):
        target = DispatchTarget(queue, "")
        backlog.items.append((number, target))
        dispatcher.notify(target)
        if number % 3 == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*pollers)
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
