"""``flomation-runner completion SHELL``: a completion script built from the real parsers.

Each command's options come from the parser that parses them, so the script cannot drift from
the command line. The server and the executor print theirs with ``completion SHELL`` too.
"""

from __future__ import annotations

import sys

from flomation.console import SHELLS, Command, completion_script, option_strings, usage_error

__all__ = ["runner_commands", "runner_completion"]


def runner_commands() -> dict[str, Command]:
    """Every ``flomation-runner`` command with its one-line summary and its options."""
    from flomation.commands import validate
    from flomation.commands.runner import COMMANDS
    from flomation.local.cli import dev_parser, local_parser
    from flomation.runner.cli import config_parser

    parsers = {
        "run": config_parser("run"),
        "print-config": config_parser("print-config"),
        "local": local_parser(),
        "dev": dev_parser(),
        "validate": validate.parser(),
    }
    commands = {
        name: Command(entry.summary, option_strings(parsers[name]))
        for name, entry in COMMANDS.items()
        if name in parsers
    }
    commands["completion"] = Command(COMMANDS["completion"].summary, (), SHELLS)
    return commands


def runner_completion(argv: list[str]) -> int:
    """Print the completion script for the shell named in ``argv``."""
    if len(argv) != 1 or argv[0] not in SHELLS:
        return usage_error(
            "flomation-runner completion",
            "name one shell: bash, zsh or fish",
            "Example: source <(flomation-runner completion bash)",
        )
    commands = runner_commands()
    top = Command("", ("--help", "--version", *commands["run"].options))
    sys.stdout.write(completion_script(argv[0], "flomation-runner", commands, top))
    return 0
