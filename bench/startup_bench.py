#!/usr/bin/env python3
"""Runner start-up (issue 19): CPU to the first long poll and RSS once idle, from a fresh start.

Starts the project's ``flomation-server`` on loopback, then ``--runs`` times a fresh
``flomation-runner`` (a new state directory each time, so the RSA key is generated and the
runner registers as new) with ``--slots`` slots and the reference ``flomation-executor``. The
runner talks to the server through a byte-forwarding TCP relay inside this script, which sees
each request line as the runner sends it:

- CPU to the first long poll: the runner process's utime + stime (/proc/PID/stat) read the
  moment the relay sees the first ``POST /api/v1/runner/<id>/execution`` (a claim), so the
  server's own start and CPU never count, nor do the executor's ``--version``/``--manifest``
  children (their CPU is the children's, not the runner's);
- RSS at idle: the runner's VmRSS (/proc/PID/status) ``--idle-s`` seconds after every slot
  has sent its first claim. Child processes still alive then (a warm executor, for instance)
  are reported on their own line, not added to the runner's figure.

Prints the median, min and max of each figure over the runs and the load average before and
after (the machine is shared; CPU seconds vary less with load than wall time does)::

    .venv/bin/python bench/startup_bench.py [--runs 7] [--slots 16] [--idle-s 5] [--keep]

``--source DIR`` (repeatable) starts the runner from another source tree, e.g. a commit's
(``git archive COMMIT src | tar -x -C /tmp/before``, then ``--source /tmp/before/src --source
src``): runs alternate between the trees, so a change is compared under the same load. The
bytecode of every tree is compiled first, as the Docker image's is.

``--imports`` prints instead where the runner's start goes: ``python -X importtime`` of the
modules ``flomation-runner run`` imports before it starts, as the median over ``--runs`` of
each top-level package's own (self) time; then the CPU seconds and RSS of fresh interpreters
that import the start path's layers one on top of the other (asyncio, structlog, httptools,
cryptography, the runner's modules) and finally generate an RSA-2048 key.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import os
import re
import secrets
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import flomation
from flomation.server.admin_client import AdminClient
from support import (
    BIN,
    Figure,
    cpu_seconds,
    load_average,
    memory_kib,
    print_figures,
    server_process,
    stop_process,
    work_directory,
)

_IMPORT_LINE = re.compile(r"import time:\s+(?P<self>\d+) \|\s+\d+ \|(?P<module>.*)$")
INSTALLED_SOURCE = Path(flomation.__file__).resolve().parents[1]
CLAIM_REQUEST = re.compile(rb"POST /api/v1/runner/[^ /]+/execution HTTP/1\.[01]\r\n")
START_TIMEOUT_S = 120.0
TARGET_CPU_S = 0.25
TARGET_RSS_MIB = 45.0


@dataclass
class StartFigures:
    """One fresh start, measured."""

    cpu_to_first_claim_s: float = 0.0
    wall_to_first_claim_s: float = 0.0
    cpu_to_all_claims_s: float = 0.0
    idle_rss_mib: float = 0.0
    children_rss_mib: float = 0.0
    children: list[str] = field(default_factory=list)


class ClaimRelay:
    """A TCP relay to the server that notes when the runner sends its claims.

    ``on_claim`` is called (synchronously, before the bytes are forwarded) for every claim
    request line seen in the runner -> server direction.
    """

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self.on_claim: Callable[[], None] = lambda: None
        self._server: asyncio.Server | None = None
        self._pumps: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        """Listen on 127.0.0.1 (random port) until the block ends; yields the relay's URL."""
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            self._server.close()
            for pump in list(self._pumps):
                pump.cancel()
            await asyncio.gather(*self._pumps, return_exceptions=True)
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(self._host, self._port)
        pumps = (
            asyncio.create_task(self._pump(reader, upstream_writer, watch=True)),
            asyncio.create_task(self._pump(upstream_reader, writer, watch=False)),
        )
        self._pumps.update(pumps)
        try:
            await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            self._pumps.difference_update(pumps)
            for stream in (writer, upstream_writer):
                stream.close()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, watch: bool
    ) -> None:
        try:
            while data := await source.read(65536):
                if watch:
                    for _ in CLAIM_REQUEST.finditer(data):
                        self.on_claim()
                sink.write(data)
                await sink.drain()
            with contextlib.suppress(OSError):
                sink.write_eof()
        except (ConnectionError, OSError):
            pass


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (via /proc/PID/task/TID/children)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                children = [int(c) for c in (task / "children").read_text().split()]
                found.extend(children)
                pending.extend(children)
    return found


