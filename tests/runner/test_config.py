"""Runner configuration: every upstream name, precedence, Docker mode and fail-fast validation."""

from __future__ import annotations

import argparse
import dataclasses
import json
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from flomation.runner.config import (
    ConfigError,
    RunnerConfig,
    add_config_arguments,
    load_config,
    normalise_go_flags,
    redacted,
    runner_environment,
    secret_values,
)

# The example of docs/migrating.md §1.1, verbatim but for the execution directory.
UPSTREAM_EXAMPLE = """{
  "runner": {
    "name": "My Runner",
    "url": "https://api.flomation.app",
    "registration_code": "abc123def",
    "checkin_timeout": 5,
    "certificate": "flomation-runner.pem"
  },
  "execution": {
    "max_concurrent_executors": 5,
    "state_directory": "./",
    "execution_directory": "EXECUTION_DIRECTORY",
    "executable_name": "flomation-executor"
  },
  "tls": {
    "enabled": false,
    "ca_cert": "ca.pem",
    "cert": "client.pem",
    "key": "client-key.pem",
    "api_url": "https://internal.api.example"
  }
}
"""


@dataclass(frozen=True)
class Under:
    """An expected path, relative to the test's working directory."""

    relative: str


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    """A start-up working directory with a ``bin`` holding an executable flomation-executor."""
    directory = tmp_path / "cwd"
    bin_directory = directory / "bin"
    bin_directory.mkdir(parents=True)
    executor = bin_directory / "flomation-executor"
    executor.write_text("#!/bin/sh\nexit 0\n")
    executor.chmod(0o755)
    return directory


def _environ(cwd: Path, **variables: str) -> dict[str, str]:
    return {"PATH": str(cwd / "bin"), **variables}


def _args(argv: Sequence[str] = ()) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    return parser.parse_args(normalise_go_flags(argv))


def _load(
    cwd: Path, argv: Sequence[str] = (), environ: dict[str, str] | None = None
) -> RunnerConfig:
    return load_config(
        _args(argv),
        _environ(cwd) if environ is None else environ,
        cwd,
        docker_config_path=cwd / "absent" / "config.json",
    )


def _write_config(cwd: Path, document: object, name: str = "config.json") -> Path:
    path = cwd / name
    path.write_text(json.dumps(document))
    return path


def _base_file(cwd: Path) -> Path:
    """A minimal valid config.json, so that one other source can override single fields."""
    return _write_config(
        cwd,
        {
            "runner": {"url": "https://file.example", "registration_code": "file-code"},
            "execution": {
                "execution_directory": "work",
                "executable_name": "flomation-executor",
            },
        },
    )


def _expected(value: object, cwd: Path) -> object:
    return (cwd / value.relative).resolve() if isinstance(value, Under) else value


def test_upstream_example_config_loads_unchanged(cwd: Path) -> None:
    """The docs/migrating.md §1 example config.json loads with every field as upstream means it."""
    text = UPSTREAM_EXAMPLE.replace("EXECUTION_DIRECTORY", str(cwd / "workspace"))
    (cwd / "config.json").write_text(text)

    config = _load(cwd)

    assert config.name == "My Runner"
    assert config.url == "https://api.flomation.app"
    assert config.registration_code == "abc123def"
    assert config.checkin_timeout_s == 5.0
    assert config.certificate == cwd.resolve() / "flomation-runner.pem"
    assert config.max_concurrent_executors == 5
    assert config.state_directory == cwd.resolve()
    assert config.state_file == cwd.resolve() / "flo.state"
    assert config.outbox_file == cwd.resolve() / "outbox.sqlite3"
    assert config.execution_directory == (cwd / "workspace").resolve()
    assert (cwd / "workspace").is_dir()
    assert config.executable == ("flomation-executor",)
    assert config.tls_enabled is False
    assert config.tls_ca_cert == cwd.resolve() / "ca.pem"
    assert config.tls_cert == cwd.resolve() / "client.pem"
    assert config.tls_key == cwd.resolve() / "client-key.pem"
    assert config.tls_api_url == "https://internal.api.example"


def test_docker_entrypoint_keys_are_accepted_and_ignored(cwd: Path) -> None:
    """A file from the upstream Docker entrypoint loads; its three extra keys are logged, unused."""
    _write_config(
        cwd,
        {
            "runner": {
                "name": "Docker Runner",
                "url": "https://api.example",
                "registration_code": "code-1234",
                "checkin_timeout": 5,
            },
            "execution": {
                "max_concurrent_executors": 5,
                "execution_directory": "workspace/",
                "execution_install_dir": "/home/flomation/executor/lib",
                "execution_module_dir": "/home/flomation/executor/lib/modules",
                "download_on_start": True,
                "executable_name": "flomation-executor",
            },
        },
    )

    with capture_logs() as logs:
        config = _load(cwd)

    assert config.name == "Docker Runner"
    ignored = {entry["key"] for entry in logs if entry["event"] == "ignored config key"}
    assert ignored == {
        "execution.execution_install_dir",
        "execution.execution_module_dir",
        "execution.download_on_start",
    }
    assert config.execution_directory == (cwd / "workspace").resolve()


