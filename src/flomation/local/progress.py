"""Printing node events as a flow runs: a live view on a terminal, plain lines otherwise."""

from __future__ import annotations

import json
from typing import IO, Any

__all__ = ["NodeProgress"]

_SYMBOLS = {"success": "✔", "failed": "✖", "cancelled": "■", "suspended": "⏸", "running": "▶"}


class NodeProgress:
    """Renders ``__NODE__`` events. On a terminal a running node's line is replaced in place."""

    def __init__(self, stream: IO[str], *, live: bool) -> None:
        self._stream = stream
        self._live = live
        self._pending_running = False
        self.failures: list[dict[str, Any]] = []

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
            self._write(_plain(event, status))

    def _live_line(self, event: dict[str, Any], status: str) -> None:
        text = f"{_SYMBOLS.get(status, '?')} {_describe(event, status)}"
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

    def message(self, text: str) -> None:
        """A line that is not a node event (status changes, notes)."""
        self._write(text)


def _describe(event: dict[str, Any], status: str) -> str:
    parts = [str(event.get("id", "?")), f"({event.get('action', '?')})", status]
    if isinstance(event.get("duration_ms"), int):
        parts.append(f"{event['duration_ms']} ms")
    if event.get("error"):
        parts.append(f"— {event['error']}")
    return " ".join(parts)


def _plain(event: dict[str, Any], status: str) -> str:
    return "node " + _describe(event, status)
