"""``flomation-runner``: the command line of the runner agent.

Commands (the first word; ``run`` when absent):

* ``run``: load the configuration and identity, then run the agent until drained. SIGTERM and
  SIGINT drain; a second signal stops running executions at once. Exit code 0 after a drain,
  2 for configuration, identity or registration-code errors (one line on stderr), and with
  ``--once`` the outcome of the execution (0 success, 1 otherwise).
* ``print-config``: print the effective configuration as JSON, secrets redacted.

XX
to a function taking the remaining arguments and returning the exit code).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from flomation.runner.agent import EXIT_CONFIG, Agent
from flomation.runner.config import (
    ConfigError,
    RunnerConfig,
    add_config_arguments,
    load_config,
    normalise_go_flags,
    redacted,
    secret_values,
)
from flomation.runner.identity import IdentityError, load_or_create_identifier, load_or_create_key
from flomation.runner.logging import configure_logging
from flomation.runner.masking import SecretMasker

__all__ = ["COMMANDS", "main", "print_config_command", "run_command"]

Command = Callable[[list[str]], int]


def _load(command: str, argv: list[str]) -> RunnerConfig:
    parser = argparse.ArgumentParser(
        prog=f"flomation-runner {command}",
        description="Flomation runner agent (drop-in replacement for the upstream Go runner).",
    )
    add_config_arguments(parser)
    args = parser.parse_args(normalise_go_flags(argv))
    # Until the configuration says otherwise, log lines go to stderr at info level, so that
    # stdout carries nothing but a command's own output (print-config's JSON).
    configure_logging(level="info", stream=sys.stderr)
    return load_config(args, os.environ, Path.cwd())


def _fail(message: str) -> int:
    print(f"flomation-runner: {message}", file=sys.stderr)
    return EXIT_CONFIG


def print_config_command(argv: list[str]) -> int:
    """Print the effective configuration (registration code redacted)."""
    try:
        config = _load("print-config", argv)
    except ConfigError as exc:
        return _fail(str(exc))
    print(json.dumps(redacted(config), indent=2, sort_keys=True))
    return 0


def run_command(argv: list[str]) -> int:
    """Run the agent until it is drained; the process exit code."""
    try:
        config = _load("run", argv)
    except ConfigError as exc:
        return _fail(str(exc))
    # From here on every log line of the runner is masked like the executor's output.
    configure_logging(
        level=config.log_level,
        log_format=config.log_format,
        masker=SecretMasker(secret_values(config, os.environ)),
    )
    try:
        identifier = load_or_create_identifier(config.state_file)
        key = load_or_create_key(config.certificate)
    except IdentityError as exc:
        return _fail(str(exc))
    agent = Agent(config, identifier=identifier, key=key, environ=os.environ)
    return asyncio.run(_run_with_signals(agent))


async def _run_with_signals(agent: Agent) -> int:
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, agent.request_stop)
    try:
        return await agent.run()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


COMMANDS: Mapping[str, Command] = {
    "run": run_command,
    "print-config": print_config_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flomation-runner`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in COMMANDS:
        return COMMANDS[arguments[0]](arguments[1:])
    if arguments and arguments[0] in ("-h", "--help") and len(arguments) == 1:
        print(
            "usage: flomation-runner [run|print-config] [options]\n"
            "  run            run the agent (default)\n"
            "  print-config   print the effective configuration, secrets redacted\n"
            "Options: flomation-runner run --help"
        )
        return 0
    return run_command(arguments)
