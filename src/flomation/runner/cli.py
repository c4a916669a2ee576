"""The runner agent's commands ``run`` and ``print-config`` (dispatched by flomation.commands).

* ``run``: load the configuration and identity, then run the agent until drained. SIGTERM and
  SIGINT drain; a second signal stops running executions at once. Exit code 0 after a drain,
  2 for configuration, identity or registration-code errors (one line on stderr), and with
  ``--once`` the outcome of the execution (0 success, 1 otherwise).
* ``print-config``: print the effective configuration as JSON, secrets redacted.

Output never depends on a reader: stdout and stderr survive a closed pipe
(:func:`flomation.console.survive_closed_output`), so a supervisor whose log pipe has gone can
still stop the agent with a signal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from flomation.console import ArgumentParser, survive_closed_output
from flomation.runner.agent import EXIT_CONFIG, Agent
from flomation.runner.config import (
    ConfigError,
    RunnerConfig,
    add_config_arguments,
    config_file_view,
    load_config,
    normalise_go_flags,
    redacted,
    secret_values,
)
from flomation.runner.identity import IdentityError, load_or_create_identifier, load_or_create_key
from flomation.runner.logging import StartupLog, configure_logging
from flomation.wire.masking import SecretMasker

__all__ = ["config_parser", "print_config_command", "run_command"]

_LOGGER = "flomation.runner"
_PRINT_FORMATS = ("effective", "json")


def config_parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``run`` and ``print-config``: every configuration option as a flag."""
    parser = ArgumentParser(
        prog=f"flomation-runner {command}",
        description="Flomation runner agent (drop-in replacement for the upstream Go runner).",
    )
    if command == "print-config":
        parser.add_argument(
            "--format",
            choices=_PRINT_FORMATS,
            default="effective",
            help="effective: every setting under its internal name, derived paths included; "
            "json: a config.json this runner accepts (upstream sections and keys)",
        )
    add_config_arguments(parser)
    return parser


def _load(command: str, argv: list[str]) -> tuple[RunnerConfig, argparse.Namespace]:
    """The configuration, with the loader's log lines shown at the configured level.

    The loader's lines are buffered until the configuration is known, then replayed through the
    configured logging (on stderr: stdout carries nothing but a command's own output). When the
    configuration is invalid they are shown at info level before the error.
    """
    survive_closed_output()
    args = config_parser(command).parse_args(normalise_go_flags(argv))
    startup = StartupLog()
    startup.capture()
    try:
        config = load_config(args, os.environ, Path.cwd())
    except ConfigError:
        configure_logging(level="info", stream=sys.stderr)
        startup.replay(_LOGGER)
        raise
    # From here on every log line of the runner is masked like the executor's output.
    configure_logging(
        level=config.log_level,
        log_format=config.log_format,
        stream=sys.stderr,
        masker=SecretMasker(secret_values(config, os.environ)),
    )
    startup.replay(_LOGGER)
    return config, args


def _fail(message: str) -> int:
    print(f"flomation-runner: {message}", file=sys.stderr)
    return EXIT_CONFIG


def print_config_command(argv: list[str]) -> int:
    """Print the configuration (registration code redacted) in the chosen ``--format``."""
    try:
        config, args = _load("print-config", argv)
    except ConfigError as exc:
        return _fail(str(exc))
    shown = config_file_view(config) if args.format == "json" else redacted(config)
    print(json.dumps(shown, indent=2, sort_keys=True))
    return 0


def run_command(argv: list[str]) -> int:
    """Run the agent until it is drained; the process exit code."""
    try:
        config, _ = _load("run", argv)
    except ConfigError as exc:
        return _fail(str(exc))
    try:
        identifier = load_or_create_identifier(config.state_file, config.go_state_file)
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
