"""Change notifications per execution for live viewers (SSE); the data itself is re-read from
the database, so a viewer never misses or reorders anything."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["ExecutionEvents"]

# The subscription key of "any execution"; execution ids are UUIDs, never this.
_ANY = "*"


class ExecutionEvents:
    """``publish(id)`` wakes every subscriber of that execution."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Event]] = {}
        self._closing = False
        self._relays: list[Callable[[str], None]] = []

    def add_relay(self, relay: Callable[[str], None]) -> None:
        """Also pass every change published here to ``relay`` (other replicas' viewers)."""
        self._relays.append(relay)

    @property
    def closing(self) -> bool:
        """True once shutdown began."""
        return self._closing

    @contextmanager
    def subscribe(self, execution_id: str) -> Iterator[asyncio.Event]:
        """An event set on every change of the execution (and on shutdown)."""
        changed = asyncio.Event()
        if self._closing:
            changed.set()
        self._subscribers.setdefault(execution_id, set()).add(changed)
        try:
            yield changed
        finally:
            subscribers = self._subscribers.get(execution_id)
            if subscribers is not None:
                subscribers.discard(changed)
                if not subscribers:
                    del self._subscribers[execution_id]

    @contextmanager
    def subscribe_all(self) -> Iterator[asyncio.Event]:
        """An event set on every change of any execution (the dashboard's live list)."""
        with self.subscribe(_ANY) as changed:
            yield changed

    def publish(self, execution_id: str, *, relay: bool = True) -> None:
        """Something about the execution changed (logs or status).

        ``relay`` passes it on to the relays too (False for what other replicas said).
        """
        if relay:
            for send in self._relays:
                send(execution_id)
        for changed in self._subscribers.get(execution_id, ()):
            changed.set()
        for changed in self._subscribers.get(_ANY, ()):
            changed.set()

    def close(self) -> None:
        """Wake every subscriber so streams end (graceful shutdown)."""
        self._closing = True
        for subscribers in self._subscribers.values():
            for changed in subscribers:
                changed.set()
