"""Checkpoints of suspended executions (docs/flows.md §4.12, §7.5): rendering and loading.

A checkpoint is written inside ``state.json`` when a run suspends; ``--checkpoint FILE`` restores
it (a whole ``state.json`` is accepted too: its ``checkpoint`` member is used).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flomation.executor.events import NodeRecord, records_json
from flomation.executor.gojson import RawJSON, go_json_fields

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "SuspendInfo",
    "format_resume_at",
    "load_checkpoint",
    "parse_checkpoint",
    "parse_rfc3339",
]


class CheckpointError(Exception):
    """The checkpoint file cannot be read or is not a checkpoint."""


def format_resume_at(moment: datetime) -> str:
    """RFC 3339 in UTC; fractional seconds only when non-zero, trailing zeros removed."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or an offset, optional fraction); ValueError if not."""
    stripped = text.strip()
    if len(stripped) < 20 or stripped[10] not in "Tt":
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    normalised = stripped[:-1] + "+00:00" if stripped[-1] in "Zz" else stripped
    head, dot, rest = normalised.partition(".")
    if dot:
        # Python accepts at most 6 fractional digits; RFC 3339 allows any number.
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[:digits][:6].ljust(6, "0") + rest[digits:] if digits else rest
        normalised = f"{head}.{rest}"
    moment = datetime.fromisoformat(normalised)
    if moment.tzinfo is None:
        raise ValueError(f"RFC 3339 time without a zone: {text!r}")
    return moment


@dataclass(slots=True)
class SuspendInfo:
    """Why and until when an execution is suspended."""

    suspend_node_id: str
    suspend_reason: str
    resume_at: datetime | None = None
    resume_trigger_type: str = ""
    resume_trigger_match: Any = None

    def to_json(self) -> RawJSON:
        """Go-JSON with the field order of §7.5."""
        fields: list[tuple[str, Any]] = [
            ("suspend_node_id", self.suspend_node_id),
            ("suspend_reason", self.suspend_reason),
        ]
        if self.resume_at is not None:
            fields.append(("resume_at", format_resume_at(self.resume_at)))
        if self.resume_trigger_type:
            fields.append(("resume_trigger_type", self.resume_trigger_type))
        if self.resume_trigger_match not in (None, "", {}, []):
            fields.append(("resume_trigger_match", self.resume_trigger_match))
        return RawJSON(go_json_fields(fields))

    def as_mapping(self) -> dict[str, Any]:
        """The info as plain JSON values (what an action sees when it is resumed)."""
        return json.loads(self.to_json().text)  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SuspendInfo:
        """Parse the ``suspend_info`` member; CheckpointError on a bad ``resume_at``."""
        resume_at = raw.get("resume_at")
        moment: datetime | None = None
        if isinstance(resume_at, str) and resume_at:
            try:
                moment = parse_rfc3339(resume_at)
            except ValueError as error:
                raise CheckpointError(f"suspend_info.resume_at: {error}") from error
        return cls(
            suspend_node_id=_text(raw.get("suspend_node_id")),
            suspend_reason=_text(raw.get("suspend_reason")),
            resume_at=moment,
            resume_trigger_type=_text(raw.get("resume_trigger_type")),
            resume_trigger_match=raw.get("resume_trigger_match"),
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(slots=True)
class Checkpoint:
    """Everything needed to resume an execution where it was suspended."""

    node_results: dict[str, dict[str, Any]]
    entry_node_id: str
    variables: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    node_execution_results: dict[str, NodeRecord] = field(default_factory=dict)
    reachable_nodes: set[str] = field(default_factory=set)
    in_error_chain: bool = False
    had_error: bool = False
    suspend_info: SuspendInfo | None = None
    resume_data: Any = None

    def to_json(self) -> RawJSON:
        """Go-JSON with the field order of §7.5 (empty optional members omitted)."""
        fields: list[tuple[str, Any]] = [("node_results", self.node_results)]
        if self.variables:
            fields.append(("variables", self.variables))
        if self.outputs:
            fields.append(("outputs", self.outputs))
        if self.node_execution_results:
            fields.append(("node_execution_results", records_json(self.node_execution_results)))
        fields.append(("entry_node_id", self.entry_node_id))
        if self.reachable_nodes:
            fields.append(("reachable_nodes", dict.fromkeys(sorted(self.reachable_nodes), True)))
        fields.append(("in_error_chain", self.in_error_chain))
        fields.append(("had_error", self.had_error))
        if self.suspend_info is not None:
            fields.append(("suspend_info", self.suspend_info.to_json()))
        if self.resume_data is not None:
            fields.append(("resume_data", self.resume_data))
        return RawJSON(go_json_fields(fields))


def _object(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CheckpointError(f"checkpoint field {key!r} must be an object")
    return value


def parse_checkpoint(document: Any) -> Checkpoint:
    """A checkpoint from decoded JSON (a checkpoint object or a whole state.json)."""
    if isinstance(document, dict) and isinstance(document.get("checkpoint"), dict):
        document = document["checkpoint"]
    if not isinstance(document, dict) or "node_results" not in document:
        raise CheckpointError("not a checkpoint: expected an object with node_results")
    node_results = _object(document, "node_results")
    if not all(isinstance(outputs, dict) for outputs in node_results.values()):
        raise CheckpointError("checkpoint node_results values must be objects")
    records = {
        node_id: NodeRecord.from_json(node_id, raw)
        for node_id, raw in _object(document, "node_execution_results").items()
        if isinstance(raw, dict)
    }
    suspend = document.get("suspend_info")
    return Checkpoint(
        node_results=node_results,
        entry_node_id=_text(document.get("entry_node_id")),
        variables=_object(document, "variables"),
        outputs=_object(document, "outputs"),
        node_execution_results=records,
        reachable_nodes={
            node_id for node_id, flag in _object(document, "reachable_nodes").items() if flag
        },
        in_error_chain=document.get("in_error_chain") is True,
        had_error=document.get("had_error") is True,
        suspend_info=SuspendInfo.from_json(suspend) if isinstance(suspend, dict) else None,
        resume_data=document.get("resume_data"),
    )


def load_checkpoint(path: Path) -> Checkpoint:
    """Read and parse a checkpoint file; CheckpointError says what is wrong."""
    try:
        document = json.loads(path.read_bytes())
    except OSError as error:
        raise CheckpointError(f"unable to read {path}: {error.strerror or error}") from error
    except ValueError as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from error
    return parse_checkpoint(document)
