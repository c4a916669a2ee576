"""Moving from the upstream Go runner (docs/migrating.md): identity, configuration, print-config."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from flomation.runner.config import RunnerConfig, add_config_arguments, load_config
from flomation.runner.identity import load_or_create_identifier

RUNNER = Path(sys.executable).parent / "flomation-runner"
_IGNORED_VARIABLES = ("EXECUTOR_DOWNLOAD_ON_START", "EXECUTOR_INSTALL_DIR", "EXECUTOR_MODULE_DIR")


def test_go_runner_concatenated_state_file_is_adopted(tmp_path: Path) -> None:
    """``./st`` without a slash: the Go runner's ``./stflo.state`` identity is copied, not renewed.

    flomation-co/runner builds the path as ``state_directory + "flo.state"``.
    """
    (tmp_path / "st").mkdir()
    go_file = tmp_path / "stflo.state"
    go_file.write_text('{"identifier":"GoRunnerIdentAbC"}')
    ours = tmp_path / "st" / "flo.state"
    assert load_or_create_identifier(ours, go_file) == "GoRunnerIdentAbC"
    assert json.loads(ours.read_text()) == {"identifier": "GoRunnerIdentAbC"}
    assert ours.stat().st_mode & 0o777 == 0o600
    assert go_file.exists(), "the Go runner's file stays for a roll-back"
    assert load_or_create_identifier(ours, go_file) == "GoRunnerIdentAbC"


def test_existing_state_file_wins_over_the_go_one(tmp_path: Path) -> None:
    """When ``<state_directory>/flo.state`` exists, the concatenated file is never read."""
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "flo.state").write_text('{"identifier":"OurOwnIdentifier"}')
    (tmp_path / "stflo.state").write_text('{"identifier":"GoRunnerIdentAbC"}')
    identifier = load_or_create_identifier(tmp_path / "st" / "flo.state", tmp_path / "stflo.state")
    assert identifier == "OurOwnIdentifier"


def _config_file(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(
        json.dumps(
            {
                "runner": {
                    "url": "http://127.0.0.1:9",
                    "registration_code": "code-123456",
                    "checkin_timeout": 7,
                },
                "execution": {
                    "state_directory": "./st",
                    "execution_directory": "./work",
                    "executable_name": f"{sys.executable} -m flomation_executor",
                    "download_on_start": True,
                    "kill_grace_s": 3,
                },
            }
        )
    )
    return path


def _print_config(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FLOMATION_", "EXECUTOR_"))}
    environ.update(env)
    return subprocess.run(
        [str(RUNNER), "print-config", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_upstream_variables_without_effect_are_warned_once_each(tmp_path: Path) -> None:
    """EXECUTOR_DOWNLOAD_ON_START, EXECUTOR_INSTALL_DIR, EXECUTOR_MODULE_DIR: one warning each."""
    _config_file(tmp_path)
    completed = _print_config(tmp_path, **dict.fromkeys(_IGNORED_VARIABLES, "x"))
    assert completed.returncode == 0, completed.stderr
    warned = [
        json.loads(line)["variable"]
        for line in completed.stderr.splitlines()
        if "ignored upstream variable" in line
    ]
    assert sorted(warned) == sorted(_IGNORED_VARIABLES)


def test_ignored_config_key_is_logged_at_debug_level_only(tmp_path: Path) -> None:
    """The ignored-key line of the loader shows with ``--log-level debug``, and not at info."""
    _config_file(tmp_path)
    debug = _print_config(tmp_path, "--log-level", "debug")
    info = _print_config(tmp_path)
    assert debug.returncode == info.returncode == 0, debug.stderr + info.stderr
    ignored = [json.loads(line) for line in debug.stderr.splitlines() if "ignored config" in line]
    assert [(line["level"], line["key"]) for line in ignored] == [
        ("debug", "execution.download_on_start")
    ]
    assert "ignored config key" not in info.stderr


def test_print_config_json_is_a_config_file_the_runner_accepts(tmp_path: Path) -> None:
    """``print-config --format json`` prints upstream sections and keys; loading it gives the
    same configuration (the redacted registration code aside)."""
    _config_file(tmp_path / "original")
    printed = _print_config(tmp_path / "original", "--format", "json")
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    assert document["runner"]["registration_code"] == "********"
    assert document["runner"]["checkin_timeout"] == 7
    assert "checkin_timeout_s" not in printed.stdout
    assert "executable_name" in document["execution"]
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "config.json").write_text(printed.stdout)
    original = _load(tmp_path / "original")
    copy = _load(tmp_path / "copy")
    assert copy == dataclasses.replace(original, registration_code="********")


def _load(cwd: Path) -> RunnerConfig:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    return load_config(parser.parse_args([]), {}, cwd, docker_config_path=cwd / "none.json")