def test_defaults_apply_when_only_required_fields_are_set(cwd: Path) -> None:
    """Unset fields take the documented defaults, including every project addition."""
    _base_file(cwd)

    config = _load(cwd)

    assert config.name == "Flo Runner"
    assert config.checkin_timeout_s == 5.0
    assert config.certificate == cwd.resolve() / "flomation-runner.pem"
    assert config.max_concurrent_executors == 1
    assert config.state_directory == cwd.resolve()
    assert config.tls_enabled is False
    assert config.tls_ca_cert is None
    assert config.tls_api_url is None
    assert config.kill_grace_s == 10.0
    assert config.drain_timeout_s == 15.0
    assert config.execution_timeout_s is None
    assert config.status_poll_interval_s == 2.0
    assert config.log_flush_interval_s == 0.25
    assert config.log_batch_max_bytes == 1048576
    assert config.log_queue_max_bytes == 8 * 1024 * 1024
    assert config.max_line_bytes == 1024 * 1024
    assert config.max_result_log_bytes == 16 * 1024 * 1024
    assert "*_TOKEN" in config.secret_env_patterns
    assert config.health_addr is None
    assert config.health_host_port is None
    assert config.keep_failed_workdirs == 10
    assert config.min_free_disk_bytes == 512 * 1024 * 1024
    assert config.signing_v2 is True
    assert config.once is False
    assert config.max_executions is None
    assert config.idle_timeout_s is None
    assert config.log_format == "auto"
    assert config.log_level == "info"
    assert config.outbox_path is None


UPSTREAM_ENV = [
    ("FLOMATION_API", "https://env.example/", "url", "https://env.example"),
    ("FLOMATION_REGISTRATION_CODE", "env-code", "registration_code", "env-code"),
    ("FLOMATION_RUNNER_NAME", "Env Runner", "name", "Env Runner"),
    ("FLOMATION_RUNNER_CHECKIN_TIMEOUT", "7", "checkin_timeout_s", 7.0),
    ("FLOMATION_RUNNER_CERTIFICATE_PATH", "keys/r.pem", "certificate", Under("keys/r.pem")),
    ("FLOMATION_RUNNER_MAX_EXECUTORS", "4", "max_concurrent_executors", 4),
    ("FLOMATION_RUNNER_STATE_DIRECTORY", "state", "state_directory", Under("state")),
    ("FLOMATION_RUNNER_EXECUTION_DIRECTORY", "w2", "execution_directory", Under("w2")),
    (
        "FLOMATION_RUNNER_EXECUTABLE_NAME",
        "flomation-executor --verbose 'a b'",
        "executable",
        ("flomation-executor", "--verbose", "a b"),
    ),
    ("MTLS_CA_CERT", "ca.pem", "tls_ca_cert", Under("ca.pem")),
    ("MTLS_CERT", "client.pem", "tls_cert", Under("client.pem")),
    ("MTLS_KEY", "client-key.pem", "tls_key", Under("client-key.pem")),
    ("MTLS_API_URL", "https://mtls.example/", "tls_api_url", "https://mtls.example"),
    ("RUNNER_URL", "https://docker.example", "url", "https://docker.example"),
    ("RUNNER_REGISTRATION_CODE", "docker-code", "registration_code", "docker-code"),
    ("RUNNER_NAME", "Docker Runner", "name", "Docker Runner"),
    ("RUNNER_CHECKIN_TIMEOUT", "9", "checkin_timeout_s", 9.0),
    ("EXECUTOR_MAX_CONCURRENT", "3", "max_concurrent_executors", 3),
    ("EXECUTOR_DIRECTORY", "dockerwork", "execution_directory", Under("dockerwork")),
]


@pytest.mark.parametrize(("variable", "raw", "field", "expected"), UPSTREAM_ENV)
def test_upstream_environment_variable_overrides_file(
    cwd: Path, variable: str, raw: str, field: str, expected: object
) -> None:
    """Each upstream and Docker environment variable sets its field over the config file."""
    _base_file(cwd)

    config = _load(cwd, environ=_environ(cwd, **{variable: raw}))

    assert getattr(config, field) == _expected(expected, cwd)


UPSTREAM_FLAGS = [
    (["--api-url", "https://flag.example/"], "url", "https://flag.example"),
    (["--registration-code", "flag-code"], "registration_code", "flag-code"),
    (["--runner-name", "Flag Runner"], "name", "Flag Runner"),
    (["--checkin-timeout", "2.5"], "checkin_timeout_s", 2.5),
    (["--certificate-filename", "/abs/key.pem"], "certificate", Path("/abs/key.pem")),
    (["--max_concurrent_executors", "6"], "max_concurrent_executors", 6),
    (["--max-concurrent-executors", "7"], "max_concurrent_executors", 7),
    (["--state_directory", "st"], "state_directory", Under("st")),
    (["--state-directory", "st2"], "state_directory", Under("st2")),
    (["--execution_directory", "ex"], "execution_directory", Under("ex")),
    (["--execution-directory", "ex2"], "execution_directory", Under("ex2")),
    (["--executable_name", "flomation-executor -x"], "executable", ("flomation-executor", "-x")),
    (["--executable-name", "flomation-executor"], "executable", ("flomation-executor",)),
    (["--mtls-ca-cert", "ca.pem"], "tls_ca_cert", Under("ca.pem")),
    (["--mtls-cert", "c.pem"], "tls_cert", Under("c.pem")),
    (["--mtls-key", "k.pem"], "tls_key", Under("k.pem")),
    (["--mtls-api-url", "https://m.example"], "tls_api_url", "https://m.example"),
    (["-api-url", "https://go.example"], "url", "https://go.example"),
    (["-api-url=https://go2.example"], "url", "https://go2.example"),
    (["-max_concurrent_executors=8"], "max_concurrent_executors", 8),
    (["--runner-name=Equals Runner"], "name", "Equals Runner"),
]


