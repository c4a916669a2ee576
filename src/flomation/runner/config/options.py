"""Every way to set a configuration field: converters, the option table and the flags.

Converters take a JSON value from the file or a string from the environment or a flag; the option
table names, for each field of ``RunnerConfig``, its config.json section and key, its environment
variables and its flags (docs/migrating.md §1).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from flomation.runner.config.model import field_description

__all__ = ["OPTIONS", "InvalidValue", "Option", "add_config_arguments", "normalise_go_flags"]

# Converters take a JSON value from the file or a string from the environment or a flag, and
# raise InvalidValue with the problem; the caller adds source, field and (non-secret) value.


class InvalidValue(ValueError):
    """A value that cannot be used; the message states the problem only."""


_Convert = Callable[[object], object]
_TRUE_WORDS = frozenset({"1", "t", "true", "y", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "f", "false", "n", "no", "off"})
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_LOG_FORMATS = ("auto", "json", "console")


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue("expected a string")
    return value


def _url(value: object) -> str:
    text = _text(value).strip()
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise InvalidValue(f"not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise InvalidValue("expected an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise InvalidValue("the URL must not carry a query or a fragment")
    return text.rstrip("/")


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidValue("expected a number")
    try:
        number = float(value)
    except ValueError as exc:
        raise InvalidValue("expected a number") from exc
    if not math.isfinite(number):
        raise InvalidValue("expected a finite number")
    return number


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidValue("expected a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidValue("expected a whole number")
        return int(value)
    try:
        return int(value.strip(), 10)
    except ValueError as exc:
        raise InvalidValue("expected a whole number") from exc


def _seconds(*, allow_zero: bool) -> _Convert:
    def convert(value: object) -> float:
        seconds = _number(value)
        if seconds < 0 or (seconds == 0 and not allow_zero):
            bound = "0 or more" if allow_zero else "more than 0"
            raise InvalidValue(f"expected a number of seconds, {bound}")
        return seconds

    return convert


def _optional_seconds(value: object) -> float | None:
    seconds = _number(value)
    if seconds < 0:
        raise InvalidValue("expected a number of seconds, 0 (no limit) or more")
    return seconds or None


def _count(minimum: int) -> _Convert:
    def convert(value: object) -> int:
        count = _whole(value)
        if count < minimum:
            raise InvalidValue(f"expected a whole number, {minimum} or more")
        return count

    return convert


def _optional_count(value: object) -> int | None:
    count = _whole(value)
    if count < 0:
        raise InvalidValue("expected a whole number, 0 (no limit) or more")
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
    raise InvalidValue("expected true or false")


def _path(value: object) -> Path:
    return Path(_text(value))


def _command(value: object) -> tuple[str, ...]:
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidValue(f"malformed JSON array ({exc.msg})") from exc
    if isinstance(value, list):
        if not all(isinstance(word, str) for word in value):
            raise InvalidValue("a JSON array command must hold strings only")
        words = [str(word) for word in value]
    elif isinstance(value, str):
        try:
            words = shlex.split(value, comments=False, posix=True)
        except ValueError as exc:
            raise InvalidValue(f"cannot split the command ({exc})") from exc
    else:
        raise InvalidValue("expected a command string or a JSON array of strings")
    if not words or not words[0]:
        raise InvalidValue("the command is empty")
    return tuple(words)


def _patterns(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidValue("expected a comma-separated string or a JSON array of strings")
    if not all(isinstance(item, str) for item in items):
        raise InvalidValue("expected a comma-separated string or a JSON array of strings")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _host_port(value: object) -> str:
    text = _text(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise InvalidValue("expected HOST:PORT with a port from 0 to 65535")
    return text


def _choice(options: Sequence[str], aliases: Mapping[str, str] | None = None) -> _Convert:
    def convert(value: object) -> str:
        word = _text(value).strip().lower()
        word = (aliases or {}).get(word, word)
        if word not in options:
            raise InvalidValue(f"expected one of {', '.join(options)}")
        return word

    return convert


# --- the option table -------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
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
) -> Option:
    """An option this project adds: env FLOMATION_RUNNER_<FIELD>, flag --<field-with-hyphens>."""
    flag = "--" + field.replace("_", "-")
    flags = (flag, flag.removesuffix("-s")) if field.endswith("_s") else (flag,)
    env = ("FLOMATION_RUNNER_" + field.upper(),)
    return Option(field, section, field, env, flags, convert, kind=kind, is_path=is_path)


OPTIONS: tuple[Option, ...] = (
    Option("url", "runner", "url", ("FLOMATION_API", "RUNNER_URL"), ("--api-url",), _url),
    Option(
        "registration_code",
        "runner",
        "registration_code",
        ("FLOMATION_REGISTRATION_CODE", "RUNNER_REGISTRATION_CODE"),
        ("--registration-code",),
        _text,
        secret=True,
    ),
    Option(
        "name",
        "runner",
        "name",
        ("FLOMATION_RUNNER_NAME", "RUNNER_NAME"),
        ("--runner-name",),
        _text,
    ),
    Option(
        "checkin_timeout_s",
        "runner",
        "checkin_timeout",
        ("FLOMATION_RUNNER_CHECKIN_TIMEOUT", "RUNNER_CHECKIN_TIMEOUT"),
        ("--checkin-timeout",),
        _seconds(allow_zero=False),
    ),
    Option(
        "certificate",
        "runner",
        "certificate",
        ("FLOMATION_RUNNER_CERTIFICATE_PATH",),
        ("--certificate-filename",),
        _path,
        is_path=True,
    ),
    Option(
        "max_concurrent_executors",
        "execution",
        "max_concurrent_executors",
        ("FLOMATION_RUNNER_MAX_EXECUTORS", "EXECUTOR_MAX_CONCURRENT"),
        ("--max_concurrent_executors", "--max-concurrent-executors"),
        _slots,
    ),
    Option(
        "state_directory",
        "execution",
        "state_directory",
        ("FLOMATION_RUNNER_STATE_DIRECTORY",),
        ("--state_directory", "--state-directory"),
        _path,
        is_path=True,
    ),
    Option(
        "execution_directory",
        "execution",
        "execution_directory",
        ("FLOMATION_RUNNER_EXECUTION_DIRECTORY", "EXECUTOR_DIRECTORY"),
        ("--execution_directory", "--execution-directory"),
        _path,
        is_path=True,
    ),
    Option(
        "executable",
        "execution",
        "executable_name",
        ("FLOMATION_RUNNER_EXECUTABLE_NAME",),
        ("--executable_name", "--executable-name"),
        _command,
    ),
    Option(
        "tls_enabled", "tls", "enabled", ("MTLS_ENABLED",), ("--mtls-enabled",), _boolean, "go_bool"
    ),
    Option(
        "tls_ca_cert", "tls", "ca_cert", ("MTLS_CA_CERT",), ("--mtls-ca-cert",), _path, is_path=True
    ),
    Option("tls_cert", "tls", "cert", ("MTLS_CERT",), ("--mtls-cert",), _path, is_path=True),
    Option("tls_key", "tls", "key", ("MTLS_KEY",), ("--mtls-key",), _path, is_path=True),
    Option("tls_api_url", "tls", "api_url", ("MTLS_API_URL",), ("--mtls-api-url",), _url),
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
    _added("warm_executor", "execution", _choice(("auto", "on", "off"))),
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

_METAVARS: Mapping[str, str] = {
    "registration_code": "CODE",
    "max_concurrent_executors": "N",
    "executable": "COMMAND",
    "secret_env_patterns": "PATTERNS",
    "secret_env_passthrough": "NAMES",
    "isolation": "{none,bwrap}",
    "warm_executor": "{auto,on,off}",
    "health_addr": "HOST:PORT",
    "keep_failed_workdirs": "N",
    "max_executions": "N",
    "log_format": "{auto,json,console}",
    "log_level": "LEVEL",
}


def _metavar(option: Option) -> str:
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


def _help(option: Option) -> str:
    env = " or ".join(option.env)
    return f"{field_description(option.field)} [{option.label}; env {env}]"


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
    for option in OPTIONS:
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
    for option in OPTIONS:
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
