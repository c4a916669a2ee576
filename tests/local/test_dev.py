"""``flomation-runner dev`` as a real console script: restartable, its banner's commands work."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from flomation.server.admin_client import AdminClient

RUNNER = Path(sys.executable).parent / "flomation-runner"


def _environ() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLOMATION_", "MTLS_", "RUNNER_", "EXECUTOR_"))
    }


@contextmanager
def _dev(
    home: Path, listen: str = "127.0.0.1:0", log: Path | None = None
) -> Iterator[tuple[dict[str, str], list[str]]]:
    """Start ``dev``; yield its banner fields and lines once it is up; SIGTERM it afterwards.

    The runner's log (dev's stderr) goes to ``log`` when given.
    """
    log_file = open(log if log is not None else os.devnull, "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [str(RUNNER), "dev", "--listen", listen, "--home", str(home)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
        env=_environ(),
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    try:
        while not lines or not lines[-1].startswith("Ctrl-C stops"):
            assert time.monotonic() < deadline, lines
            line = process.stdout.readline()
            assert line, f"dev exited with {process.wait()}: {lines}"
            lines.append(line.rstrip("\n"))
        fields = {
            key.strip(): value.strip()
            for key, sep, value in (line.partition(": ") for line in lines[:4])
            if sep
        }
        yield fields, lines
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        process.stdout.close()
        log_file.close()
        assert code == 0


def _registration(log: Path) -> str:
    """The runner's ``registered`` log line, once it has been written."""
    for _ in range(900):
        for line in log.read_text().splitlines():
            if '"registered"' in line:
                return line
        time.sleep(0.1)
    raise AssertionError(f"the dev runner never registered: {log.read_text()[-2000:]}")


async def _runner_identifiers(url: str, token: str) -> list[str]:
    async with AdminClient(url, token) as admin:
        return [runner["identifier"] for runner in await admin.runners()]


async def _queues_and_executions(url: str, token: str) -> tuple[list[str], int]:
    async with AdminClient(url, token) as admin:
        queues = await admin.queues()
        executions = await admin.list_executions()
    return [queue["name"] for queue in queues], len(executions)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed on this machine")
def test_banner_commands_work_when_pasted(tmp_path: Path) -> None:
    """The banner's bash lines create the example flow, execute it and stream it to success."""
    with _dev(tmp_path / "home") as (_, lines):
        start = lines.index(next(line for line in lines if line.startswith("Try it")))
        commands = [line.removeprefix("  ") for line in lines[start + 1 :] if line.startswith("  ")]
        assert len(commands) == 4
        pasted = subprocess.run(
            ["bash", "-e", "-c", "\n".join(commands)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert pasted.returncode == 0, pasted.stderr
    assert "event: complete\ndata: success" in pasted.stdout
    assert '"greeting"' in pasted.stdout


def test_restart_on_the_same_home_reuses_everything(tmp_path: Path) -> None:
    """A second start on one home: same token, queue and runner identity; flows and runs kept."""
    home = tmp_path / "home"
    with _dev(home, log=tmp_path / "first.log") as (first, _):
        url, token = first["server"], first["admin token"]
        assert '"known_identifier": false' in _registration(tmp_path / "first.log")

        async def execute() -> None:
            async with AdminClient(url, token) as admin:
                flo = await admin.create_flo("kept", {"nodes": [], "edges": []})
                await admin.execute(flo["id"])

        asyncio.run(execute())
        identifiers = asyncio.run(_runner_identifiers(url, token))
    with _dev(home, log=tmp_path / "second.log") as (second, _):
        assert (second["admin token"], second["queue id"]) == (token, first["queue id"])
        assert '"known_identifier": true' in _registration(tmp_path / "second.log")
        url = second["server"]
        assert asyncio.run(_runner_identifiers(url, token)) == identifiers
        assert asyncio.run(_queues_and_executions(url, token)) == (["local"], 1)
    assert len(identifiers) == 1


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    """With its port taken, dev prints one line naming the address, exits 1, no traceback."""
    with _dev(tmp_path / "first") as (first, _):
        taken = first["server"].removeprefix("http://")
        completed = subprocess.run(
            [str(RUNNER), "dev", "--listen", taken, "--home", str(tmp_path / "second")],
            capture_output=True,
            text=True,
            timeout=120,
            env=_environ(),
            check=False,
        )
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [
        f"flomation-runner dev: cannot listen on {taken}: Address already in use"
    ]
