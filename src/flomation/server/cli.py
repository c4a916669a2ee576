"""``flomation-server``: the console entry point.

Prints (as a JSON log line on stderr) ``{"event": "server listening", "url": ...}`` once the
socket is bound, so ``--listen 127.0.0.1:0`` can be used by tests. SIGTERM/SIGINT shut down
gracefully (held long-polls answered 204 at once) and exit 0, whether or not anyone still reads
the log (flomation.console.survive_closed_output). ``--version`` and ``completion SHELL`` follow
the conventions of flomation.console; a server that cannot start (port in use, bad database) logs
one line and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog
from sqlalchemy.exc import DBAPIError

from flomation.console import (
    ArgumentParser,
    Command,
    option_strings,
    print_completion,
    survive_closed_output,
    version_line,
)
from flomation.server.config import (
    ENVIRONMENT_VARIABLES,
    ServerSettings,
    SettingsError,
    load_settings,
)
from flomation.server.crypto_box import SecretKeyError
from flomation.server.embedded import running_server
from flomation.server.maintenance import MaintenanceError, backup_sqlite, migrate_database
from flomation.server.store import DatabaseUrlError

__all__ = ["main"]

_log = structlog.get_logger("flomation.server")


def _environment_help() -> str:
    width = max(map(len, ENVIRONMENT_VARIABLES)) + 2
    lines = [f"  {name:<{width}}{field}" for name, field in ENVIRONMENT_VARIABLES.items()]
    return "\n".join(
        [
            "environment variables (flags win over them; they win over --config):",
            *lines,
            "",
            "commands:",
            "  migrate            apply pending schema migrations to --database and exit",
            "  backup PATH        copy a SQLite database online (PostgreSQL: use pg_dump)",
            "  completion SHELL   print a shell completion script (bash, zsh or fish)",
            "",
            "--version prints the version. The admin API's OpenAPI document is served at",
            "GET /api/openapi.json (see docs/admin-api.md).",
        ]
    )


def parser() -> argparse.ArgumentParser:
    """The server's options (also the source of its shell completion)."""
    parser = ArgumentParser(
        prog="flomation-server",
        description="Reference Flomation control plane.",
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--listen", help="HOST:PORT to serve on (default 127.0.0.1:8888)")
    parser.add_argument(
        "--database", help="database URL (default sqlite:///./.flomation/server.db)"
    )
    parser.add_argument("--config", type=Path, help="configuration file (.toml or .json)")
    parser.add_argument("--poll-hold", type=float, dest="poll_hold_s", help="long-poll hold, s")
    parser.add_argument(
        "--runner-lost-after", type=float, dest="runner_lost_after_s", help="seconds"
    )
    parser.add_argument(
        "--execution-timeout", type=float, dest="execution_timeout_s", help="seconds"
    )
    parser.add_argument("--reaper-interval", type=float, dest="reaper_interval_s", help="seconds")
    parser.add_argument(
        "--claim-lease",
        type=float,
        dest="claim_lease_s",
        help="seconds a claimed execution waits for its runner's confirmation (POST /state) "
        "before it is offered again (default 15; env FLOMATION_SERVER_CLAIM_LEASE)",
    )
    parser.add_argument("--max-log-bytes", type=int, help="per-execution log cap in bytes")
    parser.add_argument(
        "--require-v2",
        action="store_const",
        const=True,
        default=None,
        help="reject runner requests without a v2 signature",
    )
    parser.add_argument("--log-level", help="debug, info, warning or error")
    return parser


def _configure_logging(level: str) -> None:
    numeric = getattr(logging, level.upper())
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # uvicorn's own messages (errors) go through the standard library, also as JSON lines.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.WARNING) if numeric < logging.WARNING else numeric)


async def _serve(settings: ServerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with running_server(settings) as server:
        if server.admin_token_generated:
            _log.warning(
                "admin token generated; it is shown only this once",
                admin_token=server.admin_token,
            )
        _log.info("server listening", url=server.url)
        await stop.wait()
        _log.info("shutting down")
    _log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, load settings (flags > env > file > defaults) and serve until signalled."""
    survive_closed_output()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["completion"]:
        return _completion(arguments[1:])
    if arguments[:1] and arguments[0] in _MAINTENANCE:
        return _maintenance(arguments[0], arguments[1:])
    args = vars(parser().parse_args(arguments))
    if args.pop("version"):
        sys.stdout.write(version_line("flomation-server"))
        return 0
    config_file = args.pop("config")
    try:
        settings = load_settings(args, os.environ, config_file)
    except SettingsError as exc:
        print(f"flomation-server: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_serve(settings))
    except OSError as exc:
        problem = str(exc)
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
            problem = f"cannot listen on {settings.listen}: {exc.strerror}"
        _log.error("cannot start", error=problem)
        return 1
    except (DatabaseUrlError, SecretKeyError, ValueError, DBAPIError) as exc:
        _log.error("cannot start", error=str(exc))
        return 1
    return 0


def _completion(argv: list[str]) -> int:
    def words() -> tuple[dict[str, Command], Command]:
        commands = {
            name: Command(summary, option_strings(_maintenance_parser(name)), arguments)
            for name, (summary, arguments) in _MAINTENANCE.items()
        }
        return commands, Command("", option_strings(parser()))

    return print_completion(argv, "flomation-server", words)


# Commands run on the database without serving (flomation.server.maintenance).
_MAINTENANCE: dict[str, tuple[str, tuple[str, ...]]] = {
    "migrate": ("apply pending schema migrations and exit", ()),
    "backup": ("copy a SQLite database online to a new private file", ("PATH",)),
}


def _maintenance_parser(command: str) -> argparse.ArgumentParser:
    summary, _ = _MAINTENANCE[command]
    sub = ArgumentParser(
        prog=f"flomation-server {command}", description=summary[0].upper() + summary[1:] + "."
    )
    sub.add_argument(
        "--database", help="database URL (default: FLOMATION_SERVER_DATABASE, then the config)"
    )
    sub.add_argument("--config", type=Path, help="configuration file (.toml or .json)")
    if command == "backup":
        sub.add_argument("path", type=Path, help="the new file (it must not exist)")
    return sub


def _maintenance(command: str, argv: list[str]) -> int:
    """``migrate`` or ``backup PATH``: 0 done, 1 the database failed, 2 a usage problem."""
    args = _maintenance_parser(command).parse_args(argv)
    try:
        settings = load_settings({"database": args.database}, os.environ, args.config)
    except SettingsError as exc:
        print(f"flomation-server {command}: {exc}", file=sys.stderr)
        return 2
    try:
        if command == "migrate":
            before, after = migrate_database(settings.database)
            print(f"flomation-server: database at revision {after} (was {before or 'empty'})")
        else:
            size = backup_sqlite(settings.database, args.path)
            print(f"flomation-server: {size} bytes backed up to {args.path}")
    except (MaintenanceError, DatabaseUrlError) as exc:
        print(f"flomation-server {command}: {exc}", file=sys.stderr)
        return 2
    except (OSError, DBAPIError, sqlite3.Error) as exc:
        print(f"flomation-server {command}: {exc}", file=sys.stderr)
        return 1
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # optional speed-up, installed with uvicorn[standard]
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


if __name__ == "__main__":
    raise SystemExit(main())
