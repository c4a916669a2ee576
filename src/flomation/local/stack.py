"""An embedded server plus a runner process, wired together for local use.

The server runs inside this process (it is cheap and lets us read its admin API directly); the
runner runs as a real ``flomation-runner`` child process with the same code path a production
runner has, configured through the upstream environment variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flomation.server.admin_answers import QueueAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.config import ServerSettings
from flomation.server.embedded import running_server

__all__ = ["LocalStack", "StackError", "local_stack"]

_FOREIGN_PREFIXES = ("FLOMATION_", "MTLS_", "RUNNER_", "EXECUTOR_")
_RUNNER_STOP_S = 30.0
_QUEUE_NAME = "local"


class StackError(Exception):
    """The local stack cannot start (the message names the problem, one line)."""


@dataclass
class LocalStack:
    """A running embedded server, an admin client on it, and the runner process."""

    url: str
    admin_token: str
    admin: AdminClient
    queue_id: str
    runner: asyncio.subprocess.Process
    runner_log: Path


def executor_command() -> str:
    """The executor as this interpreter runs it, as one shell-quoted ``executable_name``."""
    return shlex.join([sys.executable, "-m", "flomation_executor"])


def runner_environment(
    base: Mapping[str, str],
    *,
    url: str,
    registration_code: str,
    home: Path,
    once: bool,
    slots: int,
    log_format: str = "json",
) -> dict[str, str]:
    """The runner's environment: the caller's, minus runner settings, plus the local stack's."""
    env = {k: v for k, v in base.items() if not k.startswith(_FOREIGN_PREFIXES)}
    env.update(
        {
            "FLOMATION_API": url,
            "FLOMATION_REGISTRATION_CODE": registration_code,
            "FLOMATION_RUNNER_NAME": "local",
            "FLOMATION_RUNNER_STATE_DIRECTORY": str(home / "state"),
            "FLOMATION_RUNNER_CERTIFICATE_PATH": str(home / "state" / "flomation-runner.pem"),
            "FLOMATION_RUNNER_EXECUTION_DIRECTORY": str(home / "work"),
            "FLOMATION_RUNNER_EXECUTABLE_NAME": executor_command(),
            "FLOMATION_RUNNER_MAX_EXECUTORS": str(slots),
            "FLOMATION_RUNNER_LOG_FORMAT": log_format,
        }
    )
    if once:
        env["FLOMATION_RUNNER_ONCE"] = "true"
    return env


@contextlib.asynccontextmanager
async def local_stack(
    home: Path,
    *,
    once: bool,
    slots: int = 1,
    listen: str = "127.0.0.1:0",
    runner_output: IO[str] | None = None,
) -> AsyncIterator[LocalStack]:
    """Start the server in ``home`` and a runner registered to its ``local`` queue.

    The runner's log goes to ``runner_output`` when given (formatted for it: console lines on a
    terminal, JSON otherwise, like ``run``), else to ``home/runner.log`` as JSON lines. On exit the
    runner gets SIGTERM (it drains) and the server stops. Raises StackError when the server cannot
    listen on ``listen``.
    """
    settings = ServerSettings(
        listen=listen,
        database=f"sqlite:///{home / 'server.db'}",
        # Unset: the server keeps a generated token beside the database, the same on every start.
        admin_token=os.environ.get("FLOMATION_SERVER_ADMIN_TOKEN") or None,
        poll_hold_s=25.0,
    )
    runner_log = home / "runner.log"
    async with contextlib.AsyncExitStack() as resources:
        try:
            server = await resources.enter_async_context(running_server(settings))
        except OSError as exc:
            raise StackError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
        admin = await resources.enter_async_context(AdminClient(server.url, server.admin_token))
        queue = await _local_queue(admin)
        env = runner_environment(
            os.environ,
            url=server.url,
            registration_code=queue["registration_code"],
            home=home,
            once=once,
            slots=slots,
            log_format="json" if runner_output is None else "auto",
        )
        with contextlib.ExitStack() as files:
            sink = runner_output or files.enter_context(runner_log.open("w", encoding="utf-8"))
            runner = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "flomation.runner",
                env=env,
                cwd=home,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
            try:
                yield LocalStack(
                    url=server.url,
                    admin_token=server.admin_token,
                    admin=admin,
                    queue_id=queue["id"],
                    runner=runner,
                    runner_log=runner_log,
                )
            finally:
                await _stop(runner)


async def _local_queue(admin: AdminClient) -> QueueAnswer:
    """The home's ``local`` queue: the one a previous start created, else a new one."""
    for queue in await admin.queues():
        if queue.get("name") == _QUEUE_NAME:
            return queue
    return await admin.create_queue(_QUEUE_NAME)


async def _stop(runner: asyncio.subprocess.Process) -> None:
    if runner.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            runner.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(runner.wait(), _RUNNER_STOP_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                runner.kill()
            await runner.wait()
