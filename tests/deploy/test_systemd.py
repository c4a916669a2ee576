"""The systemd units (runner and server): stop, restart policy, hardening, systemd's own checks.

The unit is parsed with the rules systemd uses for the settings asserted here (sections,
``Key=value`` lines, repeated keys accumulate, ``#``/``;`` comments). When ``systemd-analyze`` is
installed, the unit is also verified by systemd itself and its offline security exposure is
measured; those tests skip with a reason on machines without it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
_UNIT = _REPO / "deploy" / "systemd" / "flomation-runner.service"
_GUIDE = _REPO / "deploy" / "systemd" / "README.md"
_INSTALLED_RUNNER = "/opt/flomation-runner/bin/flomation-runner"
_SERVER_UNIT = _REPO / "deploy" / "systemd" / "flomation-server.service"
_INSTALLED_SERVER = "/opt/flomation-server/bin/flomation-server"
# The server's own graceful shutdown budget (src/flomation/server/embedded.py).
_SERVER_GRACEFUL_SHUTDOWN_S = 10.0

# Runner defaults (src/flomation/runner/config/model.py): drain_timeout_s and kill_grace_s.
_DRAIN_TIMEOUT_S = 15.0
_KILL_GRACE_S = 10.0
# Time the runner needs after the kill grace to write results to the outbox and flush it.
_FLUSH_MARGIN_S = 5.0
# systemd-analyze security reports exposure on 0-10 and takes --threshold on 0-100.
_MAX_EXPOSURE_PERCENT = 30

_Unit = dict[str, dict[str, list[str]]]


def _parse_unit(text: str) -> _Unit:
    """Sections -> key -> every value given, in order (systemd lets keys repeat)."""
    unit: _Unit = {}
    section: dict[str, list[str]] | None = None
    logical = re.sub(r"\\\n", " ", text)
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        assert section is not None, f"setting outside any section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not a Key=value line: {line!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def _last(unit: _Unit, section: str, key: str) -> str:
    values = unit.get(section, {}).get(key)
    assert values, f"[{section}] {key}= is not set"
    return values[-1]


def _seconds(value: str) -> float:
    """A systemd time span such as ``45``, ``45s``, ``1min 30s`` in seconds."""
    units = {"": 1.0, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


@pytest.fixture(scope="module")
def unit() -> _Unit:
    return _parse_unit(_UNIT.read_text(encoding="utf-8"))


def test_stop_sends_sigterm_to_the_runner_and_waits_longer_than_the_drain_budget(
    unit: _Unit,
) -> None:
    """SIGTERM goes to the main process only, and the stop timeout exceeds drain + kill grace."""
    assert _last(unit, "Service", "KillSignal") == "SIGTERM"
    # mixed: SIGTERM to the runner alone (it cancels executors itself), SIGKILL to the whole
    # cgroup only if the timeout passes.
    assert _last(unit, "Service", "KillMode") == "mixed"
    budget_s = _DRAIN_TIMEOUT_S + _KILL_GRACE_S + _FLUSH_MARGIN_S
    assert _seconds(_last(unit, "Service", "TimeoutStopSec")) > budget_s


def test_restarts_on_failure_but_not_on_a_configuration_error(unit: _Unit) -> None:
    """Restart=on-failure, and exit code 2 (bad configuration) does not restart in a loop."""
    assert _last(unit, "Service", "Restart") == "on-failure"
    assert "2" in _last(unit, "Service", "RestartPreventExitStatus").split()
    assert _seconds(_last(unit, "Service", "RestartSec")) >= 1


def test_runs_as_a_dedicated_user_in_its_state_directory_with_the_etc_config(
    unit: _Unit,
) -> None:
    """A dedicated non-root user, /var/lib/flomation-runner as cwd, /etc config passed by flag."""
    assert _last(unit, "Service", "User") == "flomation-runner"
    assert _last(unit, "Service", "Group") == "flomation-runner"
    assert _last(unit, "Service", "WorkingDirectory") == "/var/lib/flomation-runner"
    assert _last(unit, "Service", "StateDirectory") == "flomation-runner"
    exec_start = _last(unit, "Service", "ExecStart").split()
    assert exec_start[0] == _INSTALLED_RUNNER
    assert exec_start[1:3] == ["--config", "/etc/flomation-runner/config.json"]
    environment = unit["Service"]["Environment"]
    path_dirs = next(v for v in environment if v.startswith("PATH=")).removeprefix("PATH=")
    # The executor is installed beside the runner and must be found on PATH.
    assert str(Path(_INSTALLED_RUNNER).parent) in path_dirs.split(":")


def test_hardening_options_are_on(unit: _Unit) -> None:
    """The sandboxing settings that cost the runner nothing are enabled."""
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "CapabilityBoundingSet": "",
    }
    actual = {key: _last(unit, "Service", key) for key in expected}
    assert actual == expected
    assert _last(unit, "Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" in _last(unit, "Unit", "After").split()


def test_guide_covers_install_config_and_stop() -> None:
    """The guide names the unit's user, paths, and how stopping drains."""
    guide = _GUIDE.read_text(encoding="utf-8")
    for needle in (
        "useradd",
        "flomation-runner",
        "/etc/flomation-runner/config.json",
        "/var/lib/flomation-runner",
        "systemctl",
        "TimeoutStopSec",
        "drain",
    ):
        assert needle in guide, f"deploy/systemd/README.md does not mention {needle!r}"


