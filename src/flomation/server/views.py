"""JSON shapes of the server's answers (docs/protocol.md §4.1, §4.2.1, 10)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from flomation.server.admin_answers import (
    EnvironmentAnswer,
    ExecutionAnswer,
    QueueAnswer,
    RunnerAnswer,
    RunnerFields,
)
from flomation.server.records import (
    ClaimedExecution,
    EnvironmentItemRecord,
    EnvironmentRecord,
    ExecutionRecord,
    FloRecord,
    QueueRecord,
    RunnerRecord,
)

__all__ = [
    "environment_item_view",
    "environment_view",
    "execution_view",
    "flo_view",
    "pending_execution_view",
    "queue_view",
    "rfc3339",
    "runner_admin_view",
    "runner_registration_view",
    "runner_state",
]

_HOUR_S = 3600.0


@overload
def rfc3339(timestamp_s: float) -> str: ...
@overload
def rfc3339(timestamp_s: float | None) -> str | None: ...
def rfc3339(timestamp_s: float | None) -> str | None:
    """RFC 3339 UTC with microseconds and ``Z``, or None."""
    if timestamp_s is None:
        return None
    moment = datetime.fromtimestamp(timestamp_s, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def runner_state(last_contact_at: float | None, now_s: float) -> str:
    """``active`` (<= 1 h since contact), ``suspended`` (1-6 h) or ``terminated`` (§4.1)."""
    if last_contact_at is None:
        return "terminated"
    age_s = now_s - last_contact_at
    if age_s <= _HOUR_S:
        return "active"
    return "suspended" if age_s <= 6 * _HOUR_S else "terminated"


def _runner_common(runner: RunnerRecord, now_s: float) -> RunnerFields:
    return {
        "id": runner.id,
        "identifier": runner.identifier,
        "name": runner.name,
        "enrolled_at": rfc3339(runner.enrolled_at),
        "last_contact_at": rfc3339(runner.last_contact_at),
        "ip_address": runner.ip_address,
        "state": runner_state(runner.last_contact_at, now_s),
        "active": runner.active,
        "version": runner.version,
        "executor_version": runner.executor_version,
        "public_key": runner.public_key,
        "verified": True,
    }


def runner_registration_view(
    runner: RunnerRecord, registration_code: str, now_s: float
) -> dict[str, Any]:
    """The Runner JSON of a new enrolment (200); the manifest is answered as null."""
    return {
        **_runner_common(runner, now_s),
        "registration_code": registration_code,
        "manifest": None,
    }


def runner_admin_view(runner: RunnerRecord, now_s: float) -> RunnerAnswer:
    """A runner in the admin listing: never the registration code or the manifest (§10.4)."""
    return {**_runner_common(runner, now_s), "queue_ids": list(runner.queue_ids)}


def queue_view(queue: QueueRecord) -> QueueAnswer:
    """A queue with its registration code (§10.1)."""
    return {
        "id": queue.id,
        "name": queue.name,
        "registration_code": queue.registration_code,
        "organisation_id": queue.organisation_id,
        "created_at": rfc3339(queue.created_at),
    }


def flo_view(flo: FloRecord) -> dict[str, Any]:
    """The ``flo`` object of 4.2.1; null optional fields are omitted where the spec says so."""
    view: dict[str, Any] = {"id": flo.id, "name": flo.name}
    if flo.organisation_id is not None:
        view["organisation_id"] = flo.organisation_id
    if flo.author_id is not None:
        view["author_id"] = flo.author_id
    view.update(
        {
            "created_at": rfc3339(flo.created_at),
            "scale": 1,
            "x": 0,
            "y": 0,
            "triggers": None,
            "execution_count": flo.execution_count,
            "last_run": rfc3339(flo.last_run),
            "duration": None,
            "duration_additional": None,
            "last_execution": None,
            "environment_id": flo.environment_id,
            "environment_name": flo.environment_name,
            "queue_id": flo.queue_id,
            "notify_on_success": False,
            "notify_on_failure": False,
            "system_flow": False,
        }
    )
    return view


def _pending_execution_member(execution: ExecutionRecord) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": execution.id,
        "flo_id": execution.flo_id,
        "name": execution.name,
        "owner_id": execution.owner_id,
        "organisation_id": execution.organisation_id,
        "created_at": rfc3339(execution.created_at),
        "updated_at": rfc3339(execution.updated_at),
        "completed_at": rfc3339(execution.completed_at),
        "triggered_by": None,
        "execution_status": execution.execution_status,
        "completion_status": execution.completion_status,
        "sequence": execution.sequence,
        "data": execution.data,
        "runner_id": execution.runner_id,
        "result": execution.result,
        "duration": None,
        "billing_duration": None,
        "suspend_count": execution.suspend_count,
    }
    if execution.checkpoint is not None:
        view["checkpoint"] = execution.checkpoint
    if execution.trigger_type is not None:
        view["trigger_type"] = execution.trigger_type
    if execution.entry_node_id is not None:
        view["entry_node_id"] = execution.entry_node_id
    return view


def pending_execution_view(claimed: ClaimedExecution) -> dict[str, Any]:
    """The 200 body of a claim (§4.2.1): status ``allocated``, the claiming runner's UUID."""
    view: dict[str, Any] = {
        "flo": flo_view(claimed.flo),
        "execution": _pending_execution_member(claimed.execution),
        "data": claimed.revision_data,
    }
    if claimed.execution.checkpoint is not None:
        view["checkpoint"] = claimed.execution.checkpoint
    return view


