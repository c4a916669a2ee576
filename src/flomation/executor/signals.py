"""SIGTERM / SIGINT handling (docs/flows.md §9.1).

The first signal sets the cancel event (checked before every node and watched by long-running
actions) and logs ``Received signal, cancelling execution``; later signals are ignored and the
process never exits because of a signal. Handlers are installed before anything else runs so a
signal can never produce a traceback.
"""

from __future__ import annotations

import _thread
import signal
import threading
from types import FrameType

# typing is not imported at run time: this module is on the --version start-up path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from flomation.executor.events import Logger

__all__ = ["CancelSignals"]

_SIGNAL_NAMES = {signal.SIGTERM: "terminated", signal.SIGINT: "interrupt"}


class CancelSignals:
    """Turns the first SIGTERM/SIGINT into a set cancel event and one warning line."""

    def __init__(self) -> None:
        self.cancel_event = threading.Event()
        self._logger: Logger | None = None
        self._received: str | None = None
        self._logged = False
        self._log_lock = threading.Lock()

    def install(self) -> None:
        """Install the handlers (main thread only)."""
        for signum in _SIGNAL_NAMES:
            signal.signal(signum, self._handle)

    def attach_logger(self, logger: Logger) -> None:
        """Log through ``logger`` from now on (and log a signal that arrived before)."""
        self._logger = logger
        self._log_once()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._received is not None:
            return
        self._received = _SIGNAL_NAMES.get(signal.Signals(signum), str(signum))
        # The handler may interrupt the engine itself (a warm executor's child runs it on the
        # main thread, executor/deep_stack.py), perhaps while it holds the cancel event's lock
        # or writes a log line: the event is set, and the line written, from a thread of their
        # own, which waits for such a lock instead of deadlocking on it.
        try:
            _thread.start_new_thread(self._deliver, ())
        except RuntimeError:  # no thread to be had: the old way, on this thread
            self._deliver()

    def _deliver(self) -> None:
        # The line first: once the event is set the run may end, and the process with it,
        # before this thread would get to write it.
        self._log_once()
        self.cancel_event.set()

    def _log_once(self) -> None:
        with self._log_lock:
            if self._logger is None or self._received is None or self._logged:
                return
            self._logged = True
        self._logger.log("warning", "Received signal, cancelling execution", signal=self._received)
