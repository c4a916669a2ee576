"""Command-line conventions of the three real console scripts (flomation.console).

Every test runs the installed ``flomation-runner``, ``flomation-server`` and ``flomation-executor``
scripts as subprocesses, the way a person or a supervisor does.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
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
from flomation.version import distribution_version
from flomation.wire.jsontext import JsonObject, JsonValue

BIN = Path(sys.executable).parent
PROGRAMS = ("flomation-runner", "flomation-server", "flomation-executor")
RUNNER_COMMANDS = ("run", "print-config", "local", "dev", "validate", "completion")
_STOP_TIMEOUT_S = 60.0  # generous: the machine is shared; a hang is what this catches


def _environ(**extra: str) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLOMATION_", "MTLS_", "RUNNER_", "EXECUTOR_", "NO_COLOR"))
    }
    environ.update(extra)
    return environ


def _run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=_environ(),
    )


@pytest.mark.parametrize("program", PROGRAMS)
def test_version_prints_name_and_version(program: str) -> None:
    """``--version`` prints ``NAME VERSION`` and a newline on stdout and exits 0."""
    completed = _run(program, "--version")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"{program} {distribution_version()}\n"


def test_runner_help_lists_every_command() -> None:
    """``flomation-runner --help`` lists every command, one line each, and exits 0."""
    completed = _run("flomation-runner", "--help")
    assert completed.returncode == 0
    listed = [line.split()[0] for line in completed.stdout.splitlines() if line.startswith("  ")]
    assert listed == list(RUNNER_COMMANDS)
    assert len(completed.stdout.splitlines()) < 20


def test_server_help_lists_its_environment_variables() -> None:
    """``flomation-server --help`` names every FLOMATION_SERVER_* variable it reads."""
    completed = _run("flomation-server", "--help")
    assert completed.returncode == 0
    for variable in ("POLL_HOLD", "ADMIN_TOKEN", "DATABASE", "TRUSTED_PROXIES", "SECRET_KEY"):
        assert f"FLOMATION_SERVER_{variable}" in completed.stdout


def test_dev_home_has_help_text() -> None:
    """``flomation-runner dev --help`` explains --home."""
    completed = _run("flomation-runner", "dev", "--help")
    assert completed.returncode == 0
    home_help = completed.stdout[completed.stdout.index("--home") :]
    assert "identity" in home_help


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("flomation-runner", "frobnicate"), "unknown command 'frobnicate'"),
        (("flomation-runner", "prnt-config"), "did you mean 'print-config'?"),
        (("flomation-runner", "run", "--no-such-option"), "unrecognized arguments"),
        (("flomation-runner", "dev", "--lisen", "x"), "did you mean --listen?"),
        (("flomation-runner", "completion", "tcsh"), "bash, zsh or fish"),
        (("flomation-server", "--no-such-option"), "unrecognized arguments"),
        (("flomation-server", "completion"), "bash, zsh or fish"),
    ],
)
def test_usage_mistakes_are_one_line_and_a_hint(argv: tuple[str, ...], message: str) -> None:
    """An unknown command or option: a short error naming it, a hint, exit 2, no usage dump."""
    completed = _run(*argv)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert len(completed.stderr.splitlines()) <= 2, completed.stderr
    assert "usage:" not in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("program", PROGRAMS)
def test_bash_completion_of_the_real_scripts(program: str) -> None:
    """``PROGRAM completion bash`` defines a completion that offers the program's options."""
    script = _run(program, "completion", "bash")
    assert script.returncode == 0
    function = "_" + program.replace("-", "_")
    words = ["c"] if program == "flomation-runner" else ["--ver"]
    probe = (
        f"{script.stdout}\nCOMP_WORDS=({program} {' '.join(words)}); COMP_CWORD=1; {function}; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    offered = subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True, timeout=30, check=True
    ).stdout.split()
    assert offered == (["completion"] if program == "flomation-runner" else ["--version"])


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion_cover_every_runner_command(shell: str) -> None:
    """The zsh and fish scripts name every runner command and, for example, validate's --strict."""
    completed = _run("flomation-runner", "completion", shell)
    assert completed.returncode == 0
    for command in RUNNER_COMMANDS:
        assert command in completed.stdout
    assert "strict" in completed.stdout


