"""Runner configuration: config.json, environment and flags merged into one validated RunnerConfig.

Precedence, highest first (docs/migrating.md §1; defect R5 of docs/protocol.md §6):

1. command-line flags: the upstream spellings (``--api-url``, ``--max_concurrent_executors``, ...),
   hyphenated aliases of the underscore ones, and Go-style single-dash forms (``-api-url x``,
   through :func:`normalise_go_flags`);
2. environment variables: the upstream ``FLOMATION_*`` / ``MTLS_*`` names, then the upstream
   Docker image's ``RUNNER_*`` / ``EXECUTOR_*`` names (``FLOMATION_*`` wins when both are set);
3. the config file;
4. defaults.

An empty environment variable or flag value counts as "not set", as it did upstream.

Config file: ``--config PATH`` names it (it must then exist). Without ``--config``, a file at
``/usr/local/bin/config.json`` (the upstream image's ConfigMap mount) is used when present, and
the Docker ``RUNNER_*`` / ``EXECUTOR_*`` variables are then ignored, exactly as the upstream
image's entrypoint ignores them; otherwise ``./config.json`` is used when present; otherwise the
environment and flags alone must supply the required fields. When the Docker variables are in
use (any of ``RUNNER_URL``, ``RUNNER_NAME``, ``RUNNER_REGISTRATION_CODE`` set), the image's
defaults apply: 5 executors, ``/home/flomation/workspace/`` and the ``flomation-executor``
command.

File shape: the upstream sections ``runner``, ``execution`` and ``tls``. The fields this project
adds live in the upstream sections under their field names (``"execution": {"kill_grace_s":
10}``): the upstream runner's JSON decoder ignores keys it does not know, so one file serves both
runners. Unknown sections and unknown keys are errors (a typo must not be silently ignored);
``execution_install_dir``, ``execution_module_dir`` and ``download_on_start``, written by the
upstream Docker entrypoint, are accepted and ignored. Every added field also has an environment
variable ``FLOMATION_RUNNER_<FIELD>`` and a flag ``--<field-with-hyphens>`` (fields in seconds
also answer to the flag without ``-s``: ``--idle-timeout``). For ``execution_timeout_s``,
``idle_timeout_s`` and ``max_executions`` the value 0 means "no limit".

Every problem raises :class:`ConfigError` with one line naming the source (file, variable or
flag), the field and the problem; the registration code never appears in messages or output.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import math
import os
import shlex
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast
from urllib.parse import urlsplit

import structlog

from flomation.runner.logs import DEFAULT_BATCH_MAX_BYTES
from flomation.wire.masking import MIN_SECRET_CHARS

__all__ = [
    "DOCKER_CONFIG_PATH",
    "ConfigError",
    "RunnerConfig",
    "add_config_arguments",
    "config_file_view",
    "load_config",
    "normalise_go_flags",
    "options_markdown",
    "redacted",
    "runner_environment",
    "secret_values",
]

DOCKER_CONFIG_PATH = Path("/usr/local/bin/config.json")
_DEFAULT_CONFIG_NAME = "config.json"
_STATE_FILE_NAME = "flo.state"
_REDACTED = "********"
_DIRECTORY_MODE = 0o750
_MIB = 1024 * 1024

_log = structlog.get_logger(__name__)


class ConfigError(Exception):
    """A configuration problem; the message is one line naming source, field and problem."""


@dataclass(frozen=True, kw_only=True)
class RunnerConfig:
    """The runner's effective configuration (paths absolute, values validated)."""

    # Upstream fields (docs/migrating.md §1).
    url: str = dataclasses.field(metadata={"description": "API base URL, without /api/v1"})
    registration_code: str | None = dataclasses.field(
        default=None, repr=False, metadata={"description": "queue registration code (secret)"}
    )
    name: str = dataclasses.field(
        default="Flo Runner", metadata={"description": "display name of the runner"}
    )
    checkin_timeout_s: float = dataclasses.field(
        default=5.0, metadata={"description": "back-off after a failed poll (s)"}
    )
    certificate: Path = dataclasses.field(
        default=Path("flomation-runner.pem"),
        metadata={"description": "RSA private key PEM (created if absent)"},
    )
    max_concurrent_executors: int = dataclasses.field(
        default=1, metadata={"description": "parallel executions (<= 0 means 1)"}
    )
    state_directory: Path = dataclasses.field(
        default=Path("./"), metadata={"description": "holds flo.state and the outbox"}
    )
    execution_directory: Path = dataclasses.field(
        metadata={"description": "work directories live below it"}
    )
    executable: tuple[str, ...] = dataclasses.field(
        metadata={"description": "executor command: shell-style words or a JSON array"}
    )
    tls_enabled: bool = dataclasses.field(
        default=False, metadata={"description": "hand mTLS material to the executor"}
    )
    tls_ca_cert: Path | None = dataclasses.field(
        default=None, metadata={"description": "mTLS CA certificate file"}
    )
    tls_cert: Path | None = dataclasses.field(
        default=None, metadata={"description": "mTLS client certificate file"}
    )
    tls_key: Path | None = dataclasses.field(
        default=None, metadata={"description": "mTLS client key file"}
    )
    tls_api_url: str | None = dataclasses.field(
        default=None, metadata={"description": "API URL for the executor over mTLS"}
    )
    # Project additions.
    kill_grace_s: float = dataclasses.field(
        default=10.0, metadata={"description": "SIGTERM to SIGKILL grace on cancel (s)"}
    )
    drain_timeout_s: float = dataclasses.field(
        default=15.0,
        metadata={"description": "on SIGTERM, time running executions get to finish (s)"},
    )
    execution_timeout_s: float | None = dataclasses.field(
        default=None, metadata={"description": "cancel an execution after this long (s; 0 = none)"}
    )
    status_poll_interval_s: float = dataclasses.field(
        default=2.0, metadata={"description": "cancellation poll period (s)"}
    )
    log_flush_interval_s: float = dataclasses.field(
        default=0.25, metadata={"description": "log batch flush period (s)"}
    )
    log_batch_max_bytes: int = dataclasses.field(
        default=DEFAULT_BATCH_MAX_BYTES, metadata={"description": "largest log batch sent (bytes)"}
    )
    log_queue_max_bytes: int = dataclasses.field(
        default=8 * _MIB, metadata={"description": "live log queue bound per execution (bytes)"}
    )
    max_line_bytes: int = dataclasses.field(
        default=_MIB, metadata={"description": "longer output lines are cut (bytes)"}
    )
    max_result_log_bytes: int = dataclasses.field(
        default=16 * _MIB, metadata={"description": "output kept in the final result (bytes)"}
    )
    max_spool_bytes: int = dataclasses.field(
        default=64 * _MIB,
        metadata={
            "description": "disk an execution's output spool may take: head and tail kept (bytes)"
        },
    )
    secret_env_patterns: tuple[str, ...] = dataclasses.field(
        default=(
            "*_TOKEN",
            "*_SECRET",
            "*_PASSWORD",
            "*_KEY",
            "*_API_KEY",
            "*_PRIVATE_KEY",
            "*_CONNECTION_STRING",
        ),
        metadata={
            "description": (
                "names of environment variables whose values are masked and, unless passed"
                " through, kept from the executor (comma-separated patterns)"
            )
        },
    )
    isolation: Literal["none", "bwrap"] = dataclasses.field(
        default="none",
        metadata={
            "description": (
                "none, or bwrap: run each executor in a bubblewrap sandbox (docs/security.md)"
            )
        },
    )
    secret_env_passthrough: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata={
            "description": (
                "secret-named environment variables still passed to the executor, masked"
                " (comma-separated names)"
            )
        },
    )
    max_claim_bytes: int = dataclasses.field(
        default=64 * _MIB,
        metadata={
            "description": "longest claim answer read, after decompression; longer fails it (bytes)"
        },
    )
    health_addr: str | None = dataclasses.field(
        default=None,
        metadata={"description": "HOST:PORT of the health and metrics listener (off when unset)"},
    )
    keep_failed_workdirs: int = dataclasses.field(
        default=10, metadata={"description": "failed work directories kept"}
    )
    min_free_disk_bytes: int = dataclasses.field(
        default=512 * _MIB, metadata={"description": "stop claiming below this free space (bytes)"}
    )
    signing_v2: bool = dataclasses.field(
        default=True, metadata={"description": "send the v2 signature header too"}
    )
    once: bool = dataclasses.field(
        default=False, metadata={"description": "run one execution, then exit with its outcome"}
    )
    max_executions: int | None = dataclasses.field(
        default=None, metadata={"description": "exit after this many executions (0 = no limit)"}
    )
    idle_timeout_s: float | None = dataclasses.field(
        default=None, metadata={"description": "exit after this long without work (s; 0 = none)"}
    )
    log_format: Literal["auto", "json", "console"] = dataclasses.field(
        default="auto",
        metadata={"description": "auto: console on a terminal, JSON lines otherwise"},
    )
    log_level: str = dataclasses.field(
        default="info", metadata={"description": "debug, info, warning, error or critical"}
    )
    outbox_path: Path | None = dataclasses.field(
        default=None,
        metadata={"description": "outbox SQLite file (default <state_directory>/outbox.sqlite3)"},
    )

    @property
    def state_file(self) -> Path:
        """``flo.state``, the file holding the runner identifier (docs/protocol.md §2.1)."""
        return self.state_directory / _STATE_FILE_NAME

    @property
    def go_state_file(self) -> Path:
        """Where the upstream Go runner keeps ``flo.state`` for a ``state_directory`` without a
        trailing slash: it concatenates strings (``./st`` + ``flo.state`` = ``./stflo.state``)."""
        return self.state_directory.parent / (self.state_directory.name + _STATE_FILE_NAME)

    @property
    def outbox_file(self) -> Path:
        """The durable outbox's SQLite file."""
        return self.outbox_path or self.state_directory / "outbox.sqlite3"

    @property
    def health_host_port(self) -> tuple[str, int] | None:
        """``health_addr`` split into host (IPv6 brackets removed) and port, or None when off."""
        if self.health_addr is None:
            return None
        host, _, port = self.health_addr.rpartition(":")
        return host.strip("[]"), int(port)


