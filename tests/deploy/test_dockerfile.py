"""The container image: hadolint, the Dockerfile's structure, its health check, its entrypoint.

No Docker engine runs here, so the image is checked in parts: hadolint lints the Dockerfile,
its instructions are parsed and asserted, the HEALTHCHECK command is run for real against a
local HTTP server, and the entrypoint's configuration modes are exercised by running the real
``flomation-runner print-config`` console script the image's ENTRYPOINT runs.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
_DOCKERFILE = _REPO / "Dockerfile"
_DOCKERIGNORE = _REPO / ".dockerignore"
_BIN = Path(sys.executable).parent
_HADOLINT = _BIN / "hadolint"


@dataclass(frozen=True)
class _Instruction:
    """One Dockerfile instruction with its arguments, continuation lines joined."""

    keyword: str
    arguments: str


def _parse(text: str) -> list[list[_Instruction]]:
    """Instructions grouped by build stage (each FROM starts one); comments dropped."""
    stages: list[list[_Instruction]] = []
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, arguments = logical.partition(" ")
        instruction = _Instruction(keyword.upper(), arguments.strip())
        logical = ""
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, f"instruction before the first FROM: {instruction}"
        stages[-1].append(instruction)
    return stages


def _all(stage: list[_Instruction], keyword: str) -> list[str]:
    return [i.arguments for i in stage if i.keyword == keyword]


def _last(stage: list[_Instruction], keyword: str) -> str:
    found = _all(stage, keyword)
    assert found, f"no {keyword} in the stage"
    return found[-1]


def _env(stage: list[_Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for arguments in _all(stage, "ENV"):
        for word in shlex.split(arguments):
            name, _, value = word.partition("=")
            values[name] = value
    return values


@pytest.fixture(scope="module")
def stages() -> list[list[_Instruction]]:
    return _parse(_DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(stages: list[list[_Instruction]]) -> list[_Instruction]:
    return stages[-1]


def test_hadolint_passes() -> None:
    """hadolint (from the package registry, in the venv) reports nothing on the Dockerfile."""
    assert _HADOLINT.exists(), f"{_HADOLINT} is missing: run ./scripts/bootstrap"
    result = subprocess.run(
        [str(_HADOLINT), str(_DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=_REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_build_on_slim_python(stages: list[list[_Instruction]]) -> None:
    """A builder stage installs from the lock; the runtime stage copies only its venv."""
    assert len(stages) >= 2
    bases = [stage[0].arguments.split()[0] for stage in stages]
    assert all(base == "python:3.11-slim" for base in bases), bases
    builder_name = stages[0][0].arguments.split()[-1]
    runs = " ".join(_all(stages[0], "RUN"))
    # Exactly the locked versions, without the dev tools.
    assert "--frozen" in runs
    assert "--no-dev" in runs
    copies = _all(stages[-1], "COPY")
    assert any(c.startswith(f"--from={builder_name} /opt/venv") for c in copies), copies


def test_nothing_is_downloaded_outside_package_registries(
    stages: list[list[_Instruction]],
) -> None:
    """No curl, wget or remote ADD: packages come from PyPI (pip/uv) and Debian (apt) only."""
    instructions = [i for stage in stages for i in stage]
    for instruction in instructions:
        assert "curl " not in instruction.arguments
        assert "wget " not in instruction.arguments
        if instruction.keyword == "ADD":
            assert "://" not in instruction.arguments


def test_tini_is_pid_1_and_installed_from_debian(final: list[_Instruction]) -> None:
    """tini from apt (--no-install-recommends, lists removed) runs flomation-runner as PID 1."""
    entrypoint = json.loads(_last(final, "ENTRYPOINT"))
    assert entrypoint == ["/usr/bin/tini", "--", "flomation-runner"]
    installs = [run for run in _all(final, "RUN") if "apt-get install" in run]
    assert len(installs) == 1
    assert "--no-install-recommends" in installs[0]
    assert "tini=" in installs[0]
    assert "rm -rf /var/lib/apt/lists/*" in installs[0]


def test_runs_as_non_root_user_flomation(final: list[_Instruction]) -> None:
    """The final USER is uid 10001 (the flomation user), never root."""
    user = _last(final, "USER").split(":")[0]
    assert user not in ("root", "0")
    assert user == "10001"
    runs = " ".join(_all(final, "RUN"))
    assert "--uid 10001" in runs
    assert "useradd" in runs and " flomation" in runs
    assert _last(final, "WORKDIR") == "/home/flomation"


def test_environment_defaults_point_at_the_executor_and_state(final: list[_Instruction]) -> None:
    """The image's env makes the runner find its executor and keep its state in one directory."""
    env = _env(final)
    assert env["FLOMATION_RUNNER_EXECUTABLE_NAME"] == "flomation-executor"
    assert env["FLOMATION_RUNNER_STATE_DIRECTORY"] == "/home/flomation/state"
    assert env["FLOMATION_RUNNER_CERTIFICATE_PATH"] == "/home/flomation/state/flomation-runner.pem"
    assert env["FLOMATION_RUNNER_HEALTH_ADDR"] == "0.0.0.0:9310"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert _last(final, "EXPOSE") == "9310"
    runs = " ".join(_all(final, "RUN"))
    for directory in ("/home/flomation/state", "/home/flomation/workspace"):
        assert directory in runs, f"{directory} is not created in the image"