def execution_view(execution: ExecutionRecord) -> ExecutionAnswer:
    """The admin execution object (§10.3)."""
    return {
        "id": execution.id,
        "flo_id": execution.flo_id,
        "name": execution.name,
        "owner_id": execution.owner_id,
        "organisation_id": execution.organisation_id,
        "sequence": execution.sequence,
        "trigger_type": execution.trigger_type,
        "entry_node_id": execution.entry_node_id,
        "data": execution.data,
        "execution_status": execution.execution_status,
        "completion_status": execution.completion_status,
        "completion_reason": execution.completion_reason,
        "runner_id": execution.runner_id,
        "result": execution.result,
        "checkpoint": execution.checkpoint,
        "suspend_count": execution.suspend_count,
        "created_at": rfc3339(execution.created_at),
        "updated_at": rfc3339(execution.updated_at),
        "allocated_at": rfc3339(execution.allocated_at),
        "started_at": rfc3339(execution.started_at),
        "completed_at": rfc3339(execution.completed_at),
        "last_contact_at": rfc3339(execution.last_contact_at),
        "log_bytes": execution.log_bytes,
        "log_truncated": execution.log_truncated,
    }


def environment_view(environment: EnvironmentRecord) -> EnvironmentAnswer:
    """An environment (§10.5, §4.7)."""
    return {
        "id": environment.id,
        "name": environment.name,
        "owner_id": environment.owner_id,
        "organisation_id": environment.organisation_id,
        "created_at": rfc3339(environment.created_at),
    }


def environment_item_view(item: EnvironmentItemRecord, value: str | None) -> dict[str, Any]:
    """A property, secret or credential; ``value`` None leaves it out (admin secret answers)."""
    if item.kind == "credential":
        credential: dict[str, Any] = {"name": item.name, "metadata": item.metadata}
        if value is not None:
            credential = {"value": value, "metadata": item.metadata}
        return credential
    view: dict[str, Any] = {"id": item.id, "environment_id": item.environment_id, "name": item.name}
    if value is not None:
        view["value"] = value
    if item.kind == "secret":
        view["provider"] = item.provider
        if item.expires_at is not None:
            view["expires_at"] = item.expires_at
    view["created_at"] = rfc3339(item.created_at)
    return view
