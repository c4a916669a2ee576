"""Command-line parsing with the exact rules of Go's standard ``flag`` package (docs/flows.md §2.1).

``-name`` and ``--name`` are equivalent, ``--name value`` and ``--name=value`` too; boolean flags
take a value only with ``=``; parsing stops at the first non-flag argument or after ``--``; the
last repetition of a flag wins. Errors carry the Go message text and the exit code (2, or 0 for
``-h``/``-help``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flomation.executor.gojson import go_quote

__all__ = [
    "ENVIRONMENT_FLAGS",
    "FLAGS",
    "FlagError",
    "FlagSpec",
    "HelpRequested",
    "parse_flags",
    "usage_text",
]

PROGRAM_NAME = "flomation-executor"


class FlagSpec:
    """One flag: its name, whether it is boolean, its default and its help text.

    A plain class rather than a dataclass: ``dataclasses`` costs ~15 ms to import, and this
    module is on the ``--version`` start-up path.
    """

    __slots__ = ("default", "name", "usage")

    def __init__(self, name: str, default: str | bool, usage: str) -> None:
        self.name = name
        self.default = default
        self.usage = usage

    @property
    def is_bool(self) -> bool:
        """Boolean flags take no separate value argument."""
        return isinstance(self.default, bool)


FLAGS: tuple[FlagSpec, ...] = (
    FlagSpec("api", "https://api.flomation.app", "API base URL used by the environment client"),
    FlagSpec("checkpoint", "", "checkpoint file to resume a suspended execution from"),
    FlagSpec("context", "", "execution context JSON file"),
    FlagSpec("debug", False, "log at debug level"),
    FlagSpec("entry", "", "id of the node to start at (empty: first trigger)"),
    FlagSpec("environment", "default", "environment id for env/secret/credential values"),
    FlagSpec("flow", "", "flow id (copied to state.json)"),
    FlagSpec("id", "", "execution id (default: a random UUID)"),
    FlagSpec("identity", "https://id.flomation.app", "identity service URL"),
    FlagSpec("key", "", "path of the runner's RSA private key (PEM) used to sign requests"),
    FlagSpec("manifest", "", "write the action manifest to this file and exit"),
    FlagSpec(
        "max-value-bytes",
        "16777216",
        "largest value a substitution may produce; a larger one fails the node (this project's;"
        " env FLOMATION_EXECUTOR_MAX_VALUE_BYTES)",
    ),
    FlagSpec(
        "network-guard",
        "metadata",
        "addresses web nodes may not reach: metadata (link-local, cloud metadata), private"
        " (also loopback and private ranges) or off (this project's;"
        " env FLOMATION_EXECUTOR_NETWORK_GUARD)",
    ),
    FlagSpec("output", "default", "log format: json or text"),
    FlagSpec("password", "", "password for the identity service"),
    FlagSpec("path", "", "flow file to execute"),
    FlagSpec("runner", "local", "name of the runner (logged only)"),
    FlagSpec(
        "run-timeout",
        "0",
        "cancel the run and fail it after this many seconds; 0 = none (this project's;"
        " env FLOMATION_EXECUTOR_RUN_TIMEOUT)",
    ),
    FlagSpec("token", "", "bearer token for environment calls"),
    FlagSpec("trigger-data", "", "trigger invocation JSON file"),
    FlagSpec("user", "", "user name for the identity service"),
    FlagSpec("version", False, "print the version and exit"),
)


# This project's flags, also read from the environment (see parse_flags).
ENVIRONMENT_FLAGS = ("max-value-bytes", "network-guard", "run-timeout")


class FlagError(Exception):
    """A command-line error: ``message`` goes to stderr before the usage text; exit code 2."""

    exit_code = 2


class HelpRequested(FlagError):
    """``-h``/``-help``: usage on stderr, exit code 0."""

    exit_code = 0


def usage_text(flags: Sequence[FlagSpec] = FLAGS) -> str:
    """The usage text in Go's ``flag.PrintDefaults`` layout."""
    lines = [f"Usage of {PROGRAM_NAME}:"]
    for spec in sorted(flags, key=lambda item: item.name):
        if spec.is_bool:
            lines.append(f"  -{spec.name}")
            lines.append(f"    \t{spec.usage}")
            continue
        lines.append(f"  -{spec.name} string")
        default = f' (default "{spec.default}")' if spec.default else ""
        lines.append(f"    \t{spec.usage}{default}")
    return "\n".join(lines) + "\n"


def _parse_go_bool(text: str) -> bool | None:
    from flomation.executor.accessors import GO_BOOL_FALSE, GO_BOOL_TRUE

    if text in GO_BOOL_TRUE:
        return True
    if text in GO_BOOL_FALSE:
        return False
    return None


def parse_flags(
    arguments: Sequence[str],
    flags: Sequence[FlagSpec] = FLAGS,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str | bool]:
    """Every flag's value (defaults filled in); raises FlagError / HelpRequested.

    The flags this project adds (the upstream executor has none of them, cmd/main.go of
    flomation-co/executor) also read ``FLOMATION_EXECUTOR_<NAME>`` from ``environ`` when not
    given: the runner can set them without passing flags an upstream executor would refuse.
    """
    by_name = {spec.name: spec for spec in flags}
    values: dict[str, str | bool] = {spec.name: spec.default for spec in flags}
    for name in ENVIRONMENT_FLAGS:
        variable = "FLOMATION_EXECUTOR_" + name.upper().replace("-", "_")
        if environ and environ.get(variable) and name in values:
            values[name] = environ[variable]
    remaining = list(arguments)
    while remaining:
        argument = remaining[0]
        if len(argument) < 2 or argument[0] != "-":
            break
        minuses = 2 if argument[1] == "-" else 1
        if argument == "--":
            break
        name = argument[minuses:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {argument}")
        remaining.pop(0)
        name, separator, value = name.partition("=")
        has_value = bool(separator)
        spec = by_name.get(name)
        if spec is None:
            if name in ("help", "h"):
                raise HelpRequested("")
            raise FlagError(f"flag provided but not defined: -{name}")
        if spec.is_bool:
            if not has_value:
                values[name] = True
                continue
            parsed = _parse_go_bool(value)
            if parsed is None:
                raise FlagError(f"invalid boolean value {go_quote(value)} for -{name}: parse error")
            values[name] = parsed
            continue
        if not has_value:
            if not remaining:
                raise FlagError(f"flag needs an argument: -{name}")
            value = remaining.pop(0)
        values[name] = value
    return values