@pytest.mark.parametrize(("argv", "field", "expected"), UPSTREAM_FLAGS)
def test_upstream_flag_overrides_file(
    cwd: Path, argv: list[str], field: str, expected: object
) -> None:
    """Each upstream flag spelling (and its aliases and Go-style forms) sets its field."""
    _base_file(cwd)

    config = _load(cwd, argv)

    assert getattr(config, field) == _expected(expected, cwd)


def test_mtls_settings_from_environment_and_flag(cwd: Path) -> None:
    """MTLS_ENABLED and --mtls-enabled (bare or with a value) turn mTLS on when files exist."""
    _base_file(cwd)
    for name in ("ca.pem", "client.pem", "client-key.pem"):
        (cwd / name).write_text("material")
    files = {"MTLS_CA_CERT": "ca.pem", "MTLS_CERT": "client.pem", "MTLS_KEY": "client-key.pem"}

    from_env = _load(cwd, environ=_environ(cwd, MTLS_ENABLED="true", **files))
    bare_flag = _load(cwd, ["--mtls-enabled"], _environ(cwd, **files))
    go_flag = _load(cwd, ["-mtls-enabled", "false"], _environ(cwd, MTLS_ENABLED="1", **files))

    assert from_env.tls_enabled is True
    assert from_env.tls_key == (cwd / "client-key.pem").resolve()
    assert bare_flag.tls_enabled is True
    assert go_flag.tls_enabled is False


PROJECT_FIELDS = [
    ("FLOMATION_RUNNER_KILL_GRACE_S", ["--kill-grace-s", "3.5"], "kill_grace_s", "3.5", 3.5),
    ("FLOMATION_RUNNER_DRAIN_TIMEOUT_S", ["--drain-timeout", "20"], "drain_timeout_s", "20", 20.0),
    (
        "FLOMATION_RUNNER_EXECUTION_TIMEOUT_S",
        ["--execution-timeout-s", "600"],
        "execution_timeout_s",
        "600",
        600.0,
    ),
    (
        "FLOMATION_RUNNER_STATUS_POLL_INTERVAL_S",
        ["--status-poll-interval-s", "1"],
        "status_poll_interval_s",
        "1",
        1.0,
    ),
    (
        "FLOMATION_RUNNER_LOG_FLUSH_INTERVAL_S",
        ["--log-flush-interval-s", "0.5"],
        "log_flush_interval_s",
        "0.5",
        0.5,
    ),
    (
        "FLOMATION_RUNNER_LOG_BATCH_MAX_BYTES",
        ["--log-batch-max-bytes", "1024"],
        "log_batch_max_bytes",
        "1024",
        1024,
    ),
    (
        "FLOMATION_RUNNER_LOG_QUEUE_MAX_BYTES",
        ["--log-queue-max-bytes", "2048"],
        "log_queue_max_bytes",
        "2048",
        2048,
    ),
    (
        "FLOMATION_RUNNER_MAX_LINE_BYTES",
        ["--max-line-bytes", "4096"],
        "max_line_bytes",
        "4096",
        4096,
    ),
    (
        "FLOMATION_RUNNER_MAX_RESULT_LOG_BYTES",
        ["--max-result-log-bytes", "8192"],
        "max_result_log_bytes",
        "8192",
        8192,
    ),
    (
        "FLOMATION_RUNNER_MAX_SPOOL_BYTES",
        ["--max-spool-bytes", "8192"],
        "max_spool_bytes",
        "8192",
        8192,
    ),
    (
        "FLOMATION_RUNNER_ISOLATION",
        ["--isolation", "bwrap"],
        "isolation",
        "bwrap",
        "bwrap",
    ),
    (
        "FLOMATION_RUNNER_WARM_EXECUTOR",
        ["--warm-executor", "off"],
        "warm_executor",
        "off",
        "off",
    ),
    (
        "FLOMATION_RUNNER_SECRET_ENV_PATTERNS",
        ["--secret-env-patterns", "*_X, MY_*"],
        "secret_env_patterns",
        "*_X, MY_*",
        ("*_X", "MY_*"),
    ),
    (
        "FLOMATION_RUNNER_SECRET_ENV_PASSTHROUGH",
        ["--secret-env-passthrough", "AWS_SECRET_ACCESS_KEY, GH_TOKEN"],
        "secret_env_passthrough",
        "AWS_SECRET_ACCESS_KEY, GH_TOKEN",
        ("AWS_SECRET_ACCESS_KEY", "GH_TOKEN"),
    ),
    (
        "FLOMATION_RUNNER_MAX_CLAIM_BYTES",
        ["--max-claim-bytes", "4096"],
        "max_claim_bytes",
        "4096",
        4096,
    ),
    (
        "FLOMATION_RUNNER_HEALTH_ADDR",
        ["--health-addr", "127.0.0.1:9310"],
        "health_addr",
        "127.0.0.1:9310",
        "127.0.0.1:9310",
    ),
    (
        "FLOMATION_RUNNER_KEEP_FAILED_WORKDIRS",
        ["--keep-failed-workdirs", "0"],
        "keep_failed_workdirs",
        "0",
        0,
    ),
    (
        "FLOMATION_RUNNER_MIN_FREE_DISK_BYTES",
        ["--min-free-disk-bytes", "0"],
        "min_free_disk_bytes",
        "0",
        0,
    ),
    ("FLOMATION_RUNNER_SIGNING_V2", ["--no-signing-v2"], "signing_v2", "false", False),
    ("FLOMATION_RUNNER_ONCE", ["--once"], "once", "true", True),
    ("FLOMATION_RUNNER_MAX_EXECUTIONS", ["--max-executions", "3"], "max_executions", "3", 3),
    ("FLOMATION_RUNNER_IDLE_TIMEOUT_S", ["--idle-timeout", "30"], "idle_timeout_s", "30", 30.0),
    ("FLOMATION_RUNNER_LOG_FORMAT", ["--log-format", "json"], "log_format", "json", "json"),
    ("FLOMATION_RUNNER_LOG_LEVEL", ["--log-level", "DEBUG"], "log_level", "DEBUG", "debug"),
    (
        "FLOMATION_RUNNER_OUTBOX_PATH",
        ["--outbox-path", "ob/outbox.db"],
        "outbox_path",
        "ob/outbox.db",
        Under("ob/outbox.db"),
    ),
]


