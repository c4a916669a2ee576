"""Prometheus metrics on a registry owned by the app (``GET /metrics``).

``flomation_pending_executions{queue}`` counts the ``created``/``pending`` executions each queue
could serve, which is what an autoscaler such as KEDA scales runners on.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from flomation.server.store import Store

__all__ = ["CONTENT_TYPE", "ServerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServerMetrics:
    """Counters updated by handlers, gauges refreshed at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.pending = Gauge(
            "flomation_pending_executions",
            "Executions waiting for a runner, per queue that could take them",
            ["queue"],
            registry=self.registry,
        )
        self.waiting_polls = Gauge(
            "flomation_waiting_polls", "Runner long-polls currently held", registry=self.registry
        )
        self.executions_created = Counter(
            "flomation_executions_created", "Executions created", registry=self.registry
        )
        self.claims = Counter(
            "flomation_claims", "Executions handed to runners", registry=self.registry
        )
        self.results = Counter(
            "flomation_results", "Results posted by runners", ["outcome"], registry=self.registry
        )
        self.reaped = Counter(
            "flomation_reaped_executions",
            "Executions finished by the reaper",
            ["completion_status"],
            registry=self.registry,
        )
        self.pruned_executions = Counter(
            "flomation_pruned_executions",
            "Finished executions deleted by retention (with their logs)",
            registry=self.registry,
        )
        self.pruned_log_lines = Counter(
            "flomation_pruned_log_lines",
            "Log lines deleted by retention (by age or by the total size cap)",
            registry=self.registry,
        )
        self.stored_log_bytes = Gauge(
            "flomation_stored_log_bytes",
            "Log bytes stored over all executions, as of the last retention pass with a size cap",
            registry=self.registry,
        )
        self.claim_leases_expired = Counter(
            "flomation_claim_leases_expired",
            "Claimed executions offered again because their runner did not confirm them in time",
            registry=self.registry,
        )
        self.log_lines_filled = Counter(
            "flomation_log_lines_filled",
            "Live log lines filled in from results because the live stream did not deliver them",
            registry=self.registry,
        )
        self.rejected_signatures = Counter(
            "flomation_rejected_signatures", "Runner requests answered 403", registry=self.registry
        )

    async def render(self, store: Store, waiting_polls: int) -> bytes:
        """The exposition text, with gauges read fresh from the database."""
        per_queue = await store.pending_per_queue()
        self.pending.clear()
        for queue, count in per_queue.items():
            self.pending.labels(queue=queue).set(count)
        self.waiting_polls.set(waiting_polls)
        return generate_latest(self.registry)