def _command(pid: int) -> str:
    with contextlib.suppress(OSError):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return " ".join(Path(part.decode()).name for part in argv[:3] if part)
    return "?"


async def fresh_start(
    home: Path,
    relay: ClaimRelay,
    relay_url: str,
    code: str,
    options: argparse.Namespace,
    run: int,
    source: Path | None,
) -> StartFigures:
    """One runner started from an empty state directory, measured, then stopped.

    ``source`` is a source tree (holding ``flomation/``) imported instead of the installed one.
    """
    slots, idle_s = options.slots, options.idle_s
    base = home / f"runner-{run}"
    base.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOMATION_", "RUNNER_"))}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    env.update(
        FLOMATION_API=relay_url,
        FLOMATION_REGISTRATION_CODE=code,
        FLOMATION_RUNNER_NAME=f"startup-{run}",
        FLOMATION_RUNNER_STATE_DIRECTORY=str(base / "state"),
        FLOMATION_RUNNER_CERTIFICATE_PATH=str(base / "state" / "key.pem"),
        FLOMATION_RUNNER_EXECUTION_DIRECTORY=str(base / "work"),
        FLOMATION_RUNNER_EXECUTABLE_NAME=shlex.join([str(BIN / "flomation-executor")]),
        FLOMATION_RUNNER_MAX_EXECUTORS=str(slots),
        FLOMATION_RUNNER_LOG_FORMAT="json",
        FLOMATION_RUNNER_LOG_LEVEL="info",
    )
    figures = StartFigures()
    claims = 0
    all_claimed = asyncio.Event()
    pid = 0
    started = 0.0

    def on_claim() -> None:
        nonlocal claims
        claims += 1
        if claims == 1:
            figures.cpu_to_first_claim_s = cpu_seconds(pid)
            figures.wall_to_first_claim_s = time.monotonic() - started
        if claims == slots:
            figures.cpu_to_all_claims_s = cpu_seconds(pid)
            all_claimed.set()

    relay.on_claim = on_claim
    with (base / "runner.log").open("w") as log:
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            str(BIN / "flomation-runner"), env=env, stdout=log, stderr=log, cwd=base
        )
        pid = process.pid
        try:
            waiter = asyncio.create_task(all_claimed.wait())
            exited = asyncio.create_task(process.wait())
            await asyncio.wait(
                (waiter, exited), timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            exited.cancel()
            if not all_claimed.is_set():
                raise RuntimeError(
                    f"runner {run}: {claims} of {slots} claims within {START_TIMEOUT_S:.0f} s "
                    f"(see {base / 'runner.log'}): {(base / 'runner.log').read_text()[-2000:]}"
                )
            await asyncio.sleep(idle_s)
            figures.idle_rss_mib = memory_kib(pid, "VmRSS") / 1024
            for child in _descendants(pid):
                with contextlib.suppress(OSError, KeyError):
                    figures.children_rss_mib += memory_kib(child, "VmRSS") / 1024
                    figures.children.append(_command(child))
        finally:
            relay.on_claim = lambda: None
            await stop_process(process)
    if not (base / "state" / "key.pem").is_file():
        raise RuntimeError(f"runner {run} generated no key at {base / 'state' / 'key.pem'}")
    return figures


# What ``flomation-runner run`` imports before it starts (flomation.commands.runner.main).
_START_PATH = (
    "from flomation.runner import import_structlog_without_rich\n"
    "import_structlog_without_rich()\n"
    "import flomation.commands.runner, flomation.runner.cli"
)


def import_table(runs: int) -> str:
    """Median self import time per top-level package of the runner's start path, largest first."""
    per_run: list[dict[str, float]] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", _START_PATH],
            capture_output=True,
            text=True,
            check=True,
        )
        totals: dict[str, float] = {}
        for line in done.stderr.splitlines():
            match = _IMPORT_LINE.match(line)
            if match:
                package = match["module"].strip().split(".")[0]
                totals[package] = totals.get(package, 0.0) + int(match["self"]) / 1000
        per_run.append(totals)
    packages = {name for totals in per_run for name in totals}
    medians = {name: statistics.median(t.get(name, 0.0) for t in per_run) for name in packages}
    whole = statistics.median(sum(t.values()) for t in per_run)
    rows = [f"{'package':<24} {'self ms (median)':>16}"]
    for name, value in sorted(medians.items(), key=lambda item: -item[1]):
        if value >= 1.0:
            rows.append(f"{name:<24} {value:>16.1f}")
    rows.append(f"{'all modules':<24} {whole:>16.1f}")
    return "\n".join(rows)