# The added fields that live in the "runner" section of config.json; the rest are in "execution".
RUNNER_SECTION_FIELDS = {
    "drain_timeout_s",
    "max_claim_bytes",
    "secret_env_patterns",
    "health_addr",
    "signing_v2",
    "once",
    "max_executions",
    "idle_timeout_s",
    "log_format",
    "log_level",
    "outbox_path",
}


@pytest.mark.parametrize(("variable", "argv", "field", "raw", "expected"), PROJECT_FIELDS)
def test_project_field_from_environment_flag_and_file(
    cwd: Path, variable: str, argv: list[str], field: str, raw: str, expected: object
) -> None:
    """Each added field is set by its FLOMATION_RUNNER_* variable, its flag and its file key."""
    _base_file(cwd)
    want = _expected(expected, cwd)

    assert getattr(_load(cwd, environ=_environ(cwd, **{variable: raw})), field) == want
    assert getattr(_load(cwd, argv), field) == want

    document = json.loads((cwd / "config.json").read_text())
    section = "runner" if field in RUNNER_SECTION_FIELDS else "execution"
    document[section][field] = raw
    _write_config(cwd, document)
    assert getattr(_load(cwd), field) == want


def test_precedence_flag_over_environment_over_file_over_default(cwd: Path) -> None:
    """A flag beats the environment, which beats the file, which beats the default."""
    config_path = _base_file(cwd)
    assert _load(cwd).name == "Flo Runner"

    document = json.loads(config_path.read_text())
    document["runner"]["name"] = "From File"
    _write_config(cwd, document)
    assert _load(cwd).name == "From File"

    env = _environ(cwd, FLOMATION_RUNNER_NAME="From Env")
    assert _load(cwd, environ=env).name == "From Env"
    assert _load(cwd, ["--runner-name", "From Flag"], env).name == "From Flag"


def test_upstream_variable_wins_over_docker_variable(cwd: Path) -> None:
    """When FLOMATION_* and RUNNER_* both set a field, the FLOMATION_* value is used."""
    _base_file(cwd)
    env = _environ(
        cwd,
        FLOMATION_API="https://upstream.example",
        RUNNER_URL="https://docker.example",
        FLOMATION_RUNNER_NAME="Upstream Name",
        RUNNER_NAME="Docker Name",
    )

    config = _load(cwd, environ=env)

    assert config.url == "https://upstream.example"
    assert config.name == "Upstream Name"


def test_docker_variables_alone_are_enough(cwd: Path) -> None:
    """The upstream image's RUNNER_*/EXECUTOR_* variables start the runner without a file."""
    env = _environ(
        cwd,
        RUNNER_NAME="Container Runner",
        RUNNER_URL="https://api.dev.flomation.app",
        RUNNER_REGISTRATION_CODE="container-code",
        RUNNER_CHECKIN_TIMEOUT="5",
        EXECUTOR_MAX_CONCURRENT="2",
        EXECUTOR_DIRECTORY=str(cwd / "workspace"),
        EXECUTOR_INSTALL_DIR="/home/flomation/executor/lib",
        EXECUTOR_MODULE_DIR="/home/flomation/executor/lib/modules",
        EXECUTOR_DOWNLOAD_ON_START="true",
    )

    config = _load(cwd, environ=env)

    assert config.name == "Container Runner"
    assert config.url == "https://api.dev.flomation.app"
    assert config.registration_code == "container-code"
    assert config.max_concurrent_executors == 2
    assert config.execution_directory == (cwd / "workspace").resolve()
    assert config.executable == ("flomation-executor",)


