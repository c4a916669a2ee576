"""``flomation-runner``: the agent (``run``, the default) and the commands around it.

The agent itself lives in ``flomation.runner`` and never imports the server; ``local`` and ``dev``
embed the server, so every command is imported only when it is the one asked for. Without a
command (no arguments, or options first) the agent runs, as the upstream Go runner does.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flomation.console import closest, usage_error, version_line

__all__ = ["COMMANDS", "main"]

PROGRAM = "flomation-runner"


@dataclass(frozen=True)
class _Entry:
    """Where a command lives (imported on use) and its line in ``--help``."""

    module: str
    function: str
    summary: str

    def load(self) -> Callable[[list[str]], int]:
        function: Callable[[list[str]], int] = getattr(
            importlib.import_module(self.module), self.function
        )
        return function


COMMANDS: dict[str, _Entry] = {
    "run": _Entry(
        "flomation.runner.cli",
        "run_command",
        "run the agent: register, claim executions, run them (the default)",
    ),
    "print-config": _Entry(
        "flomation.runner.cli",
        "print_config_command",
        "print the effective configuration, secrets redacted (--format json: a config.json)",
    ),
    "local": _Entry("flomation.local.cli", "local_command", "run one flow file on this machine"),
    "dev": _Entry(
        "flomation.local.cli", "dev_command", "keep a local server and runner up for trying flows"
    ),
    "validate": _Entry(
        "flomation.commands.validate", "main", "check flow files for mistakes before running them"
    ),
    "completion": _Entry(
        "flomation.commands.completion",
        "runner_completion",
        "print a shell completion script: completion bash|zsh|fish",
    ),
}


def help_text() -> str:
    """The top-level ``--help``: every command with one line."""
    width = max(map(len, COMMANDS)) + 2
    lines = [
        f"usage: {PROGRAM} [COMMAND] [OPTIONS]",
        "",
        "Flomation runner agent, a drop-in replacement for the upstream Go runner.",
        "",
        "commands:",
        *(f"  {name:<{width}}{entry.summary}" for name, entry in COMMANDS.items()),
        "",
        f"Without a command, options go to 'run' ({PROGRAM} --api-url URL ... works as upstream).",
        f"'{PROGRAM} COMMAND --help' lists a command's options; --version prints the version.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flomation-runner`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    first = arguments[0] if arguments else None
    if first in ("--version", "-V"):
        sys.stdout.write(version_line(PROGRAM))
        return 0
    if first in ("-h", "--help", "help"):
        sys.stdout.write(help_text())
        return 0
    if first is None or first.startswith("-") or first in ("run", "print-config"):
        from flomation.runner import import_structlog_without_rich

        import_structlog_without_rich()
    if first is None or first.startswith("-"):
        return COMMANDS["run"].load()(arguments)
    entry = COMMANDS.get(first)
    if entry is None:
        guess = closest(first, list(COMMANDS))
        message = f"unknown command '{first}'" + (f" (did you mean '{guess}'?)" if guess else "")
        return usage_error(PROGRAM, message, f"Run '{PROGRAM} --help' for the commands.")
    return entry.load()(arguments[1:])
