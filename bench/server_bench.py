#!/usr/bin/env python3
"""Server benchmarks (issue 2): wake-up latency, lifecycle throughput, idle long-poll cost.

Starts ``flomation-server`` as a subprocess on loopback with a fresh SQLite database, drives it
with simulated runners (RSA-PSS signed requests) and prints a table of figures next to the
issue's targets. CPU and RSS are read from ``/proc/<server pid>``, so only the server counts.

    .venv/bin/python bench/server_bench.py [--quick]

The simulated runners share the machine's cores with the server, so the load generator is kept
lean and its cost is reported beside the server's:

* Requests go over one keep-alive connection per runner, written by hand and parsed with
  httptools (aiohttp's client cost several times the server's per-request CPU).
* No RSA signing happens in the timed window (signing costs ~1 ms, 20x a verification). The
  server accepts a v1 signature once (a repeat is a replay, docs/protocol.md §8.1 A4), so every
  request needs its own: they are all made before the clock starts (``Signatures``), the
  status polls' once the executions exist. The server still verifies every request's
  signature and records each one in its replay store, as it does for a Go runner.
* The throughput run reports the server's CPU per execution and what that gives on one
  dedicated core, the bench client's CPU, and the CPU every other process on the machine used
  meanwhile (the figures are only comparable on an otherwise idle machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import string
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httptools
from cryptography.hazmat.primitives.asymmetric import rsa

from flomation.server.admin_client import AdminClient
from flomation.wire.jsontext import JsonObject
from flomation.wire.signing import (
    SIGNATURE_HEADER,
    generate_private_key,
    public_key_pem,
    sign_v1,
)
from support import (
    Figure,
    MachineTimes,
    ServerProcess,
    cpu_seconds,
    percentile,
    print_figures,
    server_process,
    user_system_seconds,
)

FLOW: JsonObject = {"nodes": [{"id": "t1", "type": "trigger/manual"}], "edges": []}
ADMIN_TOKEN = "bench-admin-token"


def _identifier() -> str:
    return "".join(secrets.choice(string.ascii_letters) for _ in range(16))


def _server(
    directory: Path, poll_hold_s: float
) -> contextlib.AbstractAsyncContextManager[ServerProcess]:
    """``flomation-server`` with its database in ``directory`` and the given long-poll hold."""
    return server_process(directory / "server.db", ADMIN_TOKEN, "--poll-hold", str(poll_hold_s))


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time, answers parsed by httptools."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._body: list[bytes] = []
        self._answer: asyncio.Future[tuple[int, bytes]] | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        """A connected instance."""
        _, connection = await asyncio.get_running_loop().create_connection(cls, host, port)
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer, self._answer = self._answer, None
        body, self._body = b"".join(self._body), []
        if answer is not None and not answer.done():
            answer.set_result((self._parser.get_status_code(), body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(ConnectionError("the server closed the connection"))

    async def request(self, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
        """Send a request (``head`` ends with the blank line) and return status and body."""
        assert self._transport is not None and self._answer is None
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(head + body)
        return await self._answer

    def close(self) -> None:
        """Close the socket."""
        if self._transport is not None:
            self._transport.close()


def _head(method: str, path: str, signature: str, body: bytes) -> bytes:
    """A request head without Content-Type, like the Go runner's."""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
        f"{SIGNATURE_HEADER}: {signature}\r\n\r\n"
    ).encode("ascii")


STATE_BODY = b'{"state":"running"}'
LOGS_BODY = b'{"lines":["step one","__NODE__:{}","step two"]}'
RESULT_BODY = b'{"has_errored":false,"state":{"ok":true}}'