def test_docker_mode_defaults_to_five_executors(cwd: Path) -> None:
    """In Docker mode an unset EXECUTOR_MAX_CONCURRENT means 5, as in the upstream image."""
    env = _environ(
        cwd,
        RUNNER_URL="https://api.example",
        RUNNER_REGISTRATION_CODE="container-code",
        EXECUTOR_DIRECTORY=str(cwd / "workspace"),
    )

    assert _load(cwd, environ=env).max_concurrent_executors == 5


def test_mounted_docker_config_file_wins_over_docker_variables(cwd: Path) -> None:
    """A file at the image's config path is used without --config, and RUNNER_* are ignored."""
    mounted = cwd / "mounted" / "config.json"
    mounted.parent.mkdir()
    mounted.write_text(
        json.dumps(
            {
                "runner": {"url": "https://mounted.example", "registration_code": "m-code"},
                "execution": {"execution_directory": "w", "executable_name": "flomation-executor"},
            }
        )
    )
    env = _environ(cwd, RUNNER_URL="https://docker.example", RUNNER_NAME="Docker Name")

    config = load_config(_args(), env, cwd, docker_config_path=mounted)

    assert config.url == "https://mounted.example"
    assert config.name == "Flo Runner"


def test_explicit_config_path_is_used(cwd: Path) -> None:
    """--config (and Go-style -config) reads the named file instead of ./config.json."""
    _base_file(cwd)
    other = _write_config(
        cwd,
        {
            "runner": {"url": "https://other.example", "registration_code": "c-1234"},
            "execution": {"execution_directory": "o", "executable_name": "flomation-executor"},
        },
        name="other.json",
    )

    assert _load(cwd, ["--config", str(other)]).url == "https://other.example"
    assert _load(cwd, ["-config=other.json"]).url == "https://other.example"


def test_max_concurrent_executors_zero_or_negative_means_one(cwd: Path) -> None:
    """Zero and negative executor counts mean one slot, as upstream."""
    _base_file(cwd)

    assert _load(cwd, ["--max_concurrent_executors", "0"]).max_concurrent_executors == 1
    assert _load(cwd, ["--max_concurrent_executors=-3"]).max_concurrent_executors == 1


def test_executable_accepts_json_array_and_quoting(cwd: Path) -> None:
    """executable_name is split with shell rules (no shell), or taken from a JSON array."""
    _base_file(cwd)

    quoted = _load(cwd, ["--executable-name", 'flomation-executor  --a "b  c"'])
    array = _load(cwd, ["--executable-name", '["flomation-executor", "x y", ""]'])

    assert quoted.executable == ("flomation-executor", "--a", "b  c")
    assert array.executable == ("flomation-executor", "x y", "")


def test_relative_executable_path_is_made_absolute(cwd: Path) -> None:
    """A relative executor path is resolved against the start-up directory (R14)."""
    _base_file(cwd)

    config = _load(cwd, ["--executable-name", "bin/flomation-executor --flag"])

    assert config.executable == (str((cwd / "bin/flomation-executor").resolve()), "--flag")


def test_directories_are_created_with_mode_0750(cwd: Path) -> None:
    """Missing state and execution directories are created, mode 0750."""
    _base_file(cwd)

    config = _load(cwd, ["--state-directory", "var/state", "--execution-directory", "var/work"])

    for path in (config.state_directory, config.execution_directory):
        assert path.is_dir()
        assert stat.S_IMODE(path.stat().st_mode) & 0o027 == 0


def test_registration_code_only_required_for_first_enrolment(cwd: Path) -> None:
    """Without flo.state the registration code is required; with it, it may be omitted."""
    _write_config(
        cwd,
        {
            "runner": {"url": "https://api.example"},
            "execution": {"execution_directory": "w", "executable_name": "flomation-executor"},
        },
    )

    with pytest.raises(ConfigError) as missing:
        _load(cwd)
    (cwd / "flo.state").write_text('{"identifier": "abcdefghijklmnop"}')
    config = _load(cwd)

    assert "runner.registration_code is required for first enrolment" in str(missing.value)
    assert "FLOMATION_REGISTRATION_CODE" in str(missing.value)
    assert config.registration_code is None


def test_missing_required_field_names_every_source(cwd: Path) -> None:
    """A missing URL is one line naming the field, its variables and its flag."""
    env = _environ(
        cwd,
        FLOMATION_REGISTRATION_CODE="code-1234",
        FLOMATION_RUNNER_EXECUTION_DIRECTORY=str(cwd / "w"),
        FLOMATION_RUNNER_EXECUTABLE_NAME="flomation-executor",
    )

    with pytest.raises(ConfigError) as error:
        _load(cwd, environ=env)

    assert str(error.value) == (
        "configuration: runner.url is required "
        "(set runner.url in config.json, FLOMATION_API, RUNNER_URL or --api-url)"
    )


