"""What the configuration gives out: the executor's environment, the values to mask, the
redacted and config.json views (``print-config``), and the README's option table.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from pathlib import Path

from flomation.runner.config.model import (
    FIELDS,
    REDACTED,
    RunnerConfig,
    field_description,
    json_value,
)
from flomation.runner.config.options import OPTIONS
from flomation.wire.masking import MIN_SECRET_CHARS

__all__ = [
    "config_file_view",
    "options_markdown",
    "redacted",
    "runner_environment",
    "secret_values",
]

# Never handed to the executor: the runner's own configuration and its secrets (§5.6). The
# executor's own settings (FLOMATION_EXECUTOR_*: network guard, limits) are passed on.
_PRIVATE_ENV_PREFIXES = ("FLOMATION_", "MTLS_")
_EXECUTOR_ENV_PREFIX = "FLOMATION_EXECUTOR_"
_PRIVATE_ENV_NAMES = frozenset(
    {"RUNNER_URL", "RUNNER_REGISTRATION_CODE", "RUNNER_NAME", "RUNNER_CHECKIN_TIMEOUT"}
)


def redacted(config: RunnerConfig) -> dict[str, object]:
    """The effective configuration as JSON-able data, with the registration code hidden."""
    data: dict[str, object] = {name: json_value(getattr(config, name)) for name in FIELDS}
    data["registration_code"] = None if config.registration_code is None else REDACTED
    data["state_file"] = str(config.state_file)
    data["outbox_file"] = str(config.outbox_file)
    return data


def config_file_view(config: RunnerConfig) -> dict[str, dict[str, object]]:
    """The configuration as a ``config.json`` this runner accepts: upstream sections and keys.

    Unset optional values are left out; the registration code is redacted.
    """
    sections: dict[str, dict[str, object]] = {}
    for option in OPTIONS:
        value = getattr(config, option.field)
        if value is None:
            continue
        if option.secret:
            value = REDACTED
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
    for option in OPTIONS:
        default = _DEFAULT_TEXT.get(option.field, _default_text(FIELDS[option.field].default))
        env = ", ".join(f"`{name}`" for name in option.env)
        flags = ", ".join(f"`{flag}`" for flag in option.flags)
        description = field_description(option.field).replace("|", "\\|")
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
