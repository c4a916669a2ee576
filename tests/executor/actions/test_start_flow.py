"""common/start_flow's client side against a local HTTP server answering like the control plane
(flomation-co/executor: actions/common/start_flow/action.go); the real server is exercised end to
end in tests/e2e/test_start_flow.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fixtures.http_peer import Recorded, Reply, http_peer
from flomation.executor.actions.base import HardError
from flomation.executor.actions.common import start_flow
from flomation.executor.environment import EnvironmentClient

MakeContext = Callable[..., Any]


def _client(url: str) -> EnvironmentClient:
    return EnvironmentClient(
        api_url=url,
        execution_id="calling-exec",
        environment="default",
        key_path=None,
        token="tok-1",
        user=None,
        password=None,
        identity_url="",
        log=lambda *_args, **_fields: None,
    )


def test_start_without_waiting(make_ctx: MakeContext) -> None:
    """POST .../internal/flo/{id}/execute with {} and the caller's identity; status queued."""

    def reply(request: Recorded) -> Reply:
        return 201, {"Content-Type": "application/json"}, b'{"id": "exec-9"}'

    with http_peer(reply) as peer:
        ctx = make_ctx(("flow_id", "string", "flow-7"))
        ctx.control_plane = _client(peer.url)
        out = start_flow.run(ctx)
    assert out == {"execution_id": "exec-9", "status": "queued", "result": None}
    (request,) = peer.requests
    assert (request.method, request.path, request.body) == (
        "POST",
        "/api/v1/internal/flo/flow-7/execute",
        b"{}",
    )
    assert request.headers["X-Flomation-Execution"] == "calling-exec"
    assert request.headers["Authorization"] == "Bearer tok-1"


def test_wait_times_out_while_running(
    make_ctx: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Still running at the deadline: status timeout (poll interval shortened for the test)."""
    monkeypatch.setattr(start_flow, "POLL_INTERVAL_S", 0.05)

    def reply(request: Recorded) -> Reply:
        if request.method == "POST":
            return 201, {}, b'{"id": "exec-9"}'
        body = {"execution_status": "running", "completion_status": "pending"}
        return 200, {}, json.dumps(body).encode()

    with http_peer(reply) as peer:
        ctx = make_ctx(
            ("flow_id", "string", "f"),
            ("wait_for_completion", "boolean", True),
            ("timeout_seconds", "integer", 1),
        )
        ctx.control_plane = _client(peer.url)
        out = start_flow.run(ctx)
    assert out["status"] == "timeout" and out["result"] is None
    assert peer.requests[1].path == "/api/v1/internal/execution/exec-9"


def test_refusals_are_hard_errors(make_ctx: MakeContext) -> None:
    """No API, a refused start and a missing flow id fail with upstream's texts."""
    with pytest.raises(HardError, match="API URL not available in execution context"):
        start_flow.run(make_ctx(("flow_id", "string", "f")))
    with pytest.raises(HardError, match="flow_id is required"):
        start_flow.run(make_ctx())
    with http_peer(lambda _request: (404, {}, b"flo not found")) as peer:
        ctx = make_ctx(("flow_id", "string", "f"))
        ctx.control_plane = _client(peer.url)
        with pytest.raises(HardError) as caught:
            start_flow.run(ctx)
    assert caught.value.message == "failed to trigger flow (status 404): flo not found"
