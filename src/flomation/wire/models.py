"""Typed models of the runner protocol's JSON bodies (docs/protocol.md §4).

Inbound models ignore unknown fields (clients MUST ignore them); the server builds outbound
bodies from these models too, so both sides agree on one shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "COMPLETION_STATUSES",
    "EXECUTION_STATUSES",
    "LOG_BATCH_KEY_HEADER",
    "TERMINAL_COMPLETIONS",
    "ClaimRequest",
    "Execution",
    "Flo",
    "LogsRequest",
    "PendingExecution",
    "RegistrationRequest",
    "ResultRequest",
    "RunnerInfo",
    "StateRequest",
    "StatusResponse",
    "encode_logs_body",
]

# The idempotency key of a /logs batch: a retried batch is stored once by a server that knows the
# header, and other servers ignore it (docs/protocol.md §11).
LOG_BATCH_KEY_HEADER = "X-Flomation-Log-Batch"

EXECUTION_STATUSES = ("created", "allocated", "running", "executed", "suspended")
COMPLETION_STATUSES = ("pending", "success", "fail", "cancel", "timeout", "suspended")
TERMINAL_COMPLETIONS = frozenset({"success", "fail", "cancel", "timeout"})

if TYPE_CHECKING:
    from flomation.wire.jsontext import JsonValue
else:
    # At run time the models keep a JSON member as it was parsed: validating a flow document
    # node by node would cost every claim time and accept nothing json.loads did not.
    JsonValue = Any

ExecutionStatus = Literal["created", "allocated", "running", "executed", "suspended"]
CompletionStatus = Literal["pending", "success", "fail", "cancel", "timeout", "suspended"]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RegistrationRequest(_Lenient):
    """``POST /api/v1/runner``; the Go runner also sends id, enrolled_at and similar fields."""

    identifier: str = Field(min_length=1, max_length=128)
    name: str | None = None
    registration_code: str | None = None
    version: str | None = None
    executor_version: str | None = None
    manifest: JsonValue = None
    public_key: str | None = None
    id: str | None = None
    enrolled_at: datetime | None = None
    last_contact_at: datetime | None = None
    ip_address: str | None = None


class RunnerInfo(BaseModel):
    """The Runner JSON answered to a new registration (200)."""

    id: str
    identifier: str
    name: str
    registration_code: str | None = None
    enrolled_at: datetime
    last_contact_at: datetime | None = None
    ip_address: str | None = None
    state: Literal["active", "suspended", "terminated"]
    active: bool
    version: str | None = None
    executor_version: str | None = None
    manifest: JsonValue = None
    public_key: str | None = None
    verified: bool


class ClaimRequest(_Lenient):
    """Long-poll body; never interpreted, it only makes each signed body unique."""

    requested_at: str


class Flo(_Lenient):
    """The ``flo`` member of a PendingExecution (fields the runner reads are typed)."""

    id: str
    name: str = ""
    organisation_id: str | None = None
    author_id: str | None = None
    environment_id: str | None = None
    environment_name: str | None = None
    queue_id: str | None = None
    system_prompt: str | None = None
    system_flow: bool = False


class Execution(_Lenient):
    """The ``execution`` member of a PendingExecution."""

    id: str
    flo_id: str
    name: str = ""
    owner_id: str = ""
    organisation_id: str | None = None
    sequence: int = 0
    data: JsonValue = None
    trigger_type: str | None = None
    author_email: str | None = None
    triggerer_email: str | None = None
    entry_node_id: str | None = None
    checkpoint: JsonValue = None
    suspend_count: int = 0


class PendingExecution(_Lenient):
    """``200`` body of the claim: the flow, the execution, the flow graph and a checkpoint."""

    flo: Flo
    execution: Execution
    data: JsonValue = None
    checkpoint: JsonValue = None


class StateRequest(BaseModel):
    """``POST /execution/{id}/state``; runners only ever send ``running``."""

    model_config = ConfigDict(extra="forbid")
    state: str


class LogsRequest(BaseModel):
    """``POST /execution/{id}/logs``."""

    model_config = ConfigDict(extra="forbid")
    lines: list[str]


def encode_logs_body(lines: Sequence[str]) -> bytes:
    """The compact JSON ``{"lines": [...]}`` body, byte for byte what ``json.dumps`` makes.

    orjson encodes a batch of lines ~30x faster than the standard library (JSON encoding was
    the largest runner cost when forwarding logs, py-spy); it is used only here, where the
    document is strings alone (it refuses integers beyond 64 bits, which flow documents may
    hold).
    """
    return orjson.dumps({"lines": list(lines)})


class StatusResponse(_Lenient):
    """``GET /execution/{id}/status``."""

    execution_status: str
    completion_status: str


class ResultRequest(_Lenient):
    """``POST /execution/{id}``: the final (or suspended) result."""

    has_errored: bool
    cancelled: bool = False
    suspended: bool = False
    state: JsonValue = None
