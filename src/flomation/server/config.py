"""Server settings (docs/protocol.md §8.4): flags > ``FLOMATION_SERVER_*`` > file > defaults.

The configuration file is TOML (``.toml``) or JSON (any other name) holding the setting names of
docs/protocol.md §8.4 (``poll_hold``, ``runner_lost_after``...) or the field names of
:class:`ServerSettings`. Any invalid value is fatal (:class:`SettingsError`).
"""

from __future__ import annotations

import ipaddress
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ENVIRONMENT_VARIABLES",
    "NIL_UUID",
    "ServerSettings",
    "SettingsError",
    "load_settings",
    "split_listen",
]

DEFAULT_DATABASE_URL = "sqlite:///./.flomation/server.db"
NIL_UUID = "00000000-0000-0000-0000-000000000000"
_MIB = 1024 * 1024


class SettingsError(ValueError):
    """An invalid setting; the message names the setting and where it came from."""


def split_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) as a pair; raise ValueError when malformed."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"expected HOST:PORT, got {listen!r}")
    return host.strip("[]"), int(port_text)


class ServerSettings(BaseModel):
    """Every knob of the server; durations in seconds, sizes in bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = "127.0.0.1:8888"
    database: str = DEFAULT_DATABASE_URL
    admin_token: str | None = None
    secret_key: str | None = Field(
        default=None, description="base64 of 32 bytes; AES-GCM key for secrets at rest"
    )
    require_v2: bool = False
    poll_hold_s: float = Field(default=25.0, gt=0)
    runner_lost_after_s: float = Field(default=90.0, gt=0)
    execution_timeout_s: float = Field(default=3600.0, gt=0)
    reaper_interval_s: float = Field(default=10.0, gt=0)
    claim_lease_s: float = Field(default=15.0, gt=0)
    max_log_bytes: int = Field(default=16 * _MIB, ge=1024)
    signature_window_s: int = Field(default=300, ge=1)
    nonce_retention_s: int = Field(default=600, ge=1)
    sse_keepalive_s: float = Field(default=15.0, gt=0)
    sse_recheck_s: float = Field(default=1.0, gt=0)
    shared_wakeup_interval_s: float = Field(default=1.0, gt=0)
    retention_s: float = Field(
        default=30 * 86400.0, ge=0, description="finished executions kept this long (0: forever)"
    )
    max_total_log_bytes: int = Field(
        default=0,
        ge=0,
        description="logs of the oldest finished executions dropped above (0: no cap)",
    )
    prune_interval_s: float = Field(default=60.0, gt=0)
    trusted_proxies: tuple[str, ...] = ()
    admin_principal_id: str = NIL_UUID
    log_level: str = "info"

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError("log_level must be debug, info, warning or error")
        return value.lower()

    @model_validator(mode="after")
    def _check_nonce_retention(self) -> ServerSettings:
        # A signature accepted at one edge of the window may be sent again until the other
        # edge: the store must still hold it then (docs/protocol.md §9.3).
        if self.nonce_retention_s < 2 * self.signature_window_s:
            raise ValueError(
                f"nonce_retention_s ({self.nonce_retention_s}) must be at least twice "
                f"signature_window_s ({self.signature_window_s})"
            )
        return self

    @property
    def host(self) -> str:
        """Host part of ``listen``."""
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        """Port part of ``listen`` (0 picks a free port)."""
        return split_listen(self.listen)[1]


# Spec setting name (docs/protocol.md §8.4) -> ServerSettings field.
_SPEC_NAMES: dict[str, str] = {
    "poll_hold": "poll_hold_s",
    "runner_lost_after": "runner_lost_after_s",
    "execution_timeout": "execution_timeout_s",
    "reaper_interval": "reaper_interval_s",
    "claim_lease": "claim_lease_s",
}

ENVIRONMENT_VARIABLES: dict[str, str] = {
    "FLOMATION_SERVER_LISTEN": "listen",
    "FLOMATION_SERVER_DATABASE": "database",
    "FLOMATION_SERVER_ADMIN_TOKEN": "admin_token",
    "FLOMATION_SERVER_SECRET_KEY": "secret_key",
    "FLOMATION_SERVER_REQUIRE_V2": "require_v2",
    "FLOMATION_SERVER_POLL_HOLD": "poll_hold_s",
    "FLOMATION_SERVER_RUNNER_LOST_AFTER": "runner_lost_after_s",
    "FLOMATION_SERVER_EXECUTION_TIMEOUT": "execution_timeout_s",
    "FLOMATION_SERVER_REAPER_INTERVAL": "reaper_interval_s",
    "FLOMATION_SERVER_CLAIM_LEASE": "claim_lease_s",
    "FLOMATION_SERVER_MAX_LOG_BYTES": "max_log_bytes",
    "FLOMATION_SERVER_TRUSTED_PROXIES": "trusted_proxies",
    "FLOMATION_SERVER_ADMIN_PRINCIPAL_ID": "admin_principal_id",
    "FLOMATION_SERVER_LOG_LEVEL": "log_level",
    "FLOMATION_SERVER_RETENTION": "retention_s",
    "FLOMATION_SERVER_MAX_TOTAL_LOG_BYTES": "max_total_log_bytes",
    "FLOMATION_SERVER_PRUNE_INTERVAL": "prune_interval_s",
}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read configuration file {path}: {exc.strerror}") from exc
    try:
        loaded: object = (
            tomllib.loads(raw.decode("utf-8")) if path.suffix == ".toml" else json.loads(raw)
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise SettingsError(f"configuration file {path} is not valid: {exc}") from exc
    if not isinstance(loaded, dict):
        raise SettingsError(f"configuration file {path} must hold an object of settings")
    values: dict[str, Any] = {}
    for key, value in loaded.items():
        field = _SPEC_NAMES.get(key, key)
        if field not in ServerSettings.model_fields:
            raise SettingsError(f"configuration file {path}: unknown setting {key!r}")
        values[field] = value
    return values


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for variable, field in ENVIRONMENT_VARIABLES.items():
        if variable not in environ:
            continue
        text = environ[variable]
        if field == "trusted_proxies":
            values[field] = tuple(part.strip() for part in text.split(",") if part.strip())
        elif field == "require_v2":
            lowered = text.strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise SettingsError(f"{variable} must be true or false, got {text!r}")
            values[field] = lowered in ("1", "true", "yes", "on")
        else:
            values[field] = text
    return values


def load_settings(
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    config_file: Path | None = None,
) -> ServerSettings:
    """Merge the sources (flags win) and validate; raise SettingsError naming the bad setting.

    ``flags`` holds ServerSettings field names; ``None`` values mean "not given".
    """
    merged: dict[str, Any] = {}
    if config_file is not None:
        merged.update(_read_file(config_file))
    merged.update(_from_environment(environ))
    merged.update({key: value for key, value in flags.items() if value is not None})
    try:
        return ServerSettings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise SettingsError(f"invalid server settings: {problems}") from exc
