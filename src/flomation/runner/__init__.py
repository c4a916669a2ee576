"""The Flomation runner agent: configuration, identity, the signed API client and execution.

A drop-in replacement for the upstream Go runner (flomation-co/runner): same configuration
surface, same wire protocol, without the upstream defects listed in docs/protocol.md §6.
"""

import sys

__all__ = ["import_structlog_without_rich"]


def import_structlog_without_rich() -> None:
    """Import structlog as if rich were not installed, unless either is imported already.

    structlog imports rich, when it is installed, for coloured tracebacks: ~3 MiB and ~45 ms of
    CPU of every runner start (docs/benchmarks.md, runner start-up). rich is no dependency of
    this project, only a test tool's in development environments, so the agent's commands call
    this first: plain tracebacks, as in the Docker image, and the same start-up cost wherever
    the runner runs. rich stays importable afterwards.
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # None: "import rich" fails
    try:
        import structlog  # noqa: F401  (imported for its side effect: rich left out)
    finally:
        del sys.modules["rich"]
