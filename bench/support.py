"""What the runner and server benchmarks share: figures, the server subprocess, /proc readings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SERVER_START_TIMEOUT_S = 120.0


@dataclass
class Figure:
    """One measured figure and its target (``ok`` None: no target)."""

    name: str
    value: str
    target: str
    ok: bool | None


def print_figures(figures: list[Figure]) -> None:
    """The table of figures, then the machine they were measured on."""
    width = max(len(figure.name) for figure in figures)
    value_width = max(len(figure.value) for figure in figures)
    target_width = max(len(figure.target) for figure in figures)
    print(f"{'figure':<{width}}  {'measured':>{value_width}}  {'target':>{target_width}}  ok")
    for figure in figures:
        verdict = "-" if figure.ok is None else ("yes" if figure.ok else "NO")
        print(
            f"{figure.name:<{width}}  {figure.value:>{value_width}}  "
            f"{figure.target:>{target_width}}  {verdict}"
        )
    print(
        f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {os.uname().machine}"
    )


@contextlib.contextmanager
def work_directory(prefix: str, *, keep: bool) -> Iterator[Path]:
    """A fresh temporary directory for one benchmark run, removed afterwards; with ``keep``
    (``--keep``) it stays and its path is printed."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            print(f"work directory kept: {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes (figures on a shared machine)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def percentile(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0..1) of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def _cpu_ticks(pid: int) -> list[int]:
    """utime, stime, cutime, cstime of process ``pid`` (/proc/PID/stat), in clock ticks."""
    # The command name (in parentheses) may hold spaces: the fields are counted after it.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return [int(value) for value in fields[11:15]]


def user_system_seconds(pid: int) -> tuple[float, float]:
    """User and system (kernel) CPU time process ``pid`` has consumed so far."""
    user, system, _, _ = _cpu_ticks(pid)
    return user / CLOCK_TICKS, system / CLOCK_TICKS


def memory_kib(pid: int, key: str) -> int:
    """A memory figure of process ``pid`` from /proc/PID/status (``VmRSS``, ``VmHWM``...), KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has consumed so far."""
    return sum(user_system_seconds(pid))


def cpu_seconds_with_children(pid: int) -> float:
    """``cpu_seconds`` plus that of the children ``pid`` has waited for (reaped)."""
    return sum(_cpu_ticks(pid)) / CLOCK_TICKS


@dataclass(frozen=True)
class MachineTimes:
    """CPU time of the whole machine (every core, every process) from /proc/stat, in seconds."""

    busy_s: float  # user, nice, system, irq, softirq
    idle_s: float  # idle and iowait
    stolen_s: float  # taken by the hypervisor for other guests

    @classmethod
    def now(cls) -> MachineTimes:
        fields = [int(value) / CLOCK_TICKS for value in Path("/proc/stat").read_text().split()[1:9]]
        user, nice, system, idle, iowait, irq, softirq, steal = fields
        return cls(user + nice + system + irq + softirq, idle + iowait, steal)

    def since(self, earlier: MachineTimes) -> MachineTimes:
        return MachineTimes(
            self.busy_s - earlier.busy_s,
            self.idle_s - earlier.idle_s,
            self.stolen_s - earlier.stolen_s,
        )

    def shares(self) -> str:
        """``busy / idle / stolen`` as percentages of the machine's time."""
        total = self.busy_s + self.idle_s + self.stolen_s or 1.0
        return " / ".join(
            f"{part / total * 100:.0f} %" for part in (self.busy_s, self.idle_s, self.stolen_s)
        )


@dataclass
class ServerProcess:
    """A running ``flomation-server`` subprocess, its base URL and admin token."""

    process: asyncio.subprocess.Process
    url: str
    admin_token: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        """Resident set size now."""
        return memory_kib(self.pid, "VmRSS") * 1024


@contextlib.asynccontextmanager
async def server_process(
    database: Path | str, admin_token: str, *options: str, environ: dict[str, str] | None = None
) -> AsyncIterator[ServerProcess]:
    """``flomation-server`` on 127.0.0.1 (random port) until the block ends (then SIGTERM).

    ``database`` is a SQLite file or a database URL; ``options`` are further command-line
    options and ``environ`` further environment variables. The server announces its URL in an
    info-level log line ("server listening"), which is how the URL is learnt.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOMATION_SERVER_")}
    env["FLOMATION_SERVER_ADMIN_TOKEN"] = admin_token
    env.update(environ or {})
    process = await asyncio.create_subprocess_exec(
        str(BIN / "flomation-server"),
        "--listen",
        "127.0.0.1:0",
        "--database",
        f"sqlite:///{database}" if isinstance(database, Path) else database,
        "--log-level",
        "info",
        *options,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    url = ""
    seen: list[bytes] = []
    try:
        # Generous: on a loaded 2-core machine importing the server stack alone can take seconds.
        async with asyncio.timeout(SERVER_START_TIMEOUT_S):
            while not url:
                line = await process.stderr.readline()
                if not line:
                    raise RuntimeError(
                        "flomation-server exited during start-up: " + b"".join(seen).decode()
                    )
                seen.append(line)
                with contextlib.suppress(ValueError, AttributeError):
                    entry = json.loads(line)
                    if entry.get("event") == "server listening":
                        url = entry["url"]
    except BaseException as error:
        process.kill()
        await process.wait()
        if isinstance(error, TimeoutError):
            raise RuntimeError(
                f"flomation-server did not announce its URL within "
                f"{SERVER_START_TIMEOUT_S:.0f} s; its output: " + b"".join(seen).decode()
            ) from None
        raise
    # Keep reading the server's log so that a full pipe never blocks it.
    drain = asyncio.create_task(_discard(process.stderr))
    try:
        yield ServerProcess(process, url, admin_token)
    finally:
        process.terminate()
        await process.wait()
        await drain


async def stop_process(process: asyncio.subprocess.Process, grace_s: float = 30.0) -> None:
    """SIGTERM ``process`` if it still runs, SIGKILL after ``grace_s``, and reap it."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), grace_s)
    except TimeoutError:
        process.kill()
        await process.wait()


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