_FIELDS = {field.name: field for field in dataclasses.fields(RunnerConfig)}


def _description(name: str) -> str:
    """The help text of configuration field ``name``."""
    return str(_FIELDS[name].metadata["description"])


def _json_value(value: object) -> object:
    """A field's value as JSON data: paths as strings, tuples as lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# --- value conversion -------------------------------------------------------------------------
# Converters take a JSON value from the file or a string from the environment or a flag, and
# raise _Invalid with the problem; the caller adds source, field and (non-secret) value.


class _Invalid(ValueError):
    """A value that cannot be used; the message states the problem only."""


_Convert = Callable[[object], object]
_TRUE_WORDS = frozenset({"1", "t", "true", "y", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "f", "false", "n", "no", "off"})
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_LOG_FORMATS = ("auto", "json", "console")


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid("expected a string")
    return value


def _url(value: object) -> str:
    text = _text(value).strip()
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise _Invalid(f"not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise _Invalid("expected an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise _Invalid("the URL must not carry a query or a fragment")
    return text.rstrip("/")


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid("expected a number")
    try:
        number = float(value)
    except ValueError as exc:
        raise _Invalid("expected a number") from exc
    if not math.isfinite(number):
        raise _Invalid("expected a finite number")
    return number


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid("expected a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise _Invalid("expected a whole number")
        return int(value)
    try:
        return int(value.strip(), 10)
    except ValueError as exc:
        raise _Invalid("expected a whole number") from exc


def _seconds(*, allow_zero: bool) -> _Convert:
    def convert(value: object) -> float:
        seconds = _number(value)
        if seconds < 0 or (seconds == 0 and not allow_zero):
            bound = "0 or more" if allow_zero else "more than 0"
            raise _Invalid(f"expected a number of seconds, {bound}")
        return seconds

    return convert


def _optional_seconds(value: object) -> float | None:
    seconds = _number(value)
    if seconds < 0:
        raise _Invalid("expected a number of seconds, 0 (no limit) or more")
    return seconds or None


def _count(minimum: int) -> _Convert:
    def convert(value: object) -> int:
        count = _whole(value)
        if count < minimum:
            raise _Invalid(f"expected a whole number, {minimum} or more")
        return count

    return convert


def _optional_count(value: object) -> int | None:
    count = _whole(value)
    if count < 0:
        raise _Invalid("expected a whole number, 0 (no limit) or more")
    return count or None


def _slots(value: object) -> int:
    # Upstream treats zero and negative values as one slot.
    return max(_whole(value), 1)


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise _Invalid("expected true or false")


def _path(value: object) -> Path:
    return Path(_text(value))


def _command(value: object) -> tuple[str, ...]:
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise _Invalid(f"malformed JSON array ({exc.msg})") from exc
    if isinstance(value, list):
        if not all(isinstance(word, str) for word in value):
            raise _Invalid("a JSON array command must hold strings only")
        words = [str(word) for word in value]
    elif isinstance(value, str):
        try:
            words = shlex.split(value, comments=False, posix=True)
        except ValueError as exc:
            raise _Invalid(f"cannot split the command ({exc})") from exc
    else:
        raise _Invalid("expected a command string or a JSON array of strings")
    if not words or not words[0]:
        raise _Invalid("the command is empty")
    return tuple(words)


def _patterns(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list):
        items = value
    else:
        raise _Invalid("expected a comma-separated string or a JSON array of strings")
    if not all(isinstance(item, str) for item in items):
        raise _Invalid("expected a comma-separated string or a JSON array of strings")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _host_port(value: object) -> str:
    text = _text(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise _Invalid("expected HOST:PORT with a port from 0 to 65535")
    return text


def _choice(options: Sequence[str], aliases: Mapping[str, str] | None = None) -> _Convert:
    def convert(value: object) -> str:
        word = _text(value).strip().lower()
        word = (aliases or {}).get(word, word)
        if word not in options:
            raise _Invalid(f"expected one of {', '.join(options)}")
        return word

    return convert


# --- the option table -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Option:
    """One configuration field and every way to set it."""

    field: str
    section: str
    key: str
    env: tuple[str, ...]
    flags: tuple[str, ...]
    convert: _Convert
    kind: Literal["value", "go_bool", "bool"] = "value"
    secret: bool = False
    is_path: bool = False

    @property
    def label(self) -> str:
        return f"{self.section}.{self.key}"


def _added(
    field: str,
    section: str,
    convert: _Convert,
    *,
    kind: Literal["value", "bool"] = "value",
    is_path: bool = False,
) -> _Option:
    """An option this project adds: env FLOMATION_RUNNER_<FIELD>, flag --<field-with-hyphens>."""
    flag = "--" + field.replace("_", "-")
    flags = (flag, flag.removesuffix("-s")) if field.endswith("_s") else (flag,)
    env = ("FLOMATION_RUNNER_" + field.upper(),)
    return _Option(field, section, field, env, flags, convert, kind=kind, is_path=is_path)


_OPTIONS: tuple[_Option, ...] = (
    _Option("url", "runner", "url", ("FLOMATION_API", "RUNNER_URL"), ("--api-url",), _url),
    _Option(
        "registration_code",
        "runner",
        "registration_code",
        ("FLOMATION_REGISTRATION_CODE", "RUNNER_REGISTRATION_CODE"),
        ("--registration-code",),
        _text,
        secret=True,
    ),
    _Option(
        "name",
        "runner",
        "name",
        ("FLOMATION_RUNNER_NAME", "RUNNER_NAME"),
        ("--runner-name",),
        _text,
    ),
    _Option(
        "checkin_timeout_s",
        "runner",
        "checkin_timeout",
        ("FLOMATION_RUNNER_CHECKIN_TIMEOUT", "RUNNER_CHECKIN_TIMEOUT"),
        ("--checkin-timeout",),
        _seconds(allow_zero=False),
    ),
    _Option(
        "certificate",
        "runner",
        "certificate",
        ("FLOMATION_RUNNER_CERTIFICATE_PATH",),
        ("--certificate-filename",),
        _path,
        is_path=True,
    ),
    _Option(
        "max_concurrent_executors",
        "execution",
        "max_concurrent_executors",
        ("FLOMATION_RUNNER_MAX_EXECUTORS", "EXECUTOR_MAX_CONCURRENT"),
        ("--max_concurrent_executors", "--max-concurrent-executors"),
        _slots,
    ),
    _Option(
        "state_directory",
        "execution",
        "state_directory",
        ("FLOMATION_RUNNER_STATE_DIRECTORY",),
        ("--state_directory", "--state-directory"),
        _path,
        is_path=True,
    ),
    _Option(
        "execution_directory",
        "execution",
        "execution_directory",
        ("FLOMATION_RUNNER_EXECUTION_DIRECTORY", "EXECUTOR_DIRECTORY"),
        ("--execution_directory", "--execution-directory"),
        _path,
        is_path=True,
    ),
    _Option(
        "executable",
        "execution",
        "executable_name",
        ("FLOMATION_RUNNER_EXECUTABLE_NAME",),
        ("--executable_name", "--executable-name"),
        _command,
    ),
    _Option(
        "tls_enabled", "tls", "enabled", ("MTLS_ENABLED",), ("--mtls-enabled",), _boolean, "go_bool"
    ),
    _Option(
        "tls_ca_cert", "tls", "ca_cert", ("MTLS_CA_CERT",), ("--mtls-ca-cert",), _path, is_path=True
    ),
    _Option("tls_cert", "tls", "cert", ("MTLS_CERT",), ("--mtls-cert",), _path, is_path=True),
    _Option("tls_key", "tls", "key", ("MTLS_KEY",), ("--mtls-key",), _path, is_path=True),
    _Option("tls_api_url", "tls", "api_url", ("MTLS_API_URL",), ("--mtls-api-url",), _url),
    _added("kill_grace_s", "execution", _seconds(allow_zero=True)),
    _added("drain_timeout_s", "runner", _seconds(allow_zero=True)),
    _added("execution_timeout_s", "execution", _optional_seconds),
    _added("status_poll_interval_s", "execution", _seconds(allow_zero=False)),
    _added("log_flush_interval_s", "execution", _seconds(allow_zero=False)),
    _added("log_batch_max_bytes", "execution", _count(1)),
    _added("log_queue_max_bytes", "execution", _count(1)),
    _added("max_line_bytes", "execution", _count(1)),
    _added("max_result_log_bytes", "execution", _count(1)),
    _added("max_spool_bytes", "execution", _count(4096)),
    _added("secret_env_patterns", "runner", _patterns),
    _added("secret_env_passthrough", "execution", _patterns),
    _added("isolation", "execution", _choice(("none", "bwrap"))),
    _added("max_claim_bytes", "runner", _count(1024)),
    _added("health_addr", "runner", _host_port),
    _added("keep_failed_workdirs", "execution", _count(0)),
    _added("min_free_disk_bytes", "execution", _count(0)),
    _added("signing_v2", "runner", _boolean, kind="bool"),
    _added("once", "runner", _boolean, kind="bool"),
    _added("max_executions", "runner", _optional_count),
    _added("idle_timeout_s", "runner", _optional_seconds),
    _added("log_format", "runner", _choice(_LOG_FORMATS)),
    _added("log_level", "runner", _choice(_LOG_LEVELS, {"warn": "warning"})),
    _added("outbox_path", "runner", _path, is_path=True),
)

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
# Never handed to the executor: the runner's own configuration and its secrets (§5.6). The
# executor's own settings (FLOMATION_EXECUTOR_*: network guard, limits) are passed on.
_PRIVATE_ENV_PREFIXES = ("FLOMATION_", "MTLS_")
_EXECUTOR_ENV_PREFIX = "FLOMATION_EXECUTOR_"
_PRIVATE_ENV_NAMES = frozenset(
    {"RUNNER_URL", "RUNNER_REGISTRATION_CODE", "RUNNER_NAME", "RUNNER_CHECKIN_TIMEOUT"}
)


_METAVARS: Mapping[str, str] = {
    "registration_code": "CODE",
    "max_concurrent_executors": "N",
    "executable": "COMMAND",
    "secret_env_patterns": "PATTERNS",
    "secret_env_passthrough": "NAMES",
    "isolation": "{none,bwrap}",
    "health_addr": "HOST:PORT",
    "keep_failed_workdirs": "N",
    "max_executions": "N",
    "log_format": "{auto,json,console}",
    "log_level": "LEVEL",
}


def _metavar(option: _Option) -> str:
    if option.field in _METAVARS:
        return _METAVARS[option.field]
    if option.is_path:
        return "PATH"
    if option.convert is _url:
        return "URL"
    if option.field.endswith("_s"):
        return "SECONDS"
    if option.field.endswith("_bytes"):
        return "BYTES"
    return option.key.upper()


def _help(option: _Option) -> str:
    env = " or ".join(option.env)
    return f"{_description(option.field)} [{option.label}; env {env}]"


# --- command line -----------------------------------------------------------------------------


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config`` and one flag per configuration field; every flag defaults to None."""
    group = parser.add_argument_group("configuration (flag > environment > config file > default)")
    group.add_argument(
        "--config",
        dest="config",
        default=None,
        metavar="PATH",
        help="config file (default: ./config.json, or /usr/local/bin/config.json when present)",
    )
    for option in _OPTIONS:
        if option.kind == "bool":
            group.add_argument(
                *option.flags,
                dest=option.field,
                default=None,
                action=argparse.BooleanOptionalAction,
                help=_help(option),
            )
        elif option.kind == "go_bool":
            # Upstream reads "--mtls-enabled true"; a bare "--mtls-enabled" means true here.
            group.add_argument(
                *option.flags,
                dest=option.field,
                default=None,
                nargs="?",
                const="true",
                metavar="BOOL",
                help=_help(option),
            )
        else:
            group.add_argument(
                *option.flags,
                dest=option.field,
                default=None,
                metavar=_metavar(option),
                help=_help(option),
            )


