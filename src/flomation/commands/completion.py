"""``flomation-runner completion SHELL``: a completion script built from the real parsers.

Each command's options come from the parser that parses them, so the script cannot drift from
the command line. The server and the executor print theirs with ``completion SHELL`` too.
"""

from __future__ import annotations

from flomation.console import SHELLS, Command, option_strings, print_completion

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

    def words() -> tuple[dict[str, Command], Command]:
        commands = runner_commands()
        return commands, Command("", ("--help", "--version", *commands["run"].options))

    return print_completion(argv, "flomation-runner", words)
