"""Loading: flags, environment variables, config.json (the upstream Go runner's shape) and
defaults merged, in that order of precedence, into one checked ``RunnerConfig`` (the package's
docstring has the rules).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, cast

import structlog

from flomation.runner.config.model import (
    DOCKER_CONFIG_PATH,
    FIELDS,
    REDACTED,
    STATE_FILE_NAME,
    ConfigError,
    RunnerConfig,
)
from flomation.runner.config.options import OPTIONS, InvalidValue, Option

__all__ = ["load_config"]

_DEFAULT_CONFIG_NAME = "config.json"
_DIRECTORY_MODE = 0o750

_log = structlog.get_logger(__name__)

_SECTIONS = ("execution", "runner", "tls")
_IGNORED_KEYS = frozenset(
    {
        ("execution", "execution_install_dir"),
        ("execution", "execution_module_dir"),
        ("execution", "download_on_start"),
    }
)
# The upstream Docker image's variables; ignored when the image's config file is mounted.
_DOCKER_ENV = frozenset(
    {
        "RUNNER_URL",
        "RUNNER_REGISTRATION_CODE",
        "RUNNER_NAME",
        "RUNNER_CHECKIN_TIMEOUT",
        "EXECUTOR_MAX_CONCURRENT",
        "EXECUTOR_DIRECTORY",
    }
)
_DOCKER_MODE_ENV = ("RUNNER_URL", "RUNNER_NAME", "RUNNER_REGISTRATION_CODE")
# The upstream image's entrypoint downloads its executor with these; this runner runs
# ``executable_name`` as installed, so they do nothing here (docs/migrating.md §1.3).
_IGNORED_ENV = ("EXECUTOR_DOWNLOAD_ON_START", "EXECUTOR_INSTALL_DIR", "EXECUTOR_MODULE_DIR")
_DOCKER_DEFAULTS: Mapping[str, object] = {
    "max_concurrent_executors": 5,
    "execution_directory": "/home/flomation/workspace/",
    "executable": "flomation-executor",
}
_REQUIRED = ("url", "execution_directory", "executable")


class _Candidate(NamedTuple):
    value: object
    source: str


def _fail(source: str, option: Option, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {option.label}: {problem}")


def _shown(option: Option, value: object) -> str:
    if option.secret:
        return REDACTED
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _read_file(path: Path) -> dict[tuple[str, str], object]:
    """The config file's values keyed by (section, key); structural problems are ConfigErrors."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read: {exc.strerror}") from exc
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path}: not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"config file {path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(document, dict):
        raise ConfigError(f"config file {path}: expected a JSON object at the top level")
    known = {(option.section, option.key) for option in OPTIONS}
    values: dict[tuple[str, str], object] = {}
    for section, body in document.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"config file {path}: unknown section {section!r} "
                f"(known sections: {', '.join(_SECTIONS)})"
            )
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"config file {path}: {section}: expected a JSON object")
        for key, value in body.items():
            if (section, key) in _IGNORED_KEYS:
                _log.debug("ignored config key", file=str(path), key=f"{section}.{key}")
            elif (section, key) in known:
                values[(section, key)] = value
            else:
                raise ConfigError(f"config file {path}: {section}.{key}: unknown key")
    return values


def _choose_file(
    args: argparse.Namespace, cwd: Path, docker_config_path: Path
) -> tuple[Path | None, bool]:
    """The config file to read (None for none) and whether it is the Docker image's mount."""
    explicit = getattr(args, "config", None)
    if explicit:
        path = _absolute(Path(explicit), cwd)
        if not path.is_file():
            raise ConfigError(f"flag --config: config file {path} does not exist or is not a file")
        return path, False
    if docker_config_path.is_file():
        return docker_config_path, True
    default = cwd / _DEFAULT_CONFIG_NAME
    return (default, False) if default.exists() else (None, False)


def _candidate(
    option: Option,
    args: argparse.Namespace,
    environ: Mapping[str, str],
    file_values: Mapping[tuple[str, str], object],
    file_label: str,
    use_docker_env: bool,
) -> _Candidate | None:
    """The highest-precedence value given for one option, or None when nothing sets it."""
    flag_value = getattr(args, option.field, None)
    if flag_value is not None and flag_value != "":
        return _Candidate(flag_value, f"flag {option.flags[0]}")
    for name in option.env:
        if name in _DOCKER_ENV and not use_docker_env:
            continue
        if environ.get(name, "") != "":
            return _Candidate(environ[name], f"environment variable {name}")
    file_value = file_values.get((option.section, option.key))
    if file_value is not None and file_value != "":
        return _Candidate(file_value, file_label)
    return None


def _absolute(path: Path, cwd: Path) -> Path:
    # Relative paths are taken against the start-up working directory (defect R14). Symbolic
    # links are kept: a virtualenv's python is a link whose target is a different interpreter.
    return Path(os.path.normpath(cwd / path))


def _check_executable(command: tuple[str, ...], environ: Mapping[str, str], cwd: Path) -> str:
    """The program of ``command``, made absolute when it is a relative path; or InvalidValue."""
    program = command[0]
    if "/" in program:
        candidate = _absolute(Path(program), cwd)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        raise InvalidValue(f"unknown executor {program!r}: no executable file at {candidate}")
    if shutil.which(program, path=environ.get("PATH", os.defpath)) is None:
        raise InvalidValue(f"unknown executor {program!r}: not found on PATH")
    return program


