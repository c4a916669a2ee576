"""The runner's effective configuration: ``RunnerConfig``, its fields and defaults.

How the fields are set (file, environment, flags) is ``options.py`` and ``loading.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flomation.runner.logs import DEFAULT_BATCH_MAX_BYTES

__all__ = [
    "DOCKER_CONFIG_PATH",
    "FIELDS",
    "REDACTED",
    "STATE_FILE_NAME",
    "ConfigError",
    "RunnerConfig",
    "field_description",
    "json_value",
]

DOCKER_CONFIG_PATH = Path("/usr/local/bin/config.json")
STATE_FILE_NAME = "flo.state"
REDACTED = "********"
_MIB = 1024 * 1024


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
    warm_executor: Literal["auto", "on", "off"] = dataclasses.field(
        default="auto",
        metadata={
            "description": (
                "fork each execution from a warm executor process: auto (when the executor's"
                " --version names flomation-executor), on or off (docs/architecture.md)"
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
        default=True,
        metadata={
            "description": "send the v2 signature header too (alone once the server says it"
            " accepts that, docs/protocol.md §9.4)"
        },
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
        return self.state_directory / STATE_FILE_NAME

    @property
    def go_state_file(self) -> Path:
        """Where the upstream Go runner keeps ``flo.state`` for a ``state_directory`` without a
        trailing slash: it concatenates strings (``./st`` + ``flo.state`` = ``./stflo.state``)."""
        return self.state_directory.parent / (self.state_directory.name + STATE_FILE_NAME)

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


FIELDS = {field.name: field for field in dataclasses.fields(RunnerConfig)}


def field_description(name: str) -> str:
    """The help text of configuration field ``name``."""
    return str(FIELDS[name].metadata["description"])


def json_value(value: object) -> object:
    """A field's value as JSON data: paths as strings, tuples as lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value
