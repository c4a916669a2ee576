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

The package: ``model.py`` (``RunnerConfig``, its fields and defaults), ``options.py`` (converters,
the option table, the flags), ``loading.py`` (file, environment and flags merged and checked),
``output.py`` (the executor's environment, the values to mask, the redacted views).
"""

from __future__ import annotations

from flomation.runner.config.loading import load_config
from flomation.runner.config.model import DOCKER_CONFIG_PATH, ConfigError, RunnerConfig
from flomation.runner.config.options import add_config_arguments, normalise_go_flags
from flomation.runner.config.output import (
    config_file_view,
    options_markdown,
    redacted,
    runner_environment,
    secret_values,
)

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
