"""Showing a local run as it happens: node events, script output, warnings, failure reasons.

On a terminal a running node's line is replaced in place; otherwise every line is plain. What is
shown is described in docs/flows.md "Running a flow locally".
"""

from __future__ import annotations

import json
from typing import IO, Any

__all__ = ["NodeProgress", "failure_reason"]

_SYMBOLS = {"success": "✔", "failed": "✖", "cancelled": "■", "suspended": "⏸", "running": "▶"}
_EVENT_PREFIX = "__NODE__:"
_BODY_EXCERPT_CHARS = 200
# Executor log lines that only repeat what the node events already show.
_QUIET_MESSAGES = frozenset({"executing node", "Starting Flomation Executor"})
_FIELD_ORDER_SKIPPED = frozenset({"level", "msg", "time"})


def _excerpt(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    if len(text) > _BODY_EXCERPT_CHARS:
        return text[:_BODY_EXCERPT_CHARS] + "…"
    return text


def failure_reason(event: dict[str, Any]) -> str:
    """Why a node failed: its error, else what its outputs say (HTTP status and body, ...)."""
    error = event.get("error")
    if isinstance(error, str) and error:
        return error
    outputs = event.get("outputs")
    if isinstance(outputs, dict):
        status = outputs.get("status_code")
        if isinstance(status, int) and not isinstance(status, bool):
            body = outputs.get("response_body", outputs.get("content", ""))
            return f"HTTP {status}" + (f": {_excerpt(body)}" if body else "")
        for key in ("error", "tool_result", "stderr"):
            if outputs.get(key):
                return _excerpt(outputs[key])
    return "no reason given (success: false)"


class NodeProgress:
    """Renders the executor's output lines of one local run."""

    def __init__(self, stream: IO[str], *, live: bool, verbose: bool = False) -> None:
        self._stream = stream
        self._live = live
        self._verbose = verbose
        self._pending_running = False
        self._resumed: str | None = None
        self.failures: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        """Executor error log lines that carry an ``error`` (the flow's own failure among them)."""
        self.warnings = 0

    # ------------------------------------------------------------------ input

    def output_line(self, stream: str, text: str) -> None:
        """One line the executor printed (``stream`` is ``stdout`` or ``stderr``)."""
        if stream == "stdout" and text.startswith(_EVENT_PREFIX):
            self.node_event(text[len(_EVENT_PREFIX) :])
            return
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("msg"), str):
            self._write(f"executor {stream}: {text}")
            return
        self._log_record(record)

    def _log_record(self, record: dict[str, Any]) -> None:
        message = record["msg"]
        level = str(record.get("level", "info"))
        if message == "script output":
            marker = "!" if record.get("stream") == "stderr" else "|"
            self._write(f"  {record.get('id', '?')} {marker} {record.get('line', '')}")
            return
        fields = " ".join(
            f"{key}={_excerpt(value)}"
            for key, value in record.items()
            if key not in _FIELD_ORDER_SKIPPED
        )
        if level == "error" and isinstance(record.get("error"), str):
            self.errors.append(record)
        if level in ("warning", "warn", "error"):
            self.warnings += level != "error"
            self._write(f"{level}: {message}" + (f" ({fields})" if fields else ""))
        elif self._verbose and message not in _QUIET_MESSAGES:
            self._write(f"{level}: {message}" + (f" ({fields})" if fields else ""))

    def node_event(self, data: str) -> None:
        """Show one node event (the JSON after ``__NODE__:``); malformed data is shown as is."""
        try:
            event = json.loads(data)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            self._write(f"node event (unparsed): {data}")
            return
        status = str(event.get("status", ""))
        if status == "failed":
            self.failures.append(event)
        if self._live:
            self._live_line(event, status)
        else:
            self._write("node " + self._describe(event, status))
        if self._verbose and status in ("success", "failed", "suspended"):
            outputs = event.get("outputs")
            if outputs is not None:
                shown = json.dumps(outputs, ensure_ascii=False, sort_keys=True)
                self._write(f"    outputs: {shown}")
        if status != "running" and event.get("id") == self._resumed:
            self._resumed = None

    def resuming(self, node_id: str | None) -> None:
        """The next run resumes a checkpoint at ``node_id``: its events are marked as resumed."""
        self._resumed = node_id
        where = f" at node {node_id}" if node_id else ""
        self.message(
            f"flow suspended: resuming it{where} (--resume); nodes that already ran keep "
            "their results and are not run again"
        )

    def message(self, text: str) -> None:
        """A line that is not a node event (status changes, notes)."""
        self._write(text)

    # ------------------------------------------------------------------ output

    def _describe(self, event: dict[str, Any], status: str) -> str:
        parts = [str(event.get("id", "?")), f"({event.get('action', '?')})"]
        if event.get("id") == self._resumed:
            parts.append("resumed,")
        parts.append(status)
        if isinstance(event.get("duration_ms"), int):
            parts.append(f"{event['duration_ms']} ms")
        if status == "failed":
            parts.append(f"— {failure_reason(event)}")
        return " ".join(parts)

    def _live_line(self, event: dict[str, Any], status: str) -> None:
        text = f"{_SYMBOLS.get(status, '?')} {self._describe(event, status)}"
        if self._pending_running:
            self._stream.write("\r\x1b[K")
        if status == "running":
            self._stream.write(text)
            self._pending_running = True
        else:
            self._stream.write(text + "\n")
            self._pending_running = False
        self._stream.flush()

    def _write(self, text: str) -> None:
        if self._pending_running:
            self._stream.write("\n")
            self._pending_running = False
        self._stream.write(text + "\n")
        self._stream.flush()