def test_every_missing_required_field_is_listed_in_one_line(cwd: Path) -> None:
    """Docker variables with URL and code missing give one line naming both, as upstream."""
    env = _environ(cwd, RUNNER_NAME="Container", EXECUTOR_DIRECTORY=str(cwd / "w"))

    with pytest.raises(ConfigError) as error:
        _load(cwd, environ=env)

    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("configuration: runner.url is required (")
    assert "; runner.registration_code is required for first enrolment (" in message
    assert "RUNNER_URL" in message
    assert "RUNNER_REGISTRATION_CODE" in message


def test_missing_executable_name_is_reported(cwd: Path) -> None:
    """A config without executable_name names execution.executable_name as required."""
    _write_config(
        cwd,
        {
            "runner": {"url": "https://a.example", "registration_code": "c-1234"},
            "execution": {"execution_directory": "w"},
        },
    )

    with pytest.raises(ConfigError, match=r"execution\.executable_name is required"):
        _load(cwd)


def test_wrong_type_in_file_names_file_and_field(cwd: Path) -> None:
    """A wrong JSON type is reported with the file path, the field and the value."""
    path = _base_file(cwd)
    document = json.loads(path.read_text())
    document["execution"]["max_concurrent_executors"] = "five"
    _write_config(cwd, document)

    with pytest.raises(ConfigError) as error:
        _load(cwd)

    assert str(error.value) == (
        f"config file {path.resolve()}: execution.max_concurrent_executors: "
        "expected a whole number (got 'five')"
    )


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("checkin_timeout", True, "expected a number"),
        ("name", 42, "expected a string"),
        ("certificate", ["a"], "expected a string"),
    ],
)
def test_wrong_json_types_are_rejected(cwd: Path, key: str, value: object, problem: str) -> None:
    """Booleans for numbers and non-strings for strings are type errors, not coerced."""
    path = _base_file(cwd)
    document = json.loads(path.read_text())
    document["runner"][key] = value
    _write_config(cwd, document)

    with pytest.raises(ConfigError, match=f"runner.{key}: {problem}"):
        _load(cwd)


def test_wrong_type_for_registration_code_never_shows_it(cwd: Path) -> None:
    """An invalid registration code is reported without its value."""
    path = _base_file(cwd)
    document = json.loads(path.read_text())
    document["runner"]["registration_code"] = 987654321
    _write_config(cwd, document)

    with pytest.raises(ConfigError) as error:
        _load(cwd)

    assert "987654321" not in str(error.value)
    assert "runner.registration_code: expected a string (got ********)" in str(error.value)


@pytest.mark.parametrize(
    "url",
    ["ftp://api.example", "api.example", "https://", "http://host:99999", "https://h/?q=1"],
)
def test_bad_url_is_rejected(cwd: Path, url: str) -> None:
    """A URL that is not http(s) with a host is named with its variable and field."""
    _base_file(cwd)

    with pytest.raises(ConfigError) as error:
        _load(cwd, environ=_environ(cwd, FLOMATION_API=url))

    assert str(error.value).startswith("environment variable FLOMATION_API: runner.url: ")


def test_malformed_json_names_the_file_and_position(cwd: Path) -> None:
    """A config file that is not JSON is named with the line and column of the problem."""
    (cwd / "config.json").write_text('{"runner": {"url": "https://a.example",}}')

    with pytest.raises(ConfigError) as error:
        _load(cwd)

    assert str(error.value).startswith(
        f"config file {(cwd / 'config.json').resolve()}: malformed JSON at line 1 column"
    )


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([1, 2], "expected a JSON object at the top level"),
        ({"runnr": {}}, "unknown section 'runnr'"),
        ({"runner": "x"}, "runner: expected a JSON object"),
        ({"execution": {"executable": "x"}}, "execution.executable: unknown key"),
    ],
)
def test_bad_file_structure_is_rejected(cwd: Path, document: object, problem: str) -> None:
    """Non-object documents, unknown sections and unknown keys are configuration errors."""
    _write_config(cwd, document)

    with pytest.raises(ConfigError, match=problem):
        _load(cwd)


def test_unknown_executor_is_rejected(cwd: Path) -> None:
    """An executor that is not on PATH fails with 'unknown executor' and the flag named."""
    _base_file(cwd)

    with pytest.raises(ConfigError) as error:
        _load(cwd, ["--executable_name", "no-such-executor --x"])

    assert str(error.value) == (
        "flag --executable_name: execution.executable_name: "
        "unknown executor 'no-such-executor': not found on PATH"
    )


def test_non_executable_executor_file_is_rejected(cwd: Path) -> None:
    """An executor path naming a file without execute permission is an unknown executor."""
    _base_file(cwd)
    script = cwd / "plain.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)

    with pytest.raises(ConfigError, match=r"unknown executor '\./plain\.sh': no executable file"):
        _load(cwd, environ=_environ(cwd, FLOMATION_RUNNER_EXECUTABLE_NAME="./plain.sh"))


@pytest.mark.parametrize("command", ["", "   ", "[]", "'unclosed", '["a", 1]'])
def test_empty_or_unsplittable_executable_is_rejected(cwd: Path, command: str) -> None:
    """An empty command, unbalanced quotes or a non-string array element are rejected."""
    _base_file(cwd)
    document = json.loads((cwd / "config.json").read_text())
    document["execution"]["executable_name"] = command
    _write_config(cwd, document)

    with pytest.raises(ConfigError, match=r"execution\.executable_name"):
        _load(cwd)


