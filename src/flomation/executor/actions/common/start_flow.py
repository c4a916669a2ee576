"""``common/start_flow``: start another flow through the control plane, optionally waiting.

Matches flomation-co/executor: actions/common/start_flow/action.go: ``POST
{api}/api/v1/internal/flo/{flow_id}/execute`` with ``{}`` (201 ``{"id"}``), then, with
``wait_for_completion`` (the text ``true``), ``GET {api}/api/v1/internal/execution/{id}`` every
2 s until ``execution_status`` is ``executed`` (``status`` = its ``completion_status``,
``result`` = its result) or ``timeout_seconds`` (default 300) pass (``status: timeout`` when it
was still queued, allocated or running). Outputs ``execution_id``, ``status`` (``queued`` when
not waiting), ``result``. Requests are signed as the environment look-ups are and name the
calling execution (server side: flomation.server.routes_internal); the waits end within a
second of cancellation.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import (
    ActionCancelled,
    ActionContext,
    ActionSpec,
    Connection,
    ControlPlane,
    HardError,
    Outputs,
)

__all__ = ["POLL_INTERVAL_S", "SPEC", "run"]

POLL_INTERVAL_S = 2.0
_DEFAULT_TIMEOUT_S = 300
_REQUEST_TIMEOUT_S = 30.0
_UNFINISHED = frozenset({"queued", "running", "allocated"})

SPEC = ActionSpec(
    id="common/start_flow",
    name="Start Flow",
    description="Trigger another flow, optionally waiting for completion",
    icon="share-from-square",
    inputs=(
        Connection(
            "flow_id", "string", "Flow ID", placeholder="ID of the flow to trigger", required=True
        ),
        Connection("wait_for_completion", "boolean", "Wait for Completion"),
        Connection("timeout_seconds", "integer", "Timeout (seconds)", placeholder="300"),
    ),
    outputs=(
        Connection("execution_id", "string", "Execution ID"),
        Connection("status", "string", "Status"),
        Connection("result", "object", "Flow Result"),
    ),
    extra={
        "differences": [
            "requests are signed with the runner's key and name the calling execution "
            "(upstream relies on mutual TLS)",
        ]
    },
)


def _timeout_s(ctx: ActionContext) -> int:
    text = read_string(ctx.inputs, "timeout_seconds")
    if text is not None:
        try:
            value = int(text, 10)
        except ValueError:
            return _DEFAULT_TIMEOUT_S
        if value > 0:
            return value
    return _DEFAULT_TIMEOUT_S


def _start(plane: ControlPlane, flow_id: str) -> str:
    from flomation.executor.environment import ControlPlaneError

    path = f"/api/v1/internal/flo/{quote(flow_id, safe='')}/execute"
    try:
        status, body = plane.call("POST", path, b"{}", timeout_s=_REQUEST_TIMEOUT_S)
    except ControlPlaneError as error:
        raise HardError(f"failed to trigger flow: {error}") from None
    if status != 201:
        text = body.decode("utf-8", "replace")
        raise HardError(f"failed to trigger flow (status {status}): {text}")
    try:
        document = json.loads(body)
    except ValueError as error:
        raise HardError(f"failed to parse trigger response: {error}") from None
    found = document.get("id") if isinstance(document, dict) else None
    return found if isinstance(found, str) else ""


def _poll(ctx: ActionContext, plane: ControlPlane, execution_id: str) -> dict[str, Any] | None:
    from flomation.executor.environment import ControlPlaneError

    path = f"/api/v1/internal/execution/{quote(execution_id, safe='')}"
    try:
        status, body = plane.call("GET", path, timeout_s=_REQUEST_TIMEOUT_S)
    except ControlPlaneError as error:
        ctx.log("warning", "failed to poll execution status", error=str(error))
        return None
    if status != 200:
        ctx.log("warning", "failed to poll execution status", error=f"HTTP {status}")
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def run(ctx: ActionContext) -> Outputs:
    """``{execution_id, status, result}``."""
    flow_id = read_string(ctx.inputs, "flow_id")
    if not flow_id:
        raise HardError("flow_id is required")
    wait = read_string(ctx.inputs, "wait_for_completion") == "true"
    timeout_s = _timeout_s(ctx)
    plane = ctx.control_plane
    if plane is None:
        raise HardError("API URL not available in execution context")
    execution_id = _start(plane, flow_id)
    status, result = "queued", None
    if wait:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ctx.cancel_event.wait(POLL_INTERVAL_S):
                raise ActionCancelled("start_flow wait cancelled")
            document = _poll(ctx, plane, execution_id)
            if document is None:
                continue
            if document.get("execution_status") == "executed":
                status = str(document.get("completion_status") or "")
                result = document.get("result")
                break
            status = str(document.get("execution_status") or "")
        if status in _UNFINISHED:
            status = "timeout"
    return {"execution_id": execution_id, "status": status, "result": result}
