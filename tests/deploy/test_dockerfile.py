"""The container image: hadolint, the Dockerfile's structure, its health check, its entrypoint.

No Docker engine runs here, so the image is checked in parts: hadolint lints the Dockerfile,
its instructions are parsed and asserted, the HEALTHCHECK command is run for real against the
runner's own health listener, the entrypoint's configuration modes are exercised by running the
real ``flomation-runner print-config`` console script the image's ENTRYPOINT runs, and the
image's environment runs a real runner against a local server from start to SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from flomation.runner.config import DOCKER_CONFIG_PATH, load_config
from flomation.runner.health import RunnerMetrics, RunnerStatus
from flomation.runner.health_server import HealthServer
from flomation.server.admin_client import AdminClient
from flomation.server.config import ServerSettings
from flomation.server.embedded import running_server

_REPO = Path(__file__).resolve().parents[2]
_DOCKERFILE = _REPO / "Dockerfile"
_DOCKERIGNORE = _REPO / ".dockerignore"
_BIN = Path(sys.executable).parent
_HADOLINT = _BIN / "hadolint"
_RUNNER = _BIN / "flomation-runner"
_IMAGE_HOME = "/home/flomation"
_REGISTRATION_CODE = "registration-code-never-shown"
# Default drain_timeout_s + kill_grace_s + a margin: the longest a drain may take.
_DRAIN_BUDGET_S = 15 + 10 + 20


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
    assert _last(final, "WORKDIR") == "/home/flomation/state"


def test_environment_leaves_file_fields_to_a_mounted_config(final: list[_Instruction]) -> None:
    """The image sets no env default for a field config.json may set, so a mounted file wins."""
    env = _env(final)
    for name in (
        "FLOMATION_RUNNER_EXECUTABLE_NAME",
        "FLOMATION_RUNNER_STATE_DIRECTORY",
        "FLOMATION_RUNNER_CERTIFICATE_PATH",
    ):
        assert name not in env, f"{name} in the image would override a mounted config.json"
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


async def _run_healthcheck(final: list[_Instruction], health_addr: str) -> int:
    """Run the image's HEALTHCHECK command with this Python; its exit code."""
    command = _healthcheck_command(final)
    assert command[0] == "python", "the image's python runs the check (no curl in the image)"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env={"FLOMATION_RUNNER_HEALTH_ADDR": health_addr},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with asyncio.timeout(30):
        return await process.wait()


def test_healthcheck_uses_the_health_endpoint_not_pgrep(final: list[_Instruction]) -> None:
    """The HEALTHCHECK asks the runner's /healthz over HTTP; it never greps the process table."""
    command = " ".join(_healthcheck_command(final))
    assert "pgrep" not in command
    assert "/healthz" in command
    assert "urllib" in command


async def test_healthcheck_follows_the_runner_liveness(final: list[_Instruction]) -> None:
    """Against the runner's real health listener: 0 while alive, non-zero when stalled or gone."""
    status = RunnerStatus()
    server = HealthServer(status, RunnerMetrics(status, served=True))
    await server.start("127.0.0.1", 0)
    try:
        # The image binds 0.0.0.0; the check must then ask the loopback address.
        assert await _run_healthcheck(final, f"0.0.0.0:{server.port}") == 0
        assert await _run_healthcheck(final, f"127.0.0.1:{server.port}") == 0
        status.heartbeat_s = time.monotonic() - 3600  # the event loop stopped turning
        assert await _run_healthcheck(final, f"0.0.0.0:{server.port}") != 0
    finally:
        await server.stop()
    assert await _run_healthcheck(final, f"0.0.0.0:{server.port}") != 0


# --- the entrypoint's configuration modes -------------------------------------------------------
# The image runs `tini -- flomation-runner`; the upstream entrypoint's two modes (a config file
# at /usr/local/bin/config.json wins, otherwise the RUNNER_* variables) are implemented by the
# runner's own loader. These tests run the real console script with the image's environment:
# the Dockerfile's ENV defaults, with /home/flomation moved under tmp_path.


def _image_environment(final: list[_Instruction], home: Path) -> dict[str, str]:
    environ = {
        name: value.replace(_IMAGE_HOME, str(home))
        for name, value in _env(final).items()
        if name != "PATH"
    }
    environ["PATH"] = f"{_BIN}{os.pathsep}/usr/bin{os.pathsep}/bin"
    return environ


