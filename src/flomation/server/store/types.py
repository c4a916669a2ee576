"""The store's vocabulary: errors, outcomes and the small inputs its callers build."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flomation.server.records import RunnerRecord

__all__ = [
    "CancelOutcome",
    "ConflictError",
    "DatabaseUrlError",
    "ExecutionFilter",
    "LogBatch",
    "LogBatchError",
    "NewRunner",
    "NotAssignedError",
    "ReapedExecution",
    "RegistrationOutcome",
    "ReplayedNonceError",
    "ResultOutcome",
    "ResumeOutcome",
    "SignatureNonce",
    "StoreNotFoundError",
]


class DatabaseUrlError(ValueError):
    """A ``--database`` URL the server cannot use."""


class ConflictError(Exception):
    """A uniqueness rule was violated (duplicate queue name, environment name...)."""


class StoreNotFoundError(Exception):
    """A referenced row (environment, queue...) does not exist; the message names it."""


@dataclass(frozen=True)
class SignatureNonce:
    """A verified request's nonce (docs/protocol.md §9.3), recorded by the request's write.

    The runner protocol's calls pass it to their store operation, which records it in the same
    statement as its write on PostgreSQL (one round trip and one commit fewer per request) and
    writes nothing when it was seen before. ``refusal`` is the 403's message for that case.
    """

    key_id: str
    nonce: str
    seen_at_s: float
    refusal: str


class ReplayedNonceError(Exception):
    """The request's nonce was seen before: nothing was written; the message is its refusal."""


class NotAssignedError(Exception):
    """The execution is not assigned to the calling runner (any more): its call changed nothing
    of the execution. The request's nonce and the runner's contact time may have been recorded:
    the request was proven to come from that runner."""


class ResultOutcome(Enum):
    """What storing a runner's result did (protocol 8.2)."""

    COMPLETED = "completed"
    SUSPENDED = "suspended"
    RESULT_ADDED = "result_added"
    UNCHANGED = "unchanged"


class CancelOutcome(Enum):
    """What an operator cancel did."""

    CANCELLED = "cancelled"
    NOT_IN_PROGRESS = "not_in_progress"
    NOT_FOUND = "not_found"


class ResumeOutcome(Enum):
    """What an operator resume did."""

    RESUMED = "resumed"
    NOT_SUSPENDED = "not_suspended"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class NewRunner:
    """A registration for an identifier the server does not know yet."""

    identifier: str
    name: str
    registration_code: str
    version: str | None
    executor_version: str | None
    manifest: Any
    public_key: str
    ip_address: str | None


@dataclass(frozen=True)
class RegistrationOutcome:
    """``runner`` is set for a new enrolment; ``known`` for an identifier already enrolled."""

    runner: RunnerRecord | None
    known: bool
    unknown_code: bool


@dataclass(frozen=True)
class ExecutionFilter:
    """Filters of ``GET /api/v1/execution`` (§10.3)."""

    flo_id: str | None = None
    execution_status: str | None = None
    completion_status: str | None = None
    limit: int = 100


@dataclass(frozen=True)
class LogBatch:
    """Lines to append, with the JSON document they were parsed from.

    ``document`` is a JSON object whose only member is ``lines``, the array ``lines`` came from:
    SQLite inserts straight from it instead of from the lines encoded again. ``key`` is the
    runner's idempotency key of the batch (docs/protocol.md §11.3), if any.
    """

    lines: Sequence[str]
    document: str
    key: str | None = None


class LogBatchError(ValueError):
    """The batch's document does not hold exactly its lines (e.g. a duplicated key)."""


@dataclass(frozen=True)
class ReapedExecution:
    """An execution the reaper finished, with the completion it was given and why."""

    execution_id: str
    completion_status: str
    reason: str
