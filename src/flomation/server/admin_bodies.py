"""Strict request bodies of the admin API (docs/protocol.md §10): unknown fields are errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CredentialPut",
    "EnvironmentCreate",
    "ExecuteRequest",
    "FloCreate",
    "PropertyPut",
    "QueueCreate",
    "ResumeRequest",
    "RevisionCreate",
    "RunnerPatch",
    "SecretPut",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueCreate(_Strict):
    """``POST /api/v1/queue``."""

    name: str = Field(min_length=1, max_length=200)
    organisation_id: str | None = None


class FloCreate(_Strict):
    """``POST /api/v1/flo``; ``data`` is the ReactFlow graph of revision 1."""

    name: str = Field(min_length=1, max_length=500)
    data: dict[str, Any]
    environment_id: str | None = None
    queue_id: str | None = None
    organisation_id: str | None = None
    author_id: str | None = None


class RevisionCreate(_Strict):
    """``POST /api/v1/flo/{id}/revision``."""

    data: dict[str, Any]


class ExecuteRequest(_Strict):
    """``POST /api/v1/flo/{id}/execute`` (the body may be empty)."""

    data: dict[str, Any] | None = None
    entry_node_id: str | None = None


class ResumeRequest(_Strict):
    """``POST /api/v1/execution/{id}/resume`` (the body may be empty)."""

    resume_data: Any = None


class RunnerPatch(_Strict):
    """``PATCH /api/v1/runner/{id}``."""

    active: bool


class EnvironmentCreate(_Strict):
    """``POST /api/v1/environment``."""

    name: str = Field(min_length=1, max_length=200)
    organisation_id: str | None = None


class PropertyPut(_Strict):
    """``PUT /api/v1/environment/{id}/property/{name}``."""

    value: str


class SecretPut(_Strict):
    """``PUT /api/v1/environment/{id}/secret/{name}``."""

    value: str
    provider: str | None = None
    expires_at: str | None = None


class CredentialPut(_Strict):
    """``PUT /api/v1/environment/{id}/credential/{name}``."""

    value: str
    metadata: dict[str, Any] | None = None