def test_uncreatable_directory_is_rejected(cwd: Path) -> None:
    """An execution directory that cannot be created is named with its source."""
    _base_file(cwd)
    (cwd / "a-file").write_text("")

    with pytest.raises(ConfigError) as error:
        _load(cwd, ["--execution-directory", "a-file/work"])

    assert str(error.value) == (
        "flag --execution_directory: execution.execution_directory: cannot create directory "
        f"{(cwd / 'a-file/work').resolve()}: Not a directory"
    )


def test_file_in_place_of_state_directory_is_rejected(cwd: Path) -> None:
    """A state directory path that is a regular file is not a directory."""
    _base_file(cwd)
    (cwd / "occupied").write_text("")

    with pytest.raises(ConfigError, match=r"execution\.state_directory: .*occupied is not a dir"):
        _load(cwd, environ=_environ(cwd, FLOMATION_RUNNER_STATE_DIRECTORY="occupied"))


def test_file_in_place_of_execution_directory_is_rejected(cwd: Path) -> None:
    """An execution directory path that is a regular file is refused by name, even for root
    (which may write anywhere, so a permission test would prove nothing where CI runs)."""
    _base_file(cwd)
    (cwd / "a-file").write_text("")

    with pytest.raises(ConfigError) as error:
        _load(cwd, ["--execution-directory", "a-file"])

    assert str(error.value) == (
        "flag --execution_directory: execution.execution_directory: "
        f"{(cwd / 'a-file').resolve()} is not a directory"
    )
    assert (cwd / "a-file").read_text() == ""  # left as it was


def test_missing_explicit_config_file_is_an_error(cwd: Path) -> None:
    """--config naming a missing file is an error even when the environment is complete."""
    env = _environ(
        cwd,
        FLOMATION_API="https://a.example",
        FLOMATION_REGISTRATION_CODE="code-1234",
        FLOMATION_RUNNER_EXECUTION_DIRECTORY=str(cwd / "w"),
        FLOMATION_RUNNER_EXECUTABLE_NAME="flomation-executor",
    )

    assert _load(cwd, environ=env).url == "https://a.example"
    with pytest.raises(ConfigError) as error:
        _load(cwd, ["--config", "missing.json"], env)

    assert str(error.value) == (
        f"flag --config: config file {cwd.resolve() / 'missing.json'} does not exist "
        "or is not a file"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kill-grace-s", "-1"], "execution.kill_grace_s: expected a number of seconds, 0"),
        (["--status-poll-interval-s", "0"], "more than 0"),
        (["--log-batch-max-bytes", "0"], "expected a whole number, 1 or more"),
        (["--health-addr", "localhost"], "expected HOST:PORT"),
        (["--log-format", "xml"], "expected one of auto, json, console"),
        (["--log-level", "loud"], "expected one of debug, info"),
        (["--checkin-timeout", "nan"], "expected a finite number"),
        (["--max-executions", "2.5"], "expected a whole number"),
    ],
)
def test_out_of_range_values_are_rejected(cwd: Path, argv: list[str], message: str) -> None:
    """Negative, zero, malformed and unknown values of added fields are rejected."""
    _base_file(cwd)

    with pytest.raises(ConfigError, match=message):
        _load(cwd, argv)


def test_zero_means_no_limit_for_optional_limits(cwd: Path) -> None:
    """execution_timeout_s, idle_timeout_s and max_executions of 0 mean no limit."""
    _base_file(cwd)

    config = _load(
        cwd, ["--execution-timeout-s", "0", "--idle-timeout-s", "0", "--max-executions", "0"]
    )

    assert (config.execution_timeout_s, config.idle_timeout_s, config.max_executions) == (
        None,
        None,
        None,
    )


def test_mtls_enabled_requires_existing_files(cwd: Path) -> None:
    """With mTLS enabled, a missing client certificate setting or file is an error."""
    _base_file(cwd)

    with pytest.raises(ConfigError, match=r"tls\.cert is required when tls\.enabled is true"):
        _load(cwd, ["--mtls-enabled", "true"])
    with pytest.raises(ConfigError, match=r"flag --mtls-key: tls\.key: file .*nokey\.pem"):
        (cwd / "c.pem").write_text("x")
        _load(cwd, ["--mtls-enabled", "--mtls-cert", "c.pem", "--mtls-key", "nokey.pem"])


def test_empty_environment_value_counts_as_unset(cwd: Path) -> None:
    """An empty variable does not override the file, as upstream."""
    _base_file(cwd)

    config = _load(cwd, environ=_environ(cwd, FLOMATION_API="", FLOMATION_RUNNER_NAME=""))

    assert config.url == "https://file.example"
    assert config.name == "Flo Runner"


def test_health_host_port_splits_ipv6(cwd: Path) -> None:
    """health_host_port gives host and port, with IPv6 brackets removed."""
    _base_file(cwd)

    config = _load(cwd, ["--health-addr", "[::1]:0"])

    assert config.health_host_port == ("::1", 0)


