"""Replacing the upstream Go runner in place keeps the runner's identity (docs/migrating.md §3).

The Go runner (flomation-co/runner) builds its state file path as ``state_directory +
"flo.state"``: with ``"state_directory": "./st"`` it writes ``./stflo.state``. Real
``flomation-server`` and ``flomation-runner`` processes: the first runner enrols and its state is
then laid out exactly as the Go runner leaves it; the replacement, configured with the same
``./st``, must come back as the same runner.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flomation.server.admin_client import AdminClient

BIN = Path(sys.executable).parent
_TOKEN = "swap-test-token"


def _environ(**extra: str) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLOMATION_", "MTLS_", "RUNNER_", "EXECUTOR_"))
    }
    environ.update(extra)
    return environ


def _wait_for(process: subprocess.Popen[str], marker: str) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        assert line, f"exited early with {process.wait()}"
        if marker in line:
            return line
    raise AssertionError(f"no {marker!r} line")


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    if process.stderr is not None:
        process.stderr.close()


def _runner(cwd: Path, url: str, code: str) -> subprocess.Popen[str]:
    (cwd / "config.json").write_text(
        json.dumps(
            {
                "runner": {"url": url, "registration_code": code, "name": "swapped"},
                "execution": {
                    "state_directory": "./st",
                    "execution_directory": "./work",
                    "executable_name": f"{sys.executable} -m flomation_executor",
                },
            }
        )
    )
    return subprocess.Popen(
        [str(BIN / "flomation-runner"), "run", "--log-format", "json"],
        cwd=cwd,
        env=_environ(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _create_queue(url: str) -> str:
    async with AdminClient(url, _TOKEN) as admin:
        return str((await admin.create_queue("swap"))["registration_code"])


async def _runner_identifiers(url: str) -> list[str]:
    async with AdminClient(url, _TOKEN) as admin:
        return [runner["identifier"] for runner in await admin.runners()]


def test_go_runner_state_directory_without_slash_is_adopted(tmp_path: Path) -> None:
    """The Go runner's ``./stflo.state`` is adopted: same identifier, no second runner."""
    server = subprocess.Popen(
        [str(BIN / "flomation-server"), "--listen", "127.0.0.1:0",
         "--database", f"sqlite:///{tmp_path / 'server' / 'db.sqlite'}"],
        env=_environ(FLOMATION_SERVER_ADMIN_TOKEN=_TOKEN),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = json.loads(_wait_for(server, "server listening"))["url"]
        code = asyncio.run(_create_queue(url))
        home = tmp_path / "runner"
        home.mkdir()
        first = _runner(home, url, code)
        assert '"known_identifier": false' in _wait_for(first, '"registered"')
        _stop(first)
        # What the Go runner leaves with "./st": the identity beside the directory, not in it.
        (home / "st" / "flo.state").rename(home / "stflo.state")
        enrolled = asyncio.run(_runner_identifiers(url))

        second = _runner(home, url, code)
        adopted = json.loads(_wait_for(second, "adopted the Go runner's identity"))
        assert adopted["go_state_file"] == str(home / "stflo.state")
        assert '"known_identifier": true' in _wait_for(second, '"registered"')
        _stop(second)
        assert asyncio.run(_runner_identifiers(url)) == enrolled
        assert len(enrolled) == 1
        assert json.loads((home / "st" / "flo.state").read_text())["identifier"] == enrolled[0]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        if server.stderr is not None:
            server.stderr.close()
