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

from flomation.runner.masking import SecretMasker

__all__ = ["configure_logging"]

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

    ``auto`` chooses the console renderer when ``stream`` is a terminal and JSON lines otherwise.
    With ``masker``, every string of every line (message, fields, exception text) is masked
    before it is rendered.
    """
    out = stream if stream is not None else sys.stderr
    use_console = log_format == "console" or (log_format == "auto" and out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
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