def _verifiable_copy(
    tmp_path: Path, unit: Path = _UNIT, installed: str = _INSTALLED_RUNNER
) -> Path:
    """The unit with ExecStart pointing at an executable that exists on this machine.

    systemd-analyze verify checks that the ExecStart binary exists; the unit names the
    installed location, so the copy points at the project's own console script instead.
    """
    script = Path(sys.executable).parent / Path(installed).name
    if not script.exists():
        script = Path(sys.executable)
    text = unit.read_text(encoding="utf-8").replace(installed, str(script))
    copy = tmp_path / unit.name
    copy.write_text(text, encoding="utf-8")
    return copy


_ANALYZE = shutil.which("systemd-analyze")


_UNITS = [(_UNIT, _INSTALLED_RUNNER), (_SERVER_UNIT, _INSTALLED_SERVER)]


@pytest.mark.skipif(_ANALYZE is None, reason="systemd-analyze is not installed on this machine")
@pytest.mark.parametrize(("unit_path", "installed"), _UNITS, ids=["runner", "server"])
def test_systemd_analyze_verify_accepts_the_unit(
    tmp_path: Path, unit_path: Path, installed: str
) -> None:
    """systemd itself finds no error in the unit."""
    assert _ANALYZE is not None
    result = subprocess.run(
        [_ANALYZE, "verify", str(_verifiable_copy(tmp_path, unit_path, installed))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert unit_path.name not in result.stderr, result.stderr


@pytest.mark.skipif(_ANALYZE is None, reason="systemd-analyze is not installed on this machine")
@pytest.mark.parametrize(("unit_path", "installed"), _UNITS, ids=["runner", "server"])
def test_security_exposure_stays_low(tmp_path: Path, unit_path: Path, installed: str) -> None:
    """systemd-analyze's offline security exposure of the unit is at most 3.0 of 10 ("OK")."""
    assert _ANALYZE is not None
    result = subprocess.run(
        [
            _ANALYZE,
            "security",
            "--offline=yes",
            f"--threshold={_MAX_EXPOSURE_PERCENT}",
            str(_verifiable_copy(tmp_path, unit_path, installed)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no offline security analysis")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


@pytest.fixture(scope="module")
def server_unit() -> _Unit:
    return _parse_unit(_SERVER_UNIT.read_text(encoding="utf-8"))


def test_server_unit_stops_gracefully_and_keeps_its_state_private(server_unit: _Unit) -> None:
    """The server unit: SIGTERM with time for the graceful shutdown, no restart loop on a
    configuration error, its own user, a 0700 state directory holding the SQLite default."""
    assert _last(server_unit, "Service", "KillSignal") == "SIGTERM"
    timeout_s = _seconds(_last(server_unit, "Service", "TimeoutStopSec"))
    assert timeout_s > _SERVER_GRACEFUL_SHUTDOWN_S
    assert "2" in _last(server_unit, "Service", "RestartPreventExitStatus").split()
    assert _last(server_unit, "Service", "User") == "flomation-server"
    assert _last(server_unit, "Service", "StateDirectoryMode") == "0700"
    assert _last(server_unit, "Service", "UMask") == "0077"
    environment = dict(value.split("=", 1) for value in server_unit["Service"]["Environment"])
    assert (
        environment["FLOMATION_SERVER_DATABASE"] == "sqlite:////var/lib/flomation-server/server.db"
    )
    assert _last(server_unit, "Service", "ExecStart").split()[0] == _INSTALLED_SERVER
    guide = _GUIDE.read_text(encoding="utf-8")
    for needle in ("flomation-server.service", "FLOMATION_SERVER_SECRET_KEY", "pg_dump"):
        assert needle in guide, f"deploy/systemd/README.md does not mention {needle!r}"