class Signatures:
    """v1 signatures made ahead of time, each used once (RSA-PSS makes every one different)."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key
        self._made: dict[bytes, list[str]] = {}
        self.poll_body = b""
        self.renew_poll_body()

    def renew_poll_body(self) -> None:
        """Polls from now on carry the current time.

        The server takes a v1-only claim only within 300 s of its requested_at
        (docs/protocol.md §9.3): each step of the bench makes its own, well within that.
        """
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        self.poll_body = b'{"requested_at":"%s"}' % now.encode()

    def make(self, message: bytes, count: int) -> None:
        """Sign ``message`` ``count`` more times."""
        self._made.setdefault(message, []).extend(sign_v1(self.key, message) for _ in range(count))

    def take(self, message: bytes) -> str:
        """A signature of ``message`` not used before (signed now if none is left)."""
        made = self._made.get(message)
        return made.pop() if made else sign_v1(self.key, message)


class BenchRunner:
    """A simulated runner with constant bodies, signed ahead of time, on its own connection."""

    def __init__(self, url: str, session: aiohttp.ClientSession, signatures: Signatures) -> None:
        self.url = url
        self.session = session
        self.key = signatures.key
        self.signatures = signatures
        self.identifier = _identifier()
        self._connection: _Connection | None = None
        self._poll_path = f"/api/v1/runner/{self.identifier}/execution"

    async def connect(self) -> None:
        """Open the runner's keep-alive connection."""
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        self._connection = await _Connection.open(host, int(port))

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()

    async def _request(
        self, head: bytes, body: bytes = b"", latencies_ms: list[float] | None = None
    ) -> tuple[int, bytes]:
        """One request; its round trip is appended to ``latencies_ms`` when given."""
        assert self._connection is not None
        began = time.perf_counter()
        answer = await self._connection.request(head, body)
        if latencies_ms is not None:
            latencies_ms.append((time.perf_counter() - began) * 1000)
        return answer

    async def _post(
        self, path: str, body: bytes, latencies_ms: list[float] | None = None
    ) -> tuple[int, bytes]:
        head = _head("POST", path, self.signatures.take(body), body)
        return await self._request(head, body, latencies_ms)

    async def register(self, code: str) -> None:
        """Enrol (unsigned, like the Go runner)."""
        body = json.dumps(
            {
                "identifier": self.identifier,
                "name": "bench",
                "registration_code": code,
                "public_key": public_key_pem(self.key),
            }
        ).encode()
        async with self.session.post(self.url + "/api/v1/runner", data=body) as response:
            if response.status != 200:
                raise RuntimeError(f"registration failed: {response.status}")

    async def poll(self, latencies_ms: list[float] | None = None) -> JsonObject | None:
        """One long-poll; the PendingExecution or None for 204."""
        poll_body = self.signatures.poll_body
        head = _head("POST", self._poll_path, self.signatures.take(poll_body), poll_body)
        status, body = await self._request(head, poll_body, latencies_ms)
        if status == 204:
            return None
        if status != 200:
            raise RuntimeError(f"poll answered {status}: {body[:200]!r}")
        result: JsonObject = json.loads(body)
        return result

    async def lifecycle(self, execution_id: str, latencies_ms: list[float] | None = None) -> None:
        """state -> logs -> status -> result, each checked for 200 (and each one's round trip
        appended to ``latencies_ms`` when given)."""
        base = f"/api/v1/execution/{execution_id}"
        status_signature = self.signatures.take(execution_id.encode())
        for path, body in ((base + "/state", STATE_BODY), (base + "/logs", LOGS_BODY)):
            status, _ = await self._post(path, body, latencies_ms)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
        head = _head("GET", base + "/status", status_signature, b"")
        status, _ = await self._request(head, latencies_ms=latencies_ms)
        if status != 200:
            raise RuntimeError(f"status answered {status}")
        status, _ = await self._post(base, RESULT_BODY, latencies_ms)
        if status != 200:
            raise RuntimeError(f"result answered {status}")


async def enrol_runners(
    url: str, session: aiohttp.ClientSession, admin: AdminClient, count: int, polls: int
) -> list[BenchRunner]:
    """``count`` runners sharing ``polls`` poll signatures made now (more are made as needed)."""
    # One key shared by all simulated runners keeps set-up fast; identifiers stay unique.
    signatures = Signatures(generate_private_key())
    signatures.make(signatures.poll_body, polls)
    queue = await admin.create_queue(f"bench-{secrets.token_hex(4)}")
    runners = [BenchRunner(url, session, signatures) for _ in range(count)]
    for start in range(0, count, 50):
        batch = runners[start : start + 50]
        await asyncio.gather(*(runner.register(queue["registration_code"]) for runner in batch))
        await asyncio.gather(*(runner.connect() for runner in batch))
    return runners


