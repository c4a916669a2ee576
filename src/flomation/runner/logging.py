"""The runner's own log output: structlog, JSON lines off a terminal, console on a terminal.

Lines about an execution carry ``execution_id`` and ``flo_id`` because the execution module
binds them on its logger; this module decides the format and the level, and masks secrets in
every line (the same masker as the executor's output and the results, docs/security.md).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

from flomation.console import colour_wanted
from flomation.wire.masking import SecretMasker

__all__ = ["StartupLog", "configure_logging"]

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def configure_logging(
    *,
    level: str = "info",
    log_format: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
    masker: SecretMasker | None = None,
) -> None:
    """Configure structlog for the process (at start-up, from the CLI).

    ``auto`` chooses the console renderer when ``stream`` is a terminal and JSON lines otherwise;
    console lines are coloured only on a terminal and never with ``NO_COLOR`` set. With ``masker``,
    every string of every line (message, fields, exception text) is masked before it is rendered.
    """
    out = stream if stream is not None else sys.stderr
    use_console = log_format == "console" or (log_format == "auto" and out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=colour_wanted(out))
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *([_Masking(masker)] if masker is not None else []),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            _LEVELS.get(level.lower(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


class _Masking:
    """structlog processor: every string of the event dictionary masked."""

    def __init__(self, masker: SecretMasker) -> None:
        self._masker = masker

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        masked: EventDict = self._masker.mask_value(event_dict)
        return masked


class StartupLog:
    """Log lines written while the configuration loads, before its level and format are known.

    :meth:`capture` routes every structlog line into this buffer (nothing is printed);
    :meth:`replay` sends them, in order, through the logging configured afterwards, so a debug
    line of the loader shows when the configured level is ``debug``, and only then.
    """

    def __init__(self) -> None:
        self._events: list[EventDict] = []

    def capture(self) -> None:
        """Buffer every log line from now until logging is configured again."""
        structlog.configure(
            processors=[structlog.processors.add_log_level, self._keep],
            wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
            cache_logger_on_first_use=False,
        )

    def _keep(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        self._events.append(dict(event_dict))
        raise structlog.DropEvent

    def replay(self, name: str) -> None:
        """Log the buffered lines again through the current configuration (and forget them)."""
        log = structlog.get_logger(name)
        for event in self._events:
            fields = dict(event)
            level = str(fields.pop("level", "info"))
            message = fields.pop("event", "")
            log.log(_LEVELS.get(level, logging.INFO), message, **fields)
        self._events.clear()