# Layers of the start path, each imported on top of the previous ones in a fresh interpreter.
_LAYERS = (
    ("interpreter (python -c pass)", "pass"),
    ("+ asyncio, ssl", "import asyncio, ssl"),
    ("+ structlog (without rich)", _START_PATH.rsplit("\n", 1)[0]),
    ("+ httptools (the API client's parser)", "import httptools"),
    ("+ cryptography (RSA, PEM)", "import cryptography.hazmat.primitives.serialization"),
    ("+ the runner's own modules", "import flomation.commands.runner, flomation.runner.cli"),
    ("+ an RSA-2048 key", "flomation.wire.signing.generate_private_key()"),
)
_MEASURE = (
    "import re, resource\n"
    "{code}\n"
    "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
    "status = open('/proc/self/status').read()\n"
    "print(usage.ru_utime + usage.ru_stime, re.search(r'VmRSS:\\s+(\\d+)', status)[1])"
)


def layer_table(runs: int) -> str:
    """CPU seconds and RSS of a process that imported the start path's layers, cumulatively."""
    rows = [f"{'layer':<32} {'CPU s (median)':>14} {'RSS MiB (median)':>16}"]
    code = ""
    for label, statement in _LAYERS:
        code += statement + "\n"
        cpu: list[float] = []
        rss: list[float] = []
        for _ in range(runs):
            done = subprocess.run(
                [sys.executable, "-c", _MEASURE.format(code=code)],
                capture_output=True,
                text=True,
                check=True,
            )
            cpu_s, rss_kib = done.stdout.split()
            cpu.append(float(cpu_s))
            rss.append(int(rss_kib) / 1024)
        rows.append(f"{label:<32} {statistics.median(cpu):>14.3f} {statistics.median(rss):>16.1f}")
    return "\n".join(rows)


def _median_figure(
    name: str, values: list[float], unit: str, digits: int, target: float | None = None
) -> Figure:
    """The median (min-max) of ``values``; met when the median is at most ``target``."""
    median = statistics.median(values)
    return Figure(
        name,
        f"{median:.{digits}f} {unit} ({min(values):.{digits}f}-{max(values):.{digits}f})",
        "-" if target is None else f"<= {target:g} {unit}",
        None if target is None else median <= target,
    )


def _compile_bytecode(trees: list[Path]) -> None:
    """Write the bytecode of every source tree measured (as the Docker image and bootstrap do).

    Where PYTHONDONTWRITEBYTECODE is set, a module edited since the last compile would
    otherwise be compiled from source at every start, and that compile would be measured.
    """
    for tree in trees:
        if not compileall.compile_dir(str(tree), quiet=1, workers=0):
            raise RuntimeError(f"cannot compile {tree}")


