"""The collaborators every handler needs, created once per app and passed in explicitly."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flomation.server.auth import RequestVerifier
from flomation.server.config import ServerSettings
from flomation.server.crypto_box import SecretBox
from flomation.server.dispatch import Dispatcher
from flomation.server.events import ExecutionEvents
from flomation.server.metrics import ServerMetrics
from flomation.server.store import Store

__all__ = ["Services"]


@dataclass
class Services:
    """Settings, storage, wake-ups, live events, signature checks, secrets and metrics."""

    settings: ServerSettings
    store: Store
    admin_token: str
    secret_box: SecretBox
    clock: Callable[[], float] = time.time
    dispatcher: Dispatcher = field(default_factory=Dispatcher)
    events: ExecutionEvents = field(default_factory=ExecutionEvents)
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    verifier: RequestVerifier = field(init=False)

    def __post_init__(self) -> None:
        self.verifier = RequestVerifier(
            self.store,
            self.clock,
            require_v2=self.settings.require_v2,
            window_s=self.settings.signature_window_s,
        )

    def begin_shutdown(self) -> None:
        """Release held long-polls and end live streams now."""
        self.dispatcher.close()
        self.events.close()
