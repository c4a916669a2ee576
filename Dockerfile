# Flomation Runner for Python: the runner agent and the reference executor in one image.
#
#   docker build -t flomation-runner .
#   docker run -e RUNNER_NAME=r1 -e RUNNER_URL=https://api.flomation.app \
#              -e RUNNER_REGISTRATION_CODE=... -v flomation-state:/home/flomation/state flomation-runner
#
# Configuration as in the upstream image (runner-config.md §3): a config file mounted at
# /usr/local/bin/config.json is read by the runner itself; otherwise RUNNER_NAME, RUNNER_URL and
# RUNNER_REGISTRATION_CODE are required and the runner exits 2 naming each one that is missing.
# No entrypoint script generates JSON. Arguments after the image name go to `flomation-runner`
# (e.g. `docker run IMAGE print-config`). Stop with `docker stop -t 45` so the drain can finish.
#
# The image runs Python and Bash script nodes. For script/javascript nodes add Node.js in an
# image of your own: FROM this image, USER root, apt-get install nodejs, USER 10001:10001.

# ---------------------------------------------------------------------------------------------
# Builder: resolve nothing, install exactly what uv.lock pins (no dev tools) into /opt/venv.
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv

RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /src

# Dependencies first, so source edits do not invalidate this layer.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --python /usr/local/bin/python3.11

# Then the project itself, as a regular (non-editable) install.
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable --python /usr/local/bin/python3.11

# ---------------------------------------------------------------------------------------------
# Runtime: slim Python, tini as PID 1 (forwards signals to the runner, reaps orphaned
# grandchildren of executors), a non-root user and nothing from the build toolchain.
FROM python:3.11-slim AS runtime

# tini from Debian; the version is pinned to the upstream release, any Debian revision.
RUN apt-get update \
    && apt-get install -y --no-install-recommends 'tini=0.19.0-*' \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 flomation \
    && useradd --system --uid 10001 --gid flomation --home-dir /home/flomation \
       --create-home --shell /usr/sbin/nologin flomation \
    && install -d -o flomation -g flomation -m 0750 /home/flomation/state \
    && install -d -o flomation -g flomation -m 0750 /home/flomation/workspace

COPY --from=builder /opt/venv /opt/venv

# No FLOMATION_* defaults for fields a mounted config.json may set: environment variables beat the
# file, and the upstream image lets the file win. Instead the working directory is the state
# directory, so the defaults ("./" and "flomation-runner.pem") keep identity, key and outbox
# together there (mount a volume on it); the RUNNER_* mode defaults the executor to
# flomation-executor. Only the health listener, which upstream files never set, comes from ENV.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLOMATION_RUNNER_HEALTH_ADDR=0.0.0.0:9310

USER 10001:10001
WORKDIR /home/flomation/state

EXPOSE 9310

# SIGTERM starts the runner's drain (running executions finish or are cancelled, results are
# spooled to the outbox); give `docker stop` a timeout above the drain budget, e.g. -t 45.
STOPSIGNAL SIGTERM

# Liveness through the runner's own /healthz (event loop heartbeat), not pgrep. Python's urllib
# is used so the image needs no curl; the port follows FLOMATION_RUNNER_HEALTH_ADDR.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; host, _, port = os.environ.get('FLOMATION_RUNNER_HEALTH_ADDR', '127.0.0.1:9310').rpartition(':'); host = host.strip('[]'); host = '127.0.0.1' if host in ('', '0.0.0.0') else '[::1]' if host == '::' else ('[' + host + ']' if ':' in host else host); sys.exit(0 if urllib.request.urlopen('http://' + host + ':' + port + '/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["/usr/bin/tini", "--", "flomation-runner"]
CMD []