def _figures(results: list[StartFigures], slots: int, label: str) -> list[Figure]:
    children = sorted({name for r in results for name in r.children})
    return [
        _median_figure(
            f"{label}runner CPU to first long poll, median (min-max)",
            [r.cpu_to_first_claim_s for r in results],
            "s",
            2,
            TARGET_CPU_S,
        ),
        _median_figure(
            f"{label}runner CPU once all {slots} slots polled",
            [r.cpu_to_all_claims_s for r in results],
            "s",
            2,
        ),
        _median_figure(
            f"{label}wall time to first long poll",
            [r.wall_to_first_claim_s for r in results],
            "s",
            2,
        ),
        _median_figure(
            f"{label}runner RSS idle with {slots} slots",
            [r.idle_rss_mib for r in results],
            "MiB",
            1,
            TARGET_RSS_MIB,
        ),
        _median_figure(
            f"{label}child processes' RSS ({', '.join(children) or 'none'})",
            [r.children_rss_mib for r in results],
            "MiB",
            1,
        ),
    ]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh starts to measure (7)")
    parser.add_argument("--slots", type=int, default=16, help="claim slots of the runner (16)")
    parser.add_argument(
        "--idle-s", type=float, default=5.0, help="idle seconds before RSS is read (5)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument(
        "--imports", action="store_true", help="print the import time table of the start path"
    )
    parser.add_argument(
        "--source",
        action="append",
        type=Path,
        metavar="DIR",
        help="a source tree (holding flomation/) to start the runner from instead of the "
        "installed one; repeat it to compare trees in interleaved runs (--runs each)",
    )
    args = parser.parse_args()
    if args.runs < 1 or args.slots < 1 or args.idle_s < 0:
        parser.error("--runs and --slots must be at least 1, --idle-s not negative")
    for tree in args.source or []:
        if not (tree / "flomation" / "runner" / "__init__.py").is_file():
            parser.error(f"--source {tree}: no flomation/runner/__init__.py below it")
    sources: list[Path | None] = [tree.resolve() for tree in args.source or []] or [None]
    _compile_bytecode([tree or INSTALLED_SOURCE for tree in sources])
    if args.imports:
        load_before = load_average()
        print(import_table(args.runs))
        print()
        print(layer_table(args.runs))
        print(f"runs: {args.runs}; load average before: {load_before}, after: {load_average()}")
        return 0
    load_before = load_average()
    results: dict[Path | None, list[StartFigures]] = {source: [] for source in sources}
    with work_directory("flomation-startup-bench-", keep=args.keep) as tmp:
        async with (
            server_process(tmp / "server.db", secrets.token_urlsafe(24)) as running,
            AdminClient(running.url, running.admin_token) as admin,
        ):
            queue = await admin.create_queue("startup")
            relay = ClaimRelay(running.url)
            async with relay.running() as relay_url:
                for run in range(args.runs * len(sources)):
                    source = sources[run % len(sources)]
                    figures = await fresh_start(
                        tmp, relay, relay_url, queue["registration_code"], args, run, source
                    )
                    results[source].append(figures)
                    print(
                        f"run {run + 1}/{args.runs * len(sources)} ({source or 'installed'}): "
                        f"CPU to first claim {figures.cpu_to_first_claim_s:.2f} s, idle RSS "
                        f"{figures.idle_rss_mib:.1f} MiB, load {load_average()}",
                        file=sys.stderr,
                        flush=True,
                    )
    table: list[Figure] = []
    for source, measured in results.items():
        label = "" if len(sources) == 1 else f"[{source}] "
        table.extend(_figures(measured, args.slots, label))
    print_figures(table)
    print(f"runs: {args.runs}; load average before: {load_before}, after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
