"""Typed rows the store hands to handlers; timestamps are Unix seconds (float), JSON is parsed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ClaimedExecution",
    "DispatchTarget",
    "EnvironmentItemRecord",
    "EnvironmentRecord",
    "ExecutionCall",
    "ExecutionRecord",
    "FloRecord",
    "QueueRecord",
    "RunnerIdentity",
    "RunnerRecord",
    "RunnerScope",
]


@dataclass(frozen=True)
class DispatchTarget:
    """Who may take an execution: the queue its flow is pinned to, else its organisation.

    ``organisation_key`` is the organisation id, or ``""`` for public (no organisation).
    """

    queue_id: str | None
    organisation_key: str


@dataclass(frozen=True)
class RunnerScope:
    """The queues a runner belongs to and their organisations (``""`` = public)."""

    queue_ids: frozenset[str]
    organisation_keys: frozenset[str]

    def accepts(self, target: DispatchTarget) -> bool:
        """True when an execution with this target is eligible for the runner (protocol 8.1 A1)."""
        if target.queue_id is not None:
            return target.queue_id in self.queue_ids
        return target.organisation_key in self.organisation_keys


@dataclass(frozen=True)
class QueueRecord:
    """A queue with its registration code."""

    id: str
    name: str
    registration_code: str
    organisation_id: str | None
    created_at: float


@dataclass(frozen=True)
class RunnerRecord:
    """An enrolled runner; ``public_key`` is always present (protocol 8.1 A3)."""

    id: str
    identifier: str
    name: str
    enrolled_at: float
    last_contact_at: float | None
    ip_address: str | None
    active: bool
    version: str | None
    executor_version: str | None
    public_key: str
    queue_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunnerIdentity:
    """What never changes of an enrolled runner: its id, identifier and key (§8.1 A5)."""

    id: str
    identifier: str
    public_key: str


@dataclass(frozen=True)
class FloRecord:
    """A flow (without its revisions)."""

    id: str
    name: str
    organisation_id: str | None
    author_id: str | None
    environment_id: str | None
    environment_name: str | None
    queue_id: str | None
    created_at: float
    execution_count: int
    last_run: float | None


@dataclass(frozen=True)
class ExecutionRecord:
    """One execution with every column of protocol 10.3."""

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
    created_at: float
    updated_at: float | None
    allocated_at: float | None
    started_at: float | None
    completed_at: float | None
    last_contact_at: float | None
    log_bytes: int
    log_truncated: bool


@dataclass(frozen=True)
class ExecutionCall:
    """What a runner's call on an execution needs: its status and the runner it is assigned to."""

    id: str
    flo_id: str
    execution_status: str
    completion_status: str
    runner: RunnerRecord | None


@dataclass(frozen=True)
class ClaimedExecution:
    """What a successful claim returns: enough to build the PendingExecution of 4.2.1."""

    execution: ExecutionRecord
    flo: FloRecord
    revision_data: Any


@dataclass(frozen=True)
class EnvironmentRecord:
    """An environment (properties, secrets and credentials hang off it)."""

    id: str
    name: str
    owner_id: str
    organisation_id: str | None
    created_at: float


@dataclass(frozen=True)
class EnvironmentItemRecord:
    """A property (``value`` plain), or a secret/credential (``sealed`` holds the ciphertext)."""

    id: str
    environment_id: str
    kind: str
    name: str
    value: str | None
    sealed: bytes | None
    provider: str | None
    expires_at: str | None
    metadata: Any
    created_at: float
