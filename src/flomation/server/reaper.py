"""Background work of the app: the reaper (docs/protocol.md §8.2: lost runners, execution timeouts,
old nonces; the claim leases of docs/protocol.md §11), retention (old executions and
logs) and shared wake-ups (executions made claimable by another server process)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

import structlog

from flomation.server.dashboard.sessions import SESSION_IDLE_S
from flomation.server.services import Services
from flomation.server.store import PruneBatch

__all__ = [
    "expire_claim_leases_once",
    "prune_once",
    "reap_once",
    "run_claim_leases",
    "run_pruner",
    "run_reaper",
    "run_shared_wakeups",
]

_log = structlog.get_logger("flomation.server.reaper")
# Log lines deleted per retention transaction: a few milliseconds of work, so that requests
# interleave with a large prune instead of waiting behind it.
_PRUNE_LINES_PER_BATCH = 2_000
# The rest between two batches: the prune takes about a fifth of a core from the runners'
# requests (a batch of 500 executions is ~4-6 ms, docs/benchmarks.md "two replicas"), so a long
# backlog (bench/replicas_bench.py prunes 1,000,000, at ~19,000 a second) is worked off without
# slowing them.
_PRUNE_PAUSE_S = 0.02


async def reap_once(services: Services) -> int:
    """One pass; returns how many executions were finished."""
    settings = services.settings
    now_s = services.clock()
    reaped = await services.store.reap(
        now_s, settings.runner_lost_after_s, settings.execution_timeout_s
    )
    for item in reaped:
        services.metrics.reaped.labels(completion_status=item.completion_status).inc()
        services.events.publish(item.execution_id)
        _log.info(
            "execution reaped",
            execution_id=item.execution_id,
            completion_status=item.completion_status,
            reason=item.reason,
        )
    await services.store.forget_nonces_before(now_s - settings.nonce_retention_s)
    return len(reaped)


async def prune_once(services: Services, stop: asyncio.Event) -> PruneBatch:
    """Forget idle dashboard sessions, then apply retention by age and the total log size cap,
    in small batches; the totals."""
    settings, store, metrics = services.settings, services.store, services.metrics
    await store.forget_sessions_idle_since(services.clock() - SESSION_IDLE_S)
    executions = lines = 0

    def count(batch: PruneBatch) -> None:
        nonlocal executions, lines
        executions += batch.executions
        lines += batch.log_lines
        metrics.pruned_executions.inc(batch.executions)
        metrics.pruned_log_lines.inc(batch.log_lines)

    if settings.retention_s > 0:
        cutoff_s = services.clock() - settings.retention_s
        while not stop.is_set():
            batch = await store.prune_finished_before(cutoff_s, _PRUNE_LINES_PER_BATCH)
            if batch.empty:
                break
            count(batch)
            await asyncio.sleep(_PRUNE_PAUSE_S)
    if settings.max_total_log_bytes > 0:
        stored = await store.total_log_bytes()
        while stored > settings.max_total_log_bytes and not stop.is_set():
            batch = await store.drop_oldest_logs(_PRUNE_LINES_PER_BATCH)
            if batch.empty:
                break
            count(batch)
            stored -= batch.log_bytes
            await asyncio.sleep(_PRUNE_PAUSE_S)
        metrics.stored_log_bytes.set(stored)
    if executions or lines:
        _log.info("retention pruned", executions=executions, log_lines=lines)
    return PruneBatch(executions, lines)


async def expire_claim_leases_once(services: Services) -> int:
    """Offer again what was claimed but never confirmed, and wake runners for it; how many."""
    lease_s = services.settings.claim_lease_s
    lapsed_claims = await services.store.expire_claim_leases(services.clock(), lease_s)
    for lapsed in lapsed_claims:
        services.metrics.claim_leases_expired.inc()
        _log.info(
            "claim lease expired; execution offered again",
            execution_id=lapsed.execution_id,
            runner_id=lapsed.runner_id,
            reason=f"not confirmed within {lease_s:g} s of the claim",
        )
        target = await services.store.dispatch_target(lapsed.execution_id)
        if target is not None:
            services.dispatcher.notify(target)
        services.events.publish(lapsed.execution_id)
    return len(lapsed_claims)


async def _every(
    interval_s: float, stop: asyncio.Event, action: Callable[[], Awaitable[object]], what: str
) -> None:
    """Run ``action`` every ``interval_s`` until ``stop`` is set; a failing pass is logged."""
    while not stop.is_set():
        try:
            await action()
        except Exception:
            _log.exception(f"{what} failed")
        try:
            async with asyncio.timeout(interval_s):
                await stop.wait()
        except TimeoutError:
            continue


async def run_reaper(services: Services, stop: asyncio.Event) -> None:
    """Reap every ``reaper_interval_s`` until ``stop`` is set; a failing pass is logged."""
    interval_s = services.settings.reaper_interval_s
    await _every(interval_s, stop, functools.partial(reap_once, services), "reaper pass")


async def run_claim_leases(services: Services, stop: asyncio.Event) -> None:
    """Expire claim leases until ``stop`` is set, checking five times per lease (at least as
    often as the reaper): an unconfirmed claim is offered again within 1.2 leases."""
    settings = services.settings
    interval_s = min(settings.reaper_interval_s, settings.claim_lease_s / 5)
    action = functools.partial(expire_claim_leases_once, services)
    await _every(interval_s, stop, action, "claim lease pass")


async def run_pruner(services: Services, stop: asyncio.Event) -> None:
    """Apply retention every ``prune_interval_s`` until ``stop`` is set."""
    action = functools.partial(prune_once, services, stop)
    await _every(services.settings.prune_interval_s, stop, action, "retention pass")


async def run_shared_wakeups(services: Services, stop: asyncio.Event) -> None:
    """Every ``shared_wakeup_interval_s``, wake polls for executions that became claimable.

    In-process notifications already cover executions created by this process; this pass makes
    several server processes on one database wake each other (docs/protocol.md §8.4) within about
    one interval. Extra wakes are harmless: a woken poll whose claim finds nothing waits again.
    """
    interval_s = services.settings.shared_wakeup_interval_s
    checked_s = services.clock()
    while not stop.is_set():
        try:
            async with asyncio.timeout(interval_s):
                await stop.wait()
            return
        except TimeoutError:
            pass
        now_s = services.clock()
        try:
            # Overlap the windows so a commit racing the previous check is not skipped.
            targets = await services.store.claimable_targets_since(checked_s - interval_s)
        except Exception:
            _log.exception("shared wake-up pass failed")
            continue
        checked_s = now_s
        for target in targets:
            services.dispatcher.notify(target)