_SYNTAX_CHECK = {"zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_accept_the_scripts(shell: str, program: str, tmp_path: Path) -> None:
    """zsh and fish parse each program's script without a syntax error."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed on this machine")
    script = tmp_path / f"{program}.{shell}"
    script.write_text(_run(program, "completion", shell).stdout)
    checked = subprocess.run(
        [*_SYNTAX_CHECK[shell], str(script)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr


def _console_output(no_color: bool, tmp_path: Path) -> bytes:
    """What ``run`` prints on a terminal while it retries an unreachable API, then stops."""
    env = _environ(
        FLOMATION_API="http://127.0.0.1:9",
        FLOMATION_REGISTRATION_CODE="code-1234",
        FLOMATION_RUNNER_EXECUTION_DIRECTORY=str(tmp_path / "work"),
        FLOMATION_RUNNER_STATE_DIRECTORY=str(tmp_path / "state"),
        FLOMATION_RUNNER_CERTIFICATE_PATH=str(tmp_path / "key.pem"),
        FLOMATION_RUNNER_EXECUTABLE_NAME=f"{BIN / 'flomation-executor'}",
        TERM="xterm",
    )
    if no_color:
        env["NO_COLOR"] = "1"
    tmp_path.mkdir()
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(BIN / "flomation-runner"), "run"],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=tmp_path,
    )
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + 60
    try:
        while b"registered" not in output and b"retry" not in output:
            assert time.monotonic() < deadline, output
            ready, _, _ = select.select([controller], [], [], 1)
            if ready:
                output += os.read(controller, 65536)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=_STOP_TIMEOUT_S)
        os.close(controller)
    return output


def test_no_color_is_honoured_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal ``run`` colours its console lines, and with NO_COLOR set it does not."""
    assert b"\x1b[" in _console_output(no_color=False, tmp_path=tmp_path / "colour")
    plain = _console_output(no_color=True, tmp_path=tmp_path / "plain")
    assert b"\x1b[" not in plain
    assert b"retry" in plain or b"registered" in plain


@contextmanager
def _started(argv: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=env, cwd=cwd,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _read_until(process: subprocess.Popen[bytes], marker: bytes) -> bytes:
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + 90
    while marker not in seen:
        assert time.monotonic() < deadline, seen[-2000:]
        line = process.stdout.readline()
        assert line, f"exited early ({process.wait()}): {seen[-2000:]!r}"
        seen += line
    return seen


def _stop_with_reader_gone(
    process: subprocess.Popen[bytes], timeout_s: float = _STOP_TIMEOUT_S
) -> int:
    """Close our end of its output pipe, let it write into the void, then SIGTERM it."""
    assert process.stdout is not None
    process.stdout.close()
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=timeout_s)


def _server(tmp_path: Path) -> list[str]:
    database = f"sqlite:///{tmp_path / 'server' / 'db.sqlite'}"
    return [str(BIN / "flomation-server"), "--listen", "127.0.0.1:0", "--database", database]


def _url_of(output: bytes) -> str:
    for line in output.splitlines():
        if b"server listening" in line:
            return str(json.loads(line)["url"])
    raise AssertionError(output)


def test_server_stops_on_sigterm_with_its_log_reader_gone(tmp_path: Path) -> None:
    """flomation-server exits 0 on SIGTERM after the reader of its stdout/stderr went away."""
    env = _environ(FLOMATION_SERVER_ADMIN_TOKEN="token-1234")
    with _started(_server(tmp_path), env, tmp_path) as server:
        _read_until(server, b"server listening")
        code = _stop_with_reader_gone(server)
    assert code == 0


def _queue_code(url: str, token: str) -> str:
    async def create() -> str:
        async with AdminClient(url, token) as admin:
            return str((await admin.create_queue("q"))["registration_code"])

    return asyncio.run(create())


def test_runner_stops_on_sigterm_with_its_log_reader_gone(tmp_path: Path) -> None:
    """An idle ``flomation-runner run`` exits 0 on SIGTERM after its log reader went away."""
    token = "token-1234"
    server_env = _environ(FLOMATION_SERVER_ADMIN_TOKEN=token)
    with _started(_server(tmp_path), server_env, tmp_path) as server:
        url = _url_of(_read_until(server, b"server listening"))
        env = _environ(
            FLOMATION_API=url,
            FLOMATION_REGISTRATION_CODE=_queue_code(url, token),
            FLOMATION_RUNNER_EXECUTION_DIRECTORY=str(tmp_path / "work"),
            FLOMATION_RUNNER_STATE_DIRECTORY=str(tmp_path / "state"),
            FLOMATION_RUNNER_CERTIFICATE_PATH=str(tmp_path / "key.pem"),
            FLOMATION_RUNNER_EXECUTABLE_NAME=f"{BIN / 'flomation-executor'}",
        )
        with _started([str(BIN / "flomation-runner"), "run"], env, tmp_path) as runner:
            _read_until(runner, b'"registered"')
            code = _stop_with_reader_gone(runner)
        assert code == 0
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=_STOP_TIMEOUT_S)