def test_stop_signal_is_sigterm(final: list[_Instruction]) -> None:
    """STOPSIGNAL SIGTERM, the signal that makes the runner drain."""
    assert _last(final, "STOPSIGNAL") == "SIGTERM"


def test_dockerignore_keeps_the_build_inputs_and_drops_local_state() -> None:
    """The build context has pyproject, lock, README and src, not .venv, .git or caches."""
    patterns = {
        line.strip()
        for line in _DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".tools"} <= patterns
    assert not {"src", "pyproject.toml", "uv.lock", "README.md"} & patterns


# --- HEALTHCHECK --------------------------------------------------------------------------------


def _healthcheck_command(final: list[_Instruction]) -> list[str]:
    arguments = _last(final, "HEALTHCHECK")
    options, _, command = arguments.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    words: list[str] = json.loads(command)
    return words


class _HealthHandler(BaseHTTPRequestHandler):
    """Answers /healthz with the status the test sets on the server."""

    def do_GET(self) -> None:
        status = self.server.health_status if self.path == "/healthz" else 404  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthHandler)
    server.health_status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _run_healthcheck(final: list[_Instruction], health_addr: str) -> int:
    command = _healthcheck_command(final)
    assert command[0] == "python", "the image's python runs the check (no curl in the image)"
    result = subprocess.run(
        [sys.executable, *command[1:]],
        env={"FLOMATION_RUNNER_HEALTH_ADDR": health_addr},
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode


def test_healthcheck_uses_the_health_endpoint_not_pgrep(final: list[_Instruction]) -> None:
    """The HEALTHCHECK asks the runner's /healthz over HTTP; it never greps the process table."""
    command = " ".join(_healthcheck_command(final))
    assert "pgrep" not in command
    assert "/healthz" in command
    assert "urllib" in command


def test_healthcheck_passes_on_200_and_fails_otherwise(
    final: list[_Instruction], health_server: ThreadingHTTPServer
) -> None:
    """Run for real: exit 0 when /healthz answers 200, non-zero on 503 or when nothing listens."""
    port = health_server.server_address[1]
    # The image binds 0.0.0.0; the check must then ask the loopback address.
    assert _run_healthcheck(final, f"0.0.0.0:{port}") == 0
    assert _run_healthcheck(final, f"127.0.0.1:{port}") == 0
    health_server.health_status = 503  # type: ignore[attr-defined]
    assert _run_healthcheck(final, f"0.0.0.0:{port}") != 0
    health_server.shutdown()
    health_server.server_close()
    assert _run_healthcheck(final, f"0.0.0.0:{port}") != 0