async def wakeups(
    poll_url: str, session: aiohttp.ClientSession, admin: AdminClient, samples: int
) -> list[float]:
    """Milliseconds from each execute call (through ``admin``) to the 200 of a poll held at
    ``poll_url``, one execution at a time."""
    (runner,) = await enrol_runners(poll_url, session, admin, 1, samples)
    flo = await admin.create_flo("wake", FLOW)
    latencies_ms: list[float] = []
    for _ in range(samples):
        poll = asyncio.create_task(runner.poll())
        await asyncio.sleep(0.02)
        started = time.perf_counter()
        await admin.execute(flo["id"])
        claimed = await poll
        latencies_ms.append((time.perf_counter() - started) * 1000)
        if claimed is None:
            raise RuntimeError("the held poll ended without the execution")
    runner.close()
    return latencies_ms


async def wakeup_latency(directory: Path, samples: int) -> list[Figure]:
    """Time from sending an execute call to the held poll's 200."""
    async with (
        _server(directory / "wakeup", 25) as server,
        aiohttp.ClientSession() as session,
        AdminClient(server.url, ADMIN_TOKEN) as admin,
    ):
        latencies_ms = await wakeups(server.url, session, admin, samples)
    return wakeup_figures("wake-up: execute -> claim 200", latencies_ms, 5.0)


def wakeup_figures(name: str, latencies_ms: list[float], target_p50_ms: float) -> list[Figure]:
    """The p50 (against its target) and p99 of wake-up latencies."""
    p50, p99 = percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.99)
    return [
        Figure(f"{name}, p50", f"{p50:.2f} ms", f"<= {target_p50_ms:g} ms", p50 <= target_p50_ms),
        Figure(f"{name}, p99", f"{p99:.2f} ms", "-", None),
    ]


async def lifecycle_throughput(
    directory: Path, runners_count: int, executions: int
) -> list[Figure]:
    """Executions per second through claim, state, logs, status and result."""
    async with (
        _server(directory / "throughput", 1) as server,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        AdminClient(server.url, ADMIN_TOKEN) as admin,
    ):
        # Every execution is claimed by a poll; each runner's last polls find nothing (204).
        polls = executions + 3 * runners_count
        runners = await enrol_runners(server.url, session, admin, runners_count, polls)
        signatures = runners[0].signatures
        for body in (STATE_BODY, LOGS_BODY, RESULT_BODY):
            signatures.make(body, executions)
        flo = await admin.create_flo("throughput", FLOW)
        for start in range(0, executions, 100):
            count = min(100, executions - start)
            for execution_id in await asyncio.gather(
                *(admin.execute(flo["id"]) for _ in range(count))
            ):
                signatures.make(execution_id.encode(), 1)
        remaining = executions
        load_1min = os.getloadavg()[0]
        started, (user_start, system_start) = time.perf_counter(), user_system_seconds(server.pid)
        client_cpu_start, machine_start = time.process_time(), MachineTimes.now().busy_s
        elapsed_s = server_cpu_s = server_system_s = client_cpu_s = other_cpu_s = 0.0

        async def work(runner: BenchRunner) -> None:
            nonlocal remaining, elapsed_s, server_cpu_s, server_system_s, client_cpu_s
            nonlocal other_cpu_s
            while remaining > 0:
                pending = await runner.poll()
                if pending is None:
                    continue
                execution = pending["execution"]
                assert isinstance(execution, dict)
                execution_id = str(execution["id"])
                await runner.lifecycle(execution_id)
                remaining -= 1
                if remaining == 0:
                    # Stop the clock at the last result, not when the other runners' polls,
                    # held because nothing is left, end.
                    elapsed_s = time.perf_counter() - started
                    user_s, system_s = user_system_seconds(server.pid)
                    server_system_s = system_s - system_start
                    server_cpu_s = user_s - user_start + server_system_s
                    client_cpu_s = time.process_time() - client_cpu_start
                    machine_s = MachineTimes.now().busy_s - machine_start
                    other_cpu_s = machine_s - server_cpu_s - client_cpu_s

        await asyncio.gather(*(work(runner) for runner in runners))
        for runner in runners:
            runner.close()
    rate = executions / elapsed_s
    server_ms = 1000 * server_cpu_s / executions
    return [
        Figure(
            f"lifecycle throughput, {runners_count} runners, {executions} executions",
            f"{rate:.0f} executions/s",
            ">= 300/s",
            rate >= 300,
        ),
        Figure(
            "  server CPU per execution (5 signed requests)",
            f"{server_ms:.2f} ms = {1000 / server_ms:.0f}/s on one core "
            f"({100 * server_system_s / server_cpu_s:.0f} % in the kernel)",
            "-",
            None,
        ),
        Figure(
            "  CPU meanwhile: server / bench client / other processes",
            f"{100 * server_cpu_s / elapsed_s:.0f} % / {100 * client_cpu_s / elapsed_s:.0f} % / "
            f"{100 * max(other_cpu_s, 0) / elapsed_s:.0f} % of a core",
            "-",
            None,
        ),
        Figure("  load average (1 min) at the start", f"{load_1min:.2f}", "-", None),
    ]


