"""Liveness, readiness and Prometheus metrics of the runner.

``RunnerStatus`` is the small set of facts the agent keeps current (heartbeat, registered,
draining, disk, last contact with the API). ``RunnerMetrics`` is what the agent counts and the
API client's request observer; its Prometheus families live in ``flomation.runner.metrics``.
The optional HTTP listener that serves them is ``flomation.runner.health_server``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flomation.runner.logs import ShipperStats
    from flomation.runner.metrics import PrometheusFamilies

__all__ = [
    "OutboxGauges",
    "RunnerMetrics",
    "RunnerStatus",
]

_HEARTBEAT_STALE_S = 10.0


@dataclass
class RunnerStatus:
    """Facts about the agent that liveness and readiness are computed from (monotonic times)."""

    heartbeat_s: float = field(default_factory=time.monotonic)
    registered: bool = False
    draining: bool = False
    disk_ok: bool = True
    last_contact_s: float | None = None

    def beat(self) -> None:
        """The event loop is alive and turning."""
        self.heartbeat_s = time.monotonic()

    def contacted(self) -> None:
        """The API answered."""
        self.last_contact_s = time.monotonic()

    def live(self, now_s: float | None = None) -> bool:
        """True while the heartbeat is fresh."""
        now = time.monotonic() if now_s is None else now_s
        return now - self.heartbeat_s <= _HEARTBEAT_STALE_S

    def not_ready_reasons(self, contact_window_s: float, now_s: float | None = None) -> list[str]:
        """Why the runner should not receive traffic; empty when ready."""
        now = time.monotonic() if now_s is None else now_s
        reasons = []
        if not self.registered:
            reasons.append("not registered")
        if self.last_contact_s is None or now - self.last_contact_s > contact_window_s:
            reasons.append(f"no successful API contact within {contact_window_s:g} s")
        if not self.disk_ok:
            reasons.append("free disk space below threshold")
        if self.draining:
            reasons.append("draining")
        return reasons


@dataclass(frozen=True)
class OutboxGauges:
    """Current outbox depth and the age of its oldest pending entry."""

    depth: int
    oldest_age_s: float


class RunnerMetrics:
    """What the agent counts, and the API observer that keeps readiness's contact time.

    The Prometheus families exist only when ``served`` (the health listener is on): a runner
    that does not expose ``/metrics`` neither imports prometheus_client (~1 MiB of resident
    memory) nor counts into it. API contact is tracked either way.
    """

    def __init__(self, status: RunnerStatus, *, served: bool) -> None:
        self._status = status
        self._outbox_source: Callable[[], OutboxGauges] | None = None
        self._families: PrometheusFamilies | None = None
        if served:
            from flomation.runner.metrics import PrometheusFamilies

            self._families = PrometheusFamilies()

    def set_slots(self, slots: int) -> None:
        if (families := self._families) is not None:
            families.slots.set(slots)

    def set_running(self, running: int) -> None:
        if (families := self._families) is not None:
            families.running.set(running)

    def count_claim(self, result: str) -> None:
        """One claim answered: ``work``, ``empty``, ``error`` or the HTTP status."""
        if (families := self._families) is not None:
            families.claims.labels(result).inc()

    def count_result(self, outcome: str) -> None:
        """One execution ended: its outcome, or ``not_reported``."""
        if (families := self._families) is not None:
            families.results.labels(outcome).inc()

    def count_logs(self, stats: ShipperStats) -> None:
        """One execution's live log stream."""
        if (families := self._families) is not None:
            families.log_lines_shipped.inc(stats.lines_sent)
            families.log_bytes_shipped.inc(stats.bytes_sent)
            families.log_lines_dropped.inc(stats.lines_dropped)
            families.log_lines_unconfirmed.inc(stats.lines_unconfirmed)

    def count_outbox_dead(self) -> None:
        if (families := self._families) is not None:
            families.outbox_dead.inc()

    def observe_request(self, endpoint: str, latency_s: float, status: int | None) -> None:
        """Request observer for the API client."""
        answered = status is not None and status < 500
        if answered and (endpoint != "register" or status in (200, 201)):
            self._status.contacted()
        families = self._families
        if families is None:
            return
        families.api_latency.labels(endpoint).observe(latency_s)
        if status is None:
            families.api_errors.labels(endpoint, "network").inc()
        elif status >= 500:
            families.api_errors.labels(endpoint, "5xx").inc()
        elif status >= 400:
            families.api_errors.labels(endpoint, "4xx").inc()

    def watch_outbox(self, source: Callable[[], OutboxGauges]) -> None:
        """Read outbox gauges from ``source`` at every scrape."""
        self._outbox_source = source

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (only when ``served``)."""
        families = self._families
        if families is None:
            raise RuntimeError("metrics are not served: create RunnerMetrics with served=True")
        if self._outbox_source is not None:
            gauges = self._outbox_source()
            families.outbox_depth.set(gauges.depth)
            families.outbox_oldest_age.set(gauges.oldest_age_s)
        return families.render()
