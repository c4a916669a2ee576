"""Liveness, readiness and Prometheus metrics of the runner.

``RunnerStatus`` is the small set of facts the agent keeps current (heartbeat, registered,
draining, disk, last contact with the API). ``RunnerMetrics`` owns a private Prometheus
registry (never the global one) and is also the API client's request observer. The optional
HTTP listener that serves them is ``flomation.runner.health_server``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

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
    """The runner's Prometheus metrics, in a registry of its own."""

    def __init__(self, status: RunnerStatus) -> None:
        self._status = status
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.slots = Gauge("flomation_runner_slots", "Execution slots", registry=registry)
        self.running = Gauge(
            "flomation_runner_running_executions", "Executions running now", registry=registry
        )
        self.claims = Counter(
            "flomation_runner_claims", "Claim answers by result", ["result"], registry=registry
        )
        self.results = Counter(
            "flomation_runner_results", "Results stored by outcome", ["outcome"], registry=registry
        )
        self.outbox_depth = Gauge(
            "flomation_runner_outbox_depth", "Undelivered outbox entries", registry=registry
        )
        self.outbox_oldest_age = Gauge(
            "flomation_runner_outbox_oldest_age_seconds",
            "Age of the oldest undelivered outbox entry",
            registry=registry,
        )
        self.outbox_dead = Counter(
            "flomation_runner_outbox_dead", "Outbox entries given up", registry=registry
        )
        self.log_lines_shipped = Counter(
            "flomation_runner_log_lines_shipped", "Log lines sent to /logs", registry=registry
        )
        self.log_bytes_shipped = Counter(
            "flomation_runner_log_bytes_shipped", "Log bytes sent to /logs", registry=registry
        )
        self.log_lines_dropped = Counter(
            "flomation_runner_log_lines_dropped",
            "Live log lines dropped (they still reach the final result)",
            registry=registry,
        )
        self.api_latency = Histogram(
            "flomation_runner_api_request_seconds",
            "API request latency by endpoint",
            ["endpoint"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.api_errors = Counter(
            "flomation_runner_api_errors",
            "API requests without an answer or answered 5xx, by endpoint",
            ["endpoint", "kind"],
            registry=registry,
        )
        self._outbox_source: Callable[[], OutboxGauges] | None = None

    def observe_request(self, endpoint: str, latency_s: float, status: int | None) -> None:
        """Request observer for the API client."""
        self.api_latency.labels(endpoint).observe(latency_s)
        if status is None:
            self.api_errors.labels(endpoint, "network").inc()
            return
        if status >= 500:
            self.api_errors.labels(endpoint, "5xx").inc()
            return
        if endpoint != "register" or status in (200, 201):
            self._status.contacted()
        if status >= 400:
            self.api_errors.labels(endpoint, "4xx").inc()

    def watch_outbox(self, source: Callable[[], OutboxGauges]) -> None:
        """Read outbox gauges from ``source`` at every scrape."""
        self._outbox_source = source

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        if self._outbox_source is not None:
            gauges = self._outbox_source()
            self.outbox_depth.set(gauges.depth)
            self.outbox_oldest_age.set(gauges.oldest_age_s)
        return generate_latest(self.registry)
