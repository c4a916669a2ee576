"""The reaper task (protocol.md 8.2): lost runners, execution timeouts, old nonces."""

from __future__ import annotations

import asyncio

import structlog

from flomation.server.services import Services

__all__ = ["reap_once", "run_reaper"]

_log = structlog.get_logger("flomation.server.reaper")


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
        )
    await services.store.forget_nonces_before(now_s - settings.nonce_retention_s)
    return len(reaped)


async def run_reaper(services: Services, stop: asyncio.Event) -> None:
    """Reap every ``reaper_interval_s`` until ``stop`` is set; a failing pass is logged."""
    while not stop.is_set():
        try:
            await reap_once(services)
        except Exception:
            _log.exception("reaper pass failed")
        try:
            async with asyncio.timeout(services.settings.reaper_interval_s):
                await stop.wait()
        except TimeoutError:
            continue