def _prepare_directory(path: Path) -> str | None:
    """Create ``path`` (mode 0750) if missing; the problem when it is not a writable directory."""
    if path.exists() and not path.is_dir():
        return f"{path} is not a directory"
    try:
        path.mkdir(mode=_DIRECTORY_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create directory {path}: {exc.strerror}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"directory {path} is not writable"
    return None


def load_config(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    cwd: Path,
    docker_config_path: Path = DOCKER_CONFIG_PATH,
) -> RunnerConfig:
    """Merge flags, environment, config file and defaults; validate; create missing directories.

    ``cwd`` is the start-up working directory that relative paths are resolved against.
    """
    cwd = cwd.resolve()
    for name in _IGNORED_ENV:
        if name in environ:
            _log.warning(
                "ignored upstream variable: it only configures the upstream image's executor "
                "download; this runner runs executable_name as installed",
                variable=name,
            )
    config_path, docker_file = _choose_file(args, cwd, docker_config_path)
    file_values = _read_file(config_path) if config_path is not None else {}
    docker_mode = not docker_file and any(environ.get(name) for name in _DOCKER_MODE_ENV)
    values, sources = _collect(
        args, environ, file_values, f"config file {config_path}", docker_file, docker_mode, cwd
    )
    options = {option.field: option for option in OPTIONS}
    _check_required(values, options, config_path)

    executable = values["executable"]
    assert isinstance(executable, tuple)  # _command always returns a tuple
    try:
        program = _check_executable(executable, environ, cwd)
    except InvalidValue as exc:
        raise _fail(sources["executable"], options["executable"], str(exc)) from None
    values["executable"] = (program, *executable[1:])

    # Every value went through its option's converter: the types are the fields' own.
    config = RunnerConfig(**cast(dict[str, Any], values))

    directories = {"state_directory": config.state_directory}
    directories["execution_directory"] = config.execution_directory
    if config.outbox_path is not None:
        directories["outbox_path"] = config.outbox_path.parent
    for field, directory in directories.items():
        problem = _prepare_directory(directory)
        if problem is not None:
            raise _fail(sources[field], options[field], problem)
    if config.tls_enabled:
        _check_tls_files(config, options, sources, config_path)
    return config


def _collect(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    file_values: Mapping[tuple[str, str], object],
    file_label: str,
    docker_file: bool,
    docker_mode: bool,
    cwd: Path,
) -> tuple[dict[str, object], dict[str, str]]:
    """Converted values of every option that is set (paths absolute), and where each came from.

    Path options left unset get their default made absolute, so every path is resolved once.
    """
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        found = _candidate(option, args, environ, file_values, file_label, not docker_file)
        if found is None and docker_mode and option.field in _DOCKER_DEFAULTS:
            found = _Candidate(_DOCKER_DEFAULTS[option.field], "Docker image default")
        if found is None:
            default = FIELDS[option.field].default
            if option.is_path and isinstance(default, Path):
                values[option.field] = _absolute(default, cwd)
                sources[option.field] = "default"
            continue
        try:
            value = option.convert(found.value)
        except InvalidValue as exc:
            problem = f"{exc} (got {_shown(option, found.value)})"
            raise _fail(found.source, option, problem) from None
        if option.is_path and isinstance(value, Path):
            value = _absolute(value, cwd)
        values[option.field] = value
        sources[option.field] = found.source
    return values, sources


def _requirement(option: Option, config_path: Path | None, reason: str) -> str:
    where = ", ".join([f"{option.label} in {config_path or _DEFAULT_CONFIG_NAME}", *option.env])
    return f"{option.label} is {reason} (set {where} or {option.flags[0]})"


def _check_required(
    values: Mapping[str, object], options: Mapping[str, Option], config_path: Path | None
) -> None:
    """One error listing every missing required field, as the upstream image's entrypoint does."""
    problems = [
        _requirement(options[field], config_path, "required")
        for field in _REQUIRED
        if field not in values
    ]
    state_directory = values["state_directory"]
    assert isinstance(state_directory, Path)  # path options always have a value
    state_file = state_directory / STATE_FILE_NAME
    if "registration_code" not in values and not state_file.exists():
        reason = f"required for first enrolment ({state_file} does not exist yet)"
        problems.append(_requirement(options["registration_code"], config_path, reason))
    if problems:
        raise ConfigError("configuration: " + "; ".join(problems))


def _check_tls_files(
    config: RunnerConfig,
    options: Mapping[str, Option],
    sources: Mapping[str, str],
    config_path: Path | None,
) -> None:
    for field in ("tls_cert", "tls_key", "tls_ca_cert"):
        path = getattr(config, field)
        if path is None:
            if field == "tls_ca_cert":
                continue
            reason = "required when tls.enabled is true"
            raise ConfigError("configuration: " + _requirement(options[field], config_path, reason))
        if not path.is_file():
            raise _fail(sources[field], options[field], f"file {path} does not exist")
