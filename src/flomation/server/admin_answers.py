"""The JSON answers of the admin API (docs/protocol.md §10), one TypedDict per object.

flomation.server.views builds them and flomation.server.admin_client returns them, so the server's
answer and the client's type are one description (the views that cannot carry these types are
checked against them by tests/server/test_admin_answers.py). Keys are in the order the views
write them. The flow's and the runner's own documents (trigger data, result, checkpoint, a
credential's metadata) are typed ``Any``, as flomation.server.records stores them: their shape
belongs to the flow, and the admin API passes them on as they came (docs/admin-api.md: any).

No ``from __future__ import annotations`` here: Python 3.11's TypedDict tells ``NotRequired``
keys only from evaluated annotations, and the test reads ``__required_keys__`` at run time.
"""

from typing import Any, NotRequired, TypedDict

__all__ = [
    "CredentialAnswer",
    "EnvironmentAnswer",
    "ExecutionAnswer",
    "FloAnswer",
    "PropertyAnswer",
    "QueueAnswer",
    "RevisionAnswer",
    "RunnerAnswer",
    "RunnerFields",
    "SecretAnswer",
]


class QueueAnswer(TypedDict):
    """A queue with its registration code (§10.1)."""

    id: str
    name: str
    registration_code: str
    organisation_id: str | None
    created_at: str


class FloAnswer(TypedDict):
    """The ``flo`` object of §4.2.1; the owner fields are left out when they are null."""

    id: str
    name: str
    organisation_id: NotRequired[str]
    author_id: NotRequired[str]
    created_at: str
    scale: int
    x: int
    y: int
    triggers: None
    execution_count: int
    last_run: str | None
    duration: None
    duration_additional: None
    last_execution: None
    environment_id: str | None
    environment_name: str | None
    queue_id: str | None
    notify_on_success: bool
    notify_on_failure: bool
    system_flow: bool


class RevisionAnswer(TypedDict):
    """A flow's new revision, dispatched from now on."""

    id: str
    flo_id: str
    created_at: str


class ExecutionAnswer(TypedDict):
    """The admin execution object (§10.3)."""

    id: str
    flo_id: str
    name: str
    owner_id: str
    organisation_id: str | None
    sequence: int
    trigger_type: str | None
    entry_node_id: str | None
    data: Any
    execution_status: str
    completion_status: str
    completion_reason: str | None
    runner_id: str | None
    result: Any
    checkpoint: Any
    suspend_count: int
    created_at: str
    updated_at: str | None
    allocated_at: str | None
    started_at: str | None
    completed_at: str | None
    last_contact_at: str | None
    log_bytes: int
    log_truncated: bool


class RunnerFields(TypedDict):
    """What the admin listing and a new enrolment (§4.1) both say of a runner."""

    id: str
    identifier: str
    name: str
    enrolled_at: str
    last_contact_at: str | None
    ip_address: str | None
    state: str
    active: bool
    version: str | None
    executor_version: str | None
    public_key: str
    verified: bool


class RunnerAnswer(RunnerFields):
    """A runner in the admin listing: never its registration code or manifest (§10.4)."""

    queue_ids: list[str]


class EnvironmentAnswer(TypedDict):
    """An environment (§10.5)."""

    id: str
    name: str
    owner_id: str
    organisation_id: str | None
    created_at: str


class PropertyAnswer(TypedDict):
    """A property with its value."""

    id: str
    environment_id: str
    name: str
    value: str
    created_at: str


class SecretAnswer(TypedDict):
    """A secret without its value; ``expires_at`` only when it has one."""

    id: str
    environment_id: str
    name: str
    provider: str | None
    expires_at: NotRequired[str]
    created_at: str


class CredentialAnswer(TypedDict):
    """A credential without its value."""

    name: str
    metadata: Any
