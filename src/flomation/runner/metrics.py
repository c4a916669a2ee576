"""The runner's Prometheus metric families, in a registry of their own (never the global one).

Imported only when the health listener serves ``/metrics`` (see ``RunnerMetrics`` in
``health``): prometheus_client and what it imports cost ~1 MiB of resident memory
(docs/benchmarks.md, runner item 15).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from flomation.version import distribution_version

__all__ = ["PrometheusFamilies"]


class PrometheusFamilies:
    """Every metric the runner exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        build = Gauge(
            "flomation_runner_build_info",
            "The runner's version as a label; the value is always 1",
            ["version"],
            registry=registry,
        )
        build.labels(version=distribution_version()).set(1)
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
            "Live log lines the server never stored (they still reach the final result)",
            registry=registry,
        )
        self.log_lines_unconfirmed = Counter(
            "flomation_runner_log_lines_unconfirmed",
            "Live log lines given up after a lost answer: the server may have stored them",
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

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
