"""Liveness, readiness and metrics over real HTTP (health.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import aiohttp

from flomation.runner.health import OutboxGauges, RunnerMetrics, RunnerStatus
from flomation.runner.health_server import HealthServer
from flomation.version import distribution_version


async def _get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def test_readyz_reflects_registration_contact_disk_and_drain() -> None:
    """/readyz is 503 with reasons until registered and in contact, and again when draining."""
    status = RunnerStatus()
    metrics = RunnerMetrics(status, served=True)
    server = HealthServer(status, metrics, contact_window_s=60)
    await server.start("127.0.0.1", 0)
    try:
        code, body = await _get(server.port, "/readyz")
        assert code == 503 and "not registered" in body and "API contact" in body
        status.registered = True
        metrics.observe_request("claim", 0.01, 204)
        assert (await _get(server.port, "/readyz"))[0] == 200
        status.disk_ok = False
        code, body = await _get(server.port, "/readyz")
        assert code == 503 and "disk" in body
        status.disk_ok = True
        status.draining = True
        assert (await _get(server.port, "/readyz"))[0] == 503
        assert (await _get(server.port, "/healthz"))[0] == 200
    finally:
        await server.stop()


def test_contact_window_expires() -> None:
    """Readiness needs a successful API contact within the window; network errors do not count."""
    status = RunnerStatus(registered=True)
    metrics = RunnerMetrics(status, served=True)
    metrics.observe_request("claim", 0.1, None)
    metrics.observe_request("result", 0.1, 503)
    assert status.not_ready_reasons(60) == ["no successful API contact within 60 s"]
    metrics.observe_request("claim", 0.1, 204)
    assert status.not_ready_reasons(60) == []
    assert status.last_contact_s is not None
    assert status.not_ready_reasons(60, now_s=status.last_contact_s + 61) != []


def test_liveness_goes_stale_without_heartbeat() -> None:
    """/healthz turns unhealthy when the heartbeat stops."""
    status = RunnerStatus()
    status.beat()
    assert status.live()
    assert not status.live(now_s=status.heartbeat_s + 11)


async def test_metrics_exposition() -> None:
    """/metrics exposes the version, slots, claims, results, outbox gauges and API latency."""
    status = RunnerStatus()
    metrics = RunnerMetrics(status, served=True)
    metrics.set_slots(4)
    metrics.count_claim("work")
    metrics.count_result("success")
    metrics.watch_outbox(lambda: OutboxGauges(depth=3, oldest_age_s=12.5))
    metrics.observe_request("claim", 0.02, 200)
    metrics.observe_request("result", 0.02, None)
    server = HealthServer(status, metrics)
    await server.start("127.0.0.1", 0)
    try:
        code, text = await _get(server.port, "/metrics")
    finally:
        await server.stop()
    assert code == 200
    assert f'flomation_runner_build_info{{version="{distribution_version()}"}} 1.0' in text
    assert "flomation_runner_slots 4.0" in text
    assert 'flomation_runner_claims_total{result="work"} 1.0' in text
    assert 'flomation_runner_results_total{outcome="success"} 1.0' in text
    assert "flomation_runner_outbox_depth 3.0" in text
    assert "flomation_runner_outbox_oldest_age_seconds 12.5" in text
    assert 'flomation_runner_api_request_seconds_count{endpoint="claim"} 1.0' in text
    assert 'flomation_runner_api_errors_total{endpoint="result",kind="network"} 1.0' in text


def test_unserved_metrics_track_contact_without_loading_prometheus() -> None:
    """Without a listener the runner never imports prometheus_client, yet readiness sees contact."""
    program = textwrap.dedent(
        """
        import sys
        import flomation.runner.cli
        from flomation.runner.health import RunnerMetrics, RunnerStatus
        from flomation.runner.logs import ShipperStats

        status = RunnerStatus(registered=True)
        metrics = RunnerMetrics(status, served=False)
        metrics.set_slots(2)
        metrics.count_claim("work")
        metrics.count_logs(ShipperStats(lines_sent=3))
        metrics.observe_request("claim", 0.01, 204)
        assert status.not_ready_reasons(60) == [], status.not_ready_reasons(60)
        assert "prometheus_client" not in sys.modules, "prometheus_client was imported"
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