async def idle_polls(
    directory: Path, count: int, poll_hold_s: float, window_s: float
) -> list[Figure]:
    """Server CPU and RSS while ``count`` runners long-poll with nothing to do."""
    async with (
        _server(directory / "idle", poll_hold_s) as server,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        AdminClient(server.url, ADMIN_TOKEN) as admin,
    ):
        rss_before = server.rss_bytes()
        polls_each = math.ceil((window_s + 2.5 * poll_hold_s) / poll_hold_s) + 1
        runners = await enrol_runners(server.url, session, admin, count, count * polls_each)
        stop = asyncio.Event()

        async def idle(runner: BenchRunner) -> None:
            while not stop.is_set():
                await runner.poll()

        pollers = [asyncio.create_task(idle(runner)) for runner in runners]
        await asyncio.sleep(poll_hold_s * 1.5)  # every runner is now held
        cpu_start, wall_start = cpu_seconds(server.pid), time.perf_counter()
        await asyncio.sleep(window_s)
        cpu_s, wall_s = cpu_seconds(server.pid) - cpu_start, time.perf_counter() - wall_start
        rss_after = server.rss_bytes()
        stop.set()
        await asyncio.gather(*pollers)
        for runner in runners:
            runner.close()
    percent = 100 * cpu_s / wall_s
    # Each poll costs the same whatever the hold, so scale the cost to the default 25 s hold.
    at_default = percent * poll_hold_s / 25
    return [
        Figure(
            f"{count} idle polls, hold {poll_hold_s:g} s: server CPU",
            f"{percent:.1f} % of a core",
            "-",
            None,
        ),
        Figure(
            f"{count} idle polls, scaled to the 25 s hold",
            f"{at_default:.1f} % of a core",
            "< 5 %",
            at_default < 5,
        ),
        Figure(
            f"{count} idle polls: server RSS",
            f"{rss_after / 2**20:.0f} MiB (+{(rss_after - rss_before) / 2**20:.0f} MiB)",
            "-",
            None,
        ),
    ]


async def main() -> int:
    """Run the three benchmarks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, shorter windows")
    parser.add_argument("--runners", type=int, default=20, help="runners for the throughput run")
    parser.add_argument("--idle-runners", type=int, default=1000)
    parser.add_argument("--idle-poll-hold", type=float, default=5.0, help="seconds")
    args = parser.parse_args()
    samples = 50 if args.quick else 300
    executions = 300 if args.quick else 2000
    window_s = 5.0 if args.quick else 15.0
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="flomation-server-bench-") as tmp:
        directory = Path(tmp)
        figures += await wakeup_latency(directory, samples)
        figures += await lifecycle_throughput(directory, args.runners, executions)
        figures += await idle_polls(directory, args.idle_runners, args.idle_poll_hold, window_s)
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    print_figures(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
