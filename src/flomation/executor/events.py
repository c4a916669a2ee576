"""What the executor writes (docs/flows.md §7): log lines, node events, node records, state.json.

Everything goes through ``os.write`` on the raw file descriptors: each line is one unbuffered
write (so stdout is "flushed" after every line and a signal handler can log without re-entering
a buffered stream), and a closed pipe on the other end is ignored.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flomation.executor.gojson import RawJSON, go_json, go_json_fields, go_json_string

if TYPE_CHECKING:  # imported on first use: most runs have no secret to mask
    from flomation.wire.masking import SecretMasker

__all__ = [
    "EVENT_PREFIX",
    "MASK",
    "EventSink",
    "Logger",
    "NodeRecord",
    "mask_secret_values",
    "masked_inputs",
    "records_json",
    "render_state",
    "truncate_strings",
    "write_state",
]

EVENT_PREFIX = "__NODE__:"
MASK = "********"
_MAX_EVENT_STRING_BYTES = 4096
# The runner's line reader accepts lines up to 1 MB (§1); stay well below it.
_MAX_LINE_BYTES = 1_000_000 - 1024
_LEVELS = {"debug": 0, "info": 1, "warning": 2, "error": 3, "fatal": 4}
_SECRET_MARKERS = ("${secret.", "${secrets.")


def _write_all(fd: int, data: bytes) -> bool:
    """Write every byte to ``fd``; False when the reader has gone (broken pipe and the like)."""
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError:
        return False
    return True


def _local_time(epoch_s: int) -> str:
    """RFC 3339 local time with seconds; ``Z`` for UTC like Go's formatter."""
    text = datetime.fromtimestamp(epoch_s).astimezone().isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _log_value(value: Any) -> Any:
    return str(value) if isinstance(value, BaseException) else value


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else go_json(value)
    needs_quotes = not text or any(c in text for c in ' ="\\\n\t')
    return go_json_string(text) if needs_quotes else text


class Logger:
    """Structured log lines on stderr: Go-JSON objects with sorted keys, or logrus-style text."""

    def __init__(self, *, json_format: bool, level: str = "info", fd: int = 2) -> None:
        self._json = json_format
        self._threshold = _LEVELS[level]
        self._fd = fd
        # The time text changes once a second; busy flows log thousands of lines a second.
        self._time_second = -1
        self._time_text = ""

    def _now(self) -> str:
        second = int(time.time())
        if second != self._time_second:
            self._time_second = second
            self._time_text = _local_time(second)
        return self._time_text

    def set_level(self, level: str) -> None:
        """Change the minimum level written (``debug`` or ``info``)."""
        self._threshold = _LEVELS[level]

    def enabled(self, level: str) -> bool:
        """True when a line at ``level`` would be written."""
        return _LEVELS[level] >= self._threshold

    def log(self, level: str, message: str, **fields: Any) -> None:
        """Write one line at ``level`` (debug, info, warning, error, fatal)."""
        if _LEVELS[level] < self._threshold:
            return
        values = {key: _log_value(value) for key, value in fields.items()}
        data = self._render(level, message, values)
        if len(data) > _MAX_LINE_BYTES:
            data = self._render(level, message, truncate_strings(values))
        _write_all(self._fd, data)

    def _render(self, level: str, message: str, values: dict[str, Any]) -> bytes:
        now = self._now()
        if self._json:
            entry = dict(values)
            entry.update(level=level, msg=message, time=now)
            line = go_json(entry)
        else:
            pairs = "".join(f" {key}={_text_value(value)}" for key, value in sorted(values.items()))
            line = f"time={go_json_string(now)} level={level} msg={go_json_string(message)}{pairs}"
        return (line + "\n").encode("utf-8", "surrogatepass")