def test_dev_stops_on_sigterm_with_its_log_reader_gone(tmp_path: Path) -> None:
    """``flomation-runner dev`` exits 0 on SIGTERM after the reader of its output went away."""
    argv = [str(BIN / "flomation-runner"), "dev", "--listen", "127.0.0.1:0", "--home", "home"]
    with _started(argv, _environ(), tmp_path) as dev:
        _read_until(dev, b"Ctrl-C stops")
        # dev kills a runner that has not stopped 30 s after SIGTERM, and then exits 0 too: a
        # runner stuck on the closed pipe shows as dev outliving this (still generous) wait.
        code = _stop_with_reader_gone(dev, timeout_s=25.0)
    assert code == 0


def _sleep_flow(path: Path) -> None:
    def node(node_id: str, action: str, kind: int, inputs: list[JsonValue]) -> JsonObject:
        config: JsonObject = {"id": action, "type": kind, "inputs": inputs, "outputs": []}
        return {"id": node_id, "type": action, "data": {"label": action, "config": config}}

    duration: list[JsonValue] = [{"name": "duration", "type": "integer", "value": 60}]
    flow = {
        "nodes": [node("t", "trigger/manual", 1, []), node("s", "common/sleep", 2, duration)],
        "edges": [{"id": "e", "source": "t", "target": "s"}],
    }
    path.write_text(json.dumps(flow))


def test_executor_stops_on_sigterm_with_its_output_reader_gone(tmp_path: Path) -> None:
    """A sleeping flow cancels on SIGTERM with stdout/stderr gone: exit 0, state.json status 2."""
    _sleep_flow(tmp_path / "execution.flow")
    argv = [str(BIN / "flomation-executor"), "--output", "json", "--path", "execution.flow"]
    with _started(argv, _environ(), tmp_path) as executor:
        _read_until(executor, b'"id":"s","action":"common/sleep","label":"common/sleep","status"')
        code = _stop_with_reader_gone(executor)
    assert code == 0
    assert json.loads((tmp_path / "state.json").read_text())["status"] == 2


def test_server_port_in_use_is_one_line(tmp_path: Path) -> None:
    """A second server on a taken port logs one line naming the address, exits 1, no traceback."""
    env = _environ(FLOMATION_SERVER_ADMIN_TOKEN="token-1234")
    with _started(_server(tmp_path), env, tmp_path) as first:
        taken = _url_of(_read_until(first, b"server listening")).removeprefix("http://")
        database = f"sqlite:///{tmp_path / 'second' / 'db.sqlite'}"
        second = subprocess.run(
            [str(BIN / "flomation-server"), "--listen", taken, "--database", database],
            capture_output=True, text=True, timeout=120, env=env, check=False,
        )  # fmt: skip
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=_STOP_TIMEOUT_S)
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    errors = [json.loads(line) for line in second.stderr.splitlines() if '"error"' in line]
    assert [line["error"] for line in errors] == [
        f"cannot listen on {taken}: Address already in use"
    ]