def _long_flag_names() -> frozenset[str]:
    names = {"config"}
    for option in _OPTIONS:
        for flag in option.flags:
            names.add(flag.removeprefix("--"))
            if option.kind == "bool":
                names.add("no-" + flag.removeprefix("--"))
    return frozenset(names)


def normalise_go_flags(argv: Iterable[str]) -> list[str]:
    """Rewrite Go-style ``-name`` / ``-name=value`` to ``--name`` for this module's long flags."""
    known = _long_flag_names()
    result: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--":
            result.append(argument)
            result.extend(arguments)
            break
        if argument.startswith("-") and not argument.startswith("--"):
            name = argument[1:].partition("=")[0]
            if name in known:
                argument = "-" + argument
        result.append(argument)
    return result


# --- loading ----------------------------------------------------------------------------------


class _Candidate(NamedTuple):
    value: object
    source: str


def _fail(source: str, option: _Option, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {option.label}: {problem}")


def _shown(option: _Option, value: object) -> str:
    if option.secret:
        return _REDACTED
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
    known = {(option.section, option.key) for option in _OPTIONS}
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
    option: _Option,
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
    """The program of ``command``, made absolute when it is a relative path; or _Invalid."""
    program = command[0]
    if "/" in program:
        candidate = _absolute(Path(program), cwd)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        raise _Invalid(f"unknown executor {program!r}: no executable file at {candidate}")
    if shutil.which(program, path=environ.get("PATH", os.defpath)) is None:
        raise _Invalid(f"unknown executor {program!r}: not found on PATH")
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
    options = {option.field: option for option in _OPTIONS}
    _check_required(values, options, config_path)

    executable = values["executable"]
    assert isinstance(executable, tuple)  # _command always returns a tuple
    try:
        program = _check_executable(executable, environ, cwd)
    except _Invalid as exc:
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
    for option in _OPTIONS:
        found = _candidate(option, args, environ, file_values, file_label, not docker_file)
        if found is None and docker_mode and option.field in _DOCKER_DEFAULTS:
            found = _Candidate(_DOCKER_DEFAULTS[option.field], "Docker image default")
        if found is None:
            default = _FIELDS[option.field].default
            if option.is_path and isinstance(default, Path):
                values[option.field] = _absolute(default, cwd)
                sources[option.field] = "default"
            continue
        try:
            value = option.convert(found.value)
        except _Invalid as exc:
            problem = f"{exc} (got {_shown(option, found.value)})"
            raise _fail(found.source, option, problem) from None
        if option.is_path and isinstance(value, Path):
            value = _absolute(value, cwd)
        values[option.field] = value
        sources[option.field] = found.source
    return values, sources


def _requirement(option: _Option, config_path: Path | None, reason: str) -> str:
    where = ", ".join([f"{option.label} in {config_path or _DEFAULT_CONFIG_NAME}", *option.env])
    return f"{option.label} is {reason} (set {where} or {option.flags[0]})"


def _check_required(
    values: Mapping[str, object], options: Mapping[str, _Option], config_path: Path | None
) -> None:
    """One error listing every missing required field, as the upstream image's entrypoint does."""
    problems = [
        _requirement(options[field], config_path, "required")
        for field in _REQUIRED
        if field not in values
    ]
    state_directory = values["state_directory"]
    assert isinstance(state_directory, Path)  # path options always have a value
    state_file = state_directory / _STATE_FILE_NAME
    if "registration_code" not in values and not state_file.exists():
        reason = f"required for first enrolment ({state_file} does not exist yet)"
        problems.append(_requirement(options["registration_code"], config_path, reason))
    if problems:
        raise ConfigError("configuration: " + "; ".join(problems))


def _check_tls_files(
    config: RunnerConfig,
    options: Mapping[str, _Option],
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


# --- output and environment -------------------------------------------------------------------


def redacted(config: RunnerConfig) -> dict[str, object]:
    """The effective configuration as JSON-able data, with the registration code hidden."""
    data: dict[str, object] = {name: _json_value(getattr(config, name)) for name in _FIELDS}
    data["registration_code"] = None if config.registration_code is None else _REDACTED
    data["state_file"] = str(config.state_file)
    data["outbox_file"] = str(config.outbox_file)
    return data


def config_file_view(config: RunnerConfig) -> dict[str, dict[str, object]]:
    """The configuration as a ``config.json`` this runner accepts: upstream sections and keys.

    Unset optional values are left out; the registration code is redacted.
    """
    sections: dict[str, dict[str, object]] = {}
    for option in _OPTIONS:
        value = getattr(config, option.field)
        if value is None:
            continue
        if option.secret:
            value = _REDACTED
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        sections.setdefault(option.section, {})[option.key] = value
    return sections


def _is_secret_name(name: str, upper_patterns: Sequence[str]) -> bool:
    """Whether an environment variable's name matches ``secret_env_patterns`` (any case)."""
    return any(fnmatch.fnmatchcase(name.upper(), pattern) for pattern in upper_patterns)


def runner_environment(config: RunnerConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for the executor: inherited, minus the runner's settings and secrets.

    Removed: the runner's own settings (``FLOMATION_*`` but the executor's own
    ``FLOMATION_EXECUTOR_*``, ``MTLS_*``, the Docker ``RUNNER_*`` ones) and every variable whose
    name matches ``secret_env_patterns``, unless its exact name is in ``secret_env_passthrough``
    (docs/security.md). The upstream Go runner passes every
    variable but its own settings; docs/migrating.md notes the difference.
    """
    patterns = [pattern.upper() for pattern in config.secret_env_patterns]
    passed = frozenset(config.secret_env_passthrough)
    return {
        name: value
        for name, value in environ.items()
        if (name.startswith(_EXECUTOR_ENV_PREFIX) or not name.startswith(_PRIVATE_ENV_PREFIXES))
        and name not in _PRIVATE_ENV_NAMES
        and (name in passed or not _is_secret_name(name, patterns))
    }


def secret_values(config: RunnerConfig, environ: Mapping[str, str]) -> list[str]:
    """Values to mask in forwarded output, longest first.

    Environment values whose upper-cased names match ``secret_env_patterns`` (case-sensitive
    ``fnmatch`` against upper-cased patterns), plus the registration code; values shorter than
    four characters are skipped, since masking them would garble ordinary output. Variables
    passed through to the executor (``secret_env_passthrough``) are masked whatever their
    names.
    """
    patterns = [pattern.upper() for pattern in config.secret_env_patterns]
    passed = frozenset(config.secret_env_passthrough)
    found = {
        value
        for name, value in environ.items()
        if name in passed or _is_secret_name(name, patterns)
    }
    if config.registration_code is not None:
        found.add(config.registration_code)
    return sorted((v for v in found if len(v) >= MIN_SECRET_CHARS), key=lambda v: (-len(v), v))


def options_markdown() -> str:
    """The README's configuration table, rendered from the option table so the two never drift."""
    rows = [
        "| config.json key | environment variable | flag | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for option in _OPTIONS:
        default = _DEFAULT_TEXT.get(option.field, _default_text(_FIELDS[option.field].default))
        env = ", ".join(f"`{name}`" for name in option.env)
        flags = ", ".join(f"`{flag}`" for flag in option.flags)
        description = _description(option.field).replace("|", "\\|")
        rows.append(f"| `{option.label}` | {env} | {flags} | {default} | {description} |")
    return "\n".join(rows) + "\n"


_DEFAULT_TEXT: Mapping[str, str] = {
    "url": "required",
    "execution_directory": "required",
    "executable": "required",
    "registration_code": "required on first enrolment",
}


def _default_text(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return "`" + ",".join(str(item) for item in value) + "`" if value else "unset"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value}`"