def truncate_strings(value: Any) -> Any:
    """Strings longer than 4096 UTF-8 bytes, at any depth, cut with a ``… [truncated]`` note."""
    if isinstance(value, str):
        # Fewer than 1025 characters cannot exceed 4096 UTF-8 bytes: skip the encoding.
        if len(value) <= _MAX_EVENT_STRING_BYTES // 4:
            return value
        encoded = value.encode("utf-8", "surrogatepass")
        if len(encoded) <= _MAX_EVENT_STRING_BYTES:
            return value
        prefix = encoded[:_MAX_EVENT_STRING_BYTES].decode("utf-8", "ignore")
        return f"{prefix}… [truncated, {len(encoded)} bytes total]"
    if isinstance(value, dict):
        return {key: truncate_strings(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [truncate_strings(item) for item in value]
    return value


def masked_inputs(
    configured: Mapping[str, Any],
    resolved: Mapping[str, Any],
    secret_names: Collection[str] = (),
) -> dict[str, Any]:
    """Resolved inputs by name, with ``********`` where the configured value names a secret.

    Inputs the action declares secret (``Connection.secret``: passwords, API keys) are masked
    whatever their configured value, unless empty.
    """
    shown: dict[str, Any] = {}
    for name, value in resolved.items():
        raw = configured.get(name)
        text = raw if isinstance(raw, str) else go_json(raw) if isinstance(raw, dict | list) else ""
        declared = name in secret_names and value not in (None, "")
        masked = declared or any(marker in text for marker in _SECRET_MARKERS)
        shown[name] = MASK if masked else value
    return shown


def mask_secret_values(value: Any, secrets: Collection[str]) -> Any:
    """``value`` with every occurrence of each secret, in strings at any depth, as ``********``.

    ``secrets`` are the values of a node's masked inputs (see ``masked_inputs``), in any order.
    Their base64, URL-encoded and JSON-escaped forms are masked too, and overlapping
    occurrences are masked whole, longest first (wire/masking.py).
    """
    if not secrets:
        return value
    # Sorted: one masker per set of secrets, whatever order the caller holds them in.
    return _masker(tuple(sorted(secrets))).mask_value(value)


@functools.lru_cache(maxsize=16)
def _masker(secrets: tuple[str, ...]) -> SecretMasker:
    """The project's one masker (wire/masking.py: encoded forms too) for a node's secrets."""
    from flomation.wire.masking import SecretMasker

    return SecretMasker(secrets, replacement=MASK)


@dataclass(slots=True)
class NodeRecord:
    """The last status of a node (``state.json.node_results[id]``)."""

    id: str
    action: str
    label: str
    status: str
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    error: str
    duration_ms: int

    def to_json(self) -> str:
        """Go-JSON with the fixed field order of §7.4; empty inputs/outputs/error omitted."""
        fields: list[tuple[str, Any]] = [
            ("id", self.id),
            ("action", self.action),
            ("label", self.label),
            ("status", self.status),
        ]
        if self.inputs:
            fields.append(("inputs", self.inputs))
        if self.outputs:
            fields.append(("outputs", self.outputs))
        if self.error:
            fields.append(("error", self.error))
        fields.append(("duration_ms", self.duration_ms))
        return go_json_fields(fields)

    @classmethod
    def from_json(cls, node_id: str, raw: Mapping[str, Any]) -> NodeRecord:
        """A record restored from a checkpoint's ``node_execution_results``."""

        def text(key: str) -> str:
            value = raw.get(key)
            return value if isinstance(value, str) else ""

        inputs, outputs = raw.get("inputs"), raw.get("outputs")
        duration = raw.get("duration_ms")
        return cls(
            id=text("id") or node_id,
            action=text("action"),
            label=text("label"),
            status=text("status"),
            inputs=inputs if isinstance(inputs, dict) else None,
            outputs=outputs if isinstance(outputs, dict) else None,
            error=text("error"),
            duration_ms=int(duration) if isinstance(duration, int | float) else 0,
        )


def records_json(records: Mapping[str, NodeRecord]) -> RawJSON:
    """The node-id-sorted object of records, each in its fixed field order."""
    body = ",".join(
        f"{go_json_string(node_id)}:{records[node_id].to_json()}" for node_id in sorted(records)
    )
    return RawJSON("{" + body + "}")


class EventSink:
    """``__NODE__:`` lines on stdout (§7.2), one unbuffered write per line."""

    def __init__(self, fd: int = 1) -> None:
        self._fd = fd
        self._open = True

    def emit(
        self,
        node_id: str,
        action: str,
        label: str,
        status: str,
        *,
        duration_ms: int = 0,
        error: str = "",
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Any] | None = None,
    ) -> None:
        """Write one node event with the fixed field order; strings are truncated (§7.3)."""
        if not self._open:
            return
        # The fixed head is spelled out: this runs several times per node, every iteration.
        head = (
            f'{EVENT_PREFIX}{{"id":{go_json_string(node_id)},"action":{go_json_string(action)}'
            f',"label":{go_json_string(label)},"status":{go_json_string(status)}'
        )
        if duration_ms > 0:
            head += f',"duration_ms":{duration_ms}'
        tail: list[tuple[str, Any]] = []
        if inputs:
            tail.append(("inputs", truncate_strings(inputs)))
        if outputs:
            tail.append(("outputs", truncate_strings(outputs)))
        error_part = f',"error":{go_json_string(error)}' if error else ""
        rest = "," + go_json_fields(tail)[1:] if tail else "}"
        data = f"{head}{error_part}{rest}\n".encode("utf-8", "surrogatepass")
        if len(data) > _MAX_LINE_BYTES:
            # Too many (already truncated) strings for one line: the event keeps its identity
            # and a truncated error; the full inputs/outputs are still in state.json.
            short_error = truncate_strings(error)
            error_part = f',"error":{go_json_string(short_error)}' if error else ""
            data = f"{head}{error_part}}}\n".encode("utf-8", "surrogatepass")
        self._open = _write_all(self._fd, data)


def render_state(
    *,
    execution_id: str,
    flow_id: str,
    status: int,
    duration_ms: int,
    outputs: Mapping[str, Any] | None,
    records: Mapping[str, NodeRecord],
    checkpoint: RawJSON | None,
) -> str:
    """The text of ``state.json`` (§7.4): fixed field order, no trailing newline."""
    fields: list[tuple[str, Any]] = [
        ("id", execution_id),
        ("flow_id", flow_id),
        ("status", status),
        ("duration", duration_ms),
        ("billing_duration", duration_ms),
        ("outputs", outputs),
    ]
    if records:
        fields.append(("node_results", records_json(records)))
    if checkpoint is not None:
        fields.append(("checkpoint", checkpoint))
    return go_json_fields(fields)


def write_state(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (OSError on failure)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        data = text.encode("utf-8", "surrogatepass")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