def _workdir(final: list[_Instruction], home: Path) -> Path:
    """The image's WORKDIR mapped into ``home`` (created), where the ENTRYPOINT starts."""
    directory = Path(_last(final, "WORKDIR").replace(_IMAGE_HOME, str(home)))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _print_config(
    environ: dict[str, str], cwd: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    assert _RUNNER.exists(), f"{_RUNNER} is missing: run ./scripts/bootstrap"
    return subprocess.run(
        [str(_RUNNER), "print-config", *arguments],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    if DOCKER_CONFIG_PATH.exists():
        pytest.skip(f"{DOCKER_CONFIG_PATH} exists on this machine and would override the test")
    directory = tmp_path / "home"
    directory.mkdir()
    return directory


def test_entrypoint_docker_variables_mode(final: list[_Instruction], home: Path) -> None:
    """Without a config file, RUNNER_* and EXECUTOR_DIRECTORY configure the runner (upstream)."""
    environ = _image_environment(final, home)
    environ |= {
        "RUNNER_NAME": "docker-runner",
        "RUNNER_URL": "http://flomation.invalid:8080/",
        "RUNNER_REGISTRATION_CODE": _REGISTRATION_CODE,
        "EXECUTOR_DIRECTORY": str(home / "workspace"),
    }
    result = _print_config(environ, _workdir(final, home))
    assert result.returncode == 0, result.stderr
    assert _REGISTRATION_CODE not in result.stdout + result.stderr
    config = json.loads(result.stdout)
    assert config["url"] == "http://flomation.invalid:8080"
    assert config["name"] == "docker-runner"
    assert config["registration_code"] == "********"
    assert Path(config["execution_directory"]) == home / "workspace"
    # The upstream image's defaults (docs/migrating.md §1.3) and this image's ENV defaults.
    assert config["max_concurrent_executors"] == 5
    assert config["checkin_timeout_s"] == 5
    assert config["executable"][0] == "flomation-executor"
    assert Path(config["state_directory"]) == home / "state"
    assert Path(config["certificate"]) == home / "state" / "flomation-runner.pem"
    assert config["health_addr"] == "0.0.0.0:9310"


def _write_upstream_config(path: Path, workspace: Path, **execution_extra: object) -> None:
    path.write_text(
        json.dumps(
            {
                "runner": {
                    "name": "file-runner",
                    "url": "https://api.flomation.invalid",
                    "registration_code": _REGISTRATION_CODE,
                    "checkin_timeout": 7,
                },
                "execution": {
                    "max_concurrent_executors": 3,
                    "execution_directory": str(workspace),
                    "executable_name": "flomation-executor",
                    **execution_extra,
                },
            }
        ),
        encoding="utf-8",
    )


def test_entrypoint_config_file_mode(final: list[_Instruction], home: Path) -> None:
    """An upstream-shaped config.json configures the runner; the image's env fills the rest."""
    config_file = home / "config.json"
    _write_upstream_config(config_file, home / "workspace")
    result = _print_config(
        _image_environment(final, home), _workdir(final, home), "--config", str(config_file)
    )
    assert result.returncode == 0, result.stderr
    assert _REGISTRATION_CODE not in result.stdout + result.stderr
    config = json.loads(result.stdout)
    assert (config["name"], config["url"]) == ("file-runner", "https://api.flomation.invalid")
    assert config["max_concurrent_executors"] == 3
    assert config["checkin_timeout_s"] == 7
    assert Path(config["execution_directory"]) == home / "workspace"
    assert Path(config["state_directory"]) == home / "state"


def test_entrypoint_accepts_the_upstream_entrypoint_keys(
    final: list[_Instruction], home: Path
) -> None:
    """A file written by the upstream entrypoint (install/module dirs) loads; stdout stays JSON."""
    config_file = home / "config.json"
    _write_upstream_config(
        config_file,
        home / "workspace",
        execution_install_dir="/home/flomation/executor/lib",
        execution_module_dir="/home/flomation/executor/lib/modules",
        download_on_start=True,
    )
    result = _print_config(
        _image_environment(final, home), _workdir(final, home), "--config", str(config_file)
    )
    assert result.returncode == 0, result.stderr
    # `docker run IMAGE print-config | jq` must work: nothing but the JSON document on stdout.
    config = json.loads(result.stdout)
    assert config["name"] == "file-runner"


def test_mounted_config_file_wins_over_docker_variables(
    final: list[_Instruction], home: Path
) -> None:
    """A file at the image's config path makes the loader ignore RUNNER_*, as upstream did.

    The console script cannot be pointed at another mount path, and this test must not write
    /usr/local/bin, so the loader is called in-process with the path the image uses swapped
    for a file under tmp_path (``docker_config_path``, the loader's parameter for it).
    """
    mounted = home / "config.json"
    mounted.write_text(
        json.dumps(
            {
                "runner": {"name": "from-file", "url": "https://file.invalid"},
                "execution": {
                    "execution_directory": str(home / "workspace"),
                    "state_directory": str(home / "file-state"),
                    "executable_name": "flomation-executor",
                },
            }
        ),
        encoding="utf-8",
    )
    environ = _image_environment(final, home)
    environ |= {
        "RUNNER_NAME": "from-env",
        "RUNNER_URL": "https://env.invalid",
        "RUNNER_REGISTRATION_CODE": _REGISTRATION_CODE,
        "EXECUTOR_MAX_CONCURRENT": "9",
    }
    (home / "file-state").mkdir()
    (home / "file-state" / "flo.state").write_text('{"identifier": "abcdefghijklmnop"}')

    config = load_config(
        argparse.Namespace(), environ, _workdir(final, home), docker_config_path=mounted
    )

    assert (config.name, config.url) == ("from-file", "https://file.invalid")
    assert config.max_concurrent_executors == 1  # upstream default, not EXECUTOR_MAX_CONCURRENT
    assert config.registration_code is None  # RUNNER_REGISTRATION_CODE ignored too
    # No image default overrides what the mounted file says.
    assert config.state_directory == home / "file-state"
    assert config.executable[0] == "flomation-executor"


def test_entrypoint_names_every_missing_variable(final: list[_Instruction], home: Path) -> None:
    """Neither a file nor RUNNER_URL/RUNNER_REGISTRATION_CODE: exit 2 naming each one missing."""
    environ = _image_environment(final, home)
    environ["RUNNER_NAME"] = "only-a-name"

    result = _print_config(environ, _workdir(final, home))

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    for variable in ("RUNNER_URL", "RUNNER_REGISTRATION_CODE"):
        assert variable in message, f"{variable} is not named in: {message}"


def test_entrypoint_with_no_configuration_at_all_exits_2(
    final: list[_Instruction], home: Path
) -> None:
    """With only the image's defaults, the runner exits 2 and names the URL variable it needs."""
    result = _print_config(_image_environment(final, home), _workdir(final, home))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "RUNNER_URL" in result.stderr
    assert "RUNNER_REGISTRATION_CODE" in result.stderr


# --- the image's runner, end to end (without Docker) -----------------------------------------


async def _health_port(stderr: asyncio.StreamReader, seen: list[str]) -> int:
    """Read the runner's JSON log lines until the health listener reports its address."""
    while line := await stderr.readline():
        text = line.decode("utf-8", "replace")
        seen.append(text)
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if record.get("event") == "health listener started":
            return int(str(record["address"]).rpartition(":")[2])
    raise AssertionError("the runner exited before starting its health listener:\n" + "".join(seen))


async def _drain(stderr: asyncio.StreamReader, seen: list[str]) -> None:
    """Keep reading the runner's log so it never blocks on a full pipe."""
    while line := await stderr.readline():
        seen.append(line.decode("utf-8", "replace"))


async def _wait_ready(url: str, timeout_s: float) -> None:
    async with aiohttp.ClientSession() as session, asyncio.timeout(timeout_s):
        while True:
            async with session.get(url) as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.2)


async def test_image_environment_runs_a_runner_that_is_healthy_and_drains(
    final: list[_Instruction], home: Path, tmp_path: Path
) -> None:
    """With the image's env and the RUNNER_* variables, the runner enrols, passes the HEALTHCHECK
    and /readyz, keeps its identity and key in the state directory, and exits 0 on SIGTERM.

    This is what `docker run` does, minus Docker: the console script the ENTRYPOINT runs, the
    Dockerfile's ENV, a real flomation-server on 127.0.0.1, and the real HEALTHCHECK command.
    """
    settings = ServerSettings(
        listen="127.0.0.1:0", database=f"sqlite:///{tmp_path / 'server.db'}", poll_hold_s=0.5
    )
    async with running_server(settings) as server:
        async with AdminClient(server.url, server.admin_token) as admin:
            queue = await admin.create_queue("default")
        environ = _image_environment(final, home)
        environ |= {
            "RUNNER_NAME": "image-smoke",
            "RUNNER_URL": server.url,
            "RUNNER_REGISTRATION_CODE": queue["registration_code"],
            "EXECUTOR_DIRECTORY": str(home / "workspace"),
            # The image listens on 0.0.0.0:9310; a test listens on loopback, any free port.
            "FLOMATION_RUNNER_HEALTH_ADDR": "127.0.0.1:0",
        }
        process = await asyncio.create_subprocess_exec(
            str(_RUNNER),
            env=environ,
            cwd=_workdir(final, home),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        seen: list[str] = []
        try:
            async with asyncio.timeout(30):
                port = await _health_port(process.stderr, seen)
            async with asyncio.TaskGroup() as group:
                reader = group.create_task(_drain(process.stderr, seen))
                await _wait_ready(f"http://127.0.0.1:{port}/readyz", timeout_s=60)
                assert await _run_healthcheck(final, f"0.0.0.0:{port}") == 0
                state = home / "state"
                assert (state / "flo.state").is_file()
                assert (state / "flomation-runner.pem").is_file()
                process.send_signal(signal.SIGTERM)
                # Idle runner: the drain has nothing to wait for; bound by the budget anyway.
                async with asyncio.timeout(_DRAIN_BUDGET_S):
                    exit_code = await process.wait()
                await reader
            assert exit_code == 0, "".join(seen)
            assert queue["registration_code"] not in "".join(seen)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