def test_normalise_go_flags_rewrites_known_names_only() -> None:
    """Only known long flags written with one dash are rewritten; '--' ends the rewriting."""
    argv = ["-api-url", "x", "-once", "-no-signing-v2", "-h", "-zzz", "--", "-api-url"]

    assert normalise_go_flags(argv) == [
        "--api-url",
        "x",
        "--once",
        "--no-signing-v2",
        "-h",
        "-zzz",
        "--",
        "-api-url",
    ]


def test_redacted_hides_registration_code(cwd: Path) -> None:
    """print-config output shows the code as ******** and is JSON-serialisable."""
    _base_file(cwd)
    config = _load(cwd)

    shown = redacted(config)
    text = json.dumps(shown)

    assert shown["registration_code"] == "********"
    assert "file-code" not in text
    assert "file-code" not in repr(config)
    assert shown["url"] == "https://file.example"
    assert shown["state_file"] == str(cwd.resolve() / "flo.state")
    assert shown["executable"] == ["flomation-executor"]


def test_redacted_shows_null_for_unset_code(cwd: Path) -> None:
    """Without a registration code, print-config shows null."""
    config = RunnerConfig(
        url="https://a.example", execution_directory=cwd, executable=("flomation-executor",)
    )

    assert redacted(config)["registration_code"] is None


def test_secret_values_select_by_name_pattern(cwd: Path) -> None:
    """Values of variables matching the patterns and the registration code are secret."""
    config = RunnerConfig(
        url="https://a.example",
        registration_code="reg-secret",
        execution_directory=cwd,
        executable=("flomation-executor",),
    )
    environ = {
        "GITHUB_TOKEN": "ghp_abcdef",
        "db_password": "hunter22",
        "AWS_SECRET": "s3cr3t-value",
        "STRIPE_API_KEY": "sk_live_1",
        "SHORT_TOKEN": "abc",
        "HOME": "/root",
        "TOKEN_COUNT": "12345",
        "PG_CONNECTION_STRING": "postgres://u:p@h/db",
    }

    values = secret_values(config, environ)

    assert set(values) == {
        "ghp_abcdef",
        "hunter22",
        "s3cr3t-value",
        "sk_live_1",
        "postgres://u:p@h/db",
        "reg-secret",
    }
    assert values == sorted(values, key=len, reverse=True)


def test_runner_environment_drops_runner_settings_and_secrets(cwd: Path) -> None:
    """The executor inherits the environment minus the runner's settings and secret-named
    variables (except those named in secret_env_passthrough); its own settings pass."""
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/home/x",
        "FLOMATION_API": "https://a.example",
        "FLOMATION_REGISTRATION_CODE": "code",
        "MTLS_KEY": "/k.pem",
        "RUNNER_REGISTRATION_CODE": "code",
        "RUNNER_URL": "https://a.example",
        "MY_TOKEN": "not-for-flows",
        "db_password": "not-for-flows",
        "AWS_SECRET_ACCESS_KEY": "passed-on-request",
        "FLOMATION_EXECUTOR_NETWORK_GUARD": "private",
    }
    config = RunnerConfig(
        url="https://a.example", execution_directory=cwd, executable=("flomation-executor",)
    )

    executor_settings = {"FLOMATION_EXECUTOR_NETWORK_GUARD": "private"}
    assert runner_environment(config, environ) == {
        "PATH": "/usr/bin",
        "HOME": "/home/x",
        **executor_settings,
    }
    passing = dataclasses.replace(config, secret_env_passthrough=("AWS_SECRET_ACCESS_KEY",))
    assert runner_environment(passing, environ) == {
        "PATH": "/usr/bin",
        "HOME": "/home/x",
        "AWS_SECRET_ACCESS_KEY": "passed-on-request",
        **executor_settings,
    }
    extra = dataclasses.replace(passing, secret_env_passthrough=("PLAIN_NAME",))
    assert "value-of-plain" in secret_values(extra, {"PLAIN_NAME": "value-of-plain"})


def test_help_lists_every_upstream_flag() -> None:
    """The argument parser knows every upstream flag spelling."""
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    text = parser.format_help()

    for flag in (
        "--config",
        "--api-url",
        "--registration-code",
        "--runner-name",
        "--checkin-timeout",
        "--certificate-filename",
        "--max_concurrent_executors",
        "--state_directory",
        "--execution_directory",
        "--executable_name",
        "--mtls-enabled",
        "--mtls-ca-cert",
        "--mtls-cert",
        "--mtls-key",
        "--mtls-api-url",
    ):
        assert flag in text


def test_executor_symlink_is_not_resolved(tmp_path: Path) -> None:
    """A program given as a symbolic link (a virtualenv's python) is kept as the link's path."""
    target = tmp_path / "real-python"
    target.write_text("#!/bin/sh\n")
    target.chmod(0o755)
    link = tmp_path / "venv-python"
    link.symlink_to(target)
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    args = parser.parse_args(
        [
            "--api-url",
            "http://127.0.0.1:1",
            "--registration-code",
            "code",
            "--execution-directory",
            str(tmp_path / "work"),
            "--state-directory",
            str(tmp_path / "state"),
            "--executable-name",
            f"{link} -m flomation_executor",
        ]
    )
    config = load_config(args, {}, tmp_path, docker_config_path=tmp_path / "absent.json")
    assert config.executable == (str(link), "-m", "flomation_executor")
