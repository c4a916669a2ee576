#!/usr/bin/env python3
"""Unauthenticated registration flood (issue 13): the server stays responsive and small.

Starts ``flomation-server`` as a subprocess on loopback with a fresh SQLite database, then sends
four 60 MiB registration bodies at once without any credentials (an unknown registration code),
first with a ``Content-Length`` and then chunked, while a client asks ``/healthz`` every 20 ms.
Prints the slowest ``/healthz`` answer and the server's RSS growth during each flood, next to
the issue's targets (< 0.5 s and < 150 MiB), and the status each upload was answered with.

    .venv/bin/python bench/registration_flood_bench.py [--uploads 4] [--mib 60]

RSS is read from ``/proc/<server pid>``, so only the server counts. Each upload runs in a
process of its own (this script with ``--upload``), writing through a raw socket as fast as
the server reads, so that producing 240 MiB does not delay the ``/healthz`` client; a server
that answers early makes the upload stop early, as a real client would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from support import Figure, ServerProcess, percentile, print_figures, server_process

ADMIN_TOKEN = "bench-admin-token"
_MIB = 1024 * 1024
_WRITE_CHUNK_BYTES = _MIB
_HEALTH_INTERVAL_S = 0.02


@dataclass
class FloodOutcome:
    """What one flood did to the server."""

    statuses: list[str]
    health_max_s: float
    health_p99_s: float
    health_samples: int
    rss_growth_bytes: int
    elapsed_s: float


def _body_chunks(size_bytes: int) -> Iterator[bytes]:
    """A registration JSON body of ``size_bytes`` in 1 MiB pieces (the manifest is the bulk)."""
    head = b'{"identifier":"floodfloodfloodx","registration_code":"not-a-code","manifest":"'
    tail = b'"}'
    filler = size_bytes - len(head) - len(tail)
    piece = b"x" * _WRITE_CHUNK_BYTES
    yield head
    while filler > 0:
        yield piece[: min(filler, _WRITE_CHUNK_BYTES)]
        filler -= _WRITE_CHUNK_BYTES
    yield tail


async def _upload(url: str, size_bytes: int, chunked: bool) -> str:
    """POST one unauthenticated registration of ``size_bytes``; the answer's status line."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size_bytes}"
    writer.write(f"POST /api/v1/runner HTTP/1.1\r\nHost: bench\r\n{framing}\r\n\r\n".encode())
    answer = asyncio.create_task(reader.readline())
    try:
        for chunk in _body_chunks(size_bytes):
            if answer.done():
                break  # answered before the body was sent: stop sending, as a client would
            writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
        else:
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
    except (ConnectionError, OSError):
        pass  # the server closed the connection after answering
    try:
        async with asyncio.timeout(120):
            status_line = await answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    return status_line.decode("latin-1").strip() or "no answer"


async def _upload_in_process(url: str, size_bytes: int, chunked: bool) -> str:
    """:func:`_upload` in a child process running this script with ``--upload``."""
    arguments = ["--upload", url, "--bytes", str(size_bytes)] + (["--chunked"] if chunked else [])
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *arguments, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"upload process exited {child.returncode}")
    return output.decode().strip()


async def _flood(
    server: ServerProcess, uploads: int, size_bytes: int, chunked: bool
) -> FloodOutcome:
    latencies_s: list[float] = []
    rss_peak = rss_before = server.rss_bytes()
    done = asyncio.Event()

    async def watch(session: aiohttp.ClientSession) -> None:
        nonlocal rss_peak
        while not done.is_set():
            started = time.perf_counter()
            async with session.get(server.url + "/healthz") as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"/healthz answered {response.status}")
            latencies_s.append(time.perf_counter() - started)
            rss_peak = max(rss_peak, server.rss_bytes())
            await asyncio.sleep(_HEALTH_INTERVAL_S)

    async with aiohttp.ClientSession() as session:
        for _ in range(5):  # a warm connection: only the server's delays are measured
            async with session.get(server.url + "/healthz") as response:
                await response.read()
        watcher = asyncio.create_task(watch(session))
        started = time.perf_counter()
        statuses = await asyncio.gather(
            *(_upload_in_process(server.url, size_bytes, chunked) for _ in range(uploads))
        )
        elapsed_s = time.perf_counter() - started
        await asyncio.sleep(0.5)  # memory freed late still counts
        done.set()
        await watcher
    rss_peak = max(rss_peak, server.rss_bytes())
    return FloodOutcome(
        statuses=list(statuses),
        health_max_s=max(latencies_s),
        health_p99_s=percentile(latencies_s, 0.99),
        health_samples=len(latencies_s),
        rss_growth_bytes=rss_peak - rss_before,
        elapsed_s=elapsed_s,
    )


def _figures(label: str, outcome: FloodOutcome) -> list[Figure]:
    growth_mib = outcome.rss_growth_bytes / _MIB
    return [
        Figure(
            f"{label}: slowest /healthz ({outcome.health_samples} asked)",
            f"{outcome.health_max_s * 1000:.0f} ms (p99 {outcome.health_p99_s * 1000:.0f} ms)",
            "< 500 ms",
            outcome.health_max_s < 0.5,
        ),
        Figure(
            f"{label}: server RSS growth", f"{growth_mib:.1f} MiB", "< 150 MiB", growth_mib < 150
        ),
        Figure(
            f"{label}: answers ({outcome.elapsed_s:.2f} s)",
            ", ".join(sorted(set(outcome.statuses))),
            "413",
            all(" 413 " in status for status in outcome.statuses),
        ),
    ]


async def main() -> int:
    """Run both floods and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=4, help="parallel registrations")
    parser.add_argument("--mib", type=int, default=60, help="size of each registration, MiB")
    parser.add_argument("--upload", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--chunked", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upload:  # one upload, in a child process of the bench
        print(await _upload(args.upload, args.bytes, args.chunked))
        return 0
    size_bytes = args.mib * _MIB
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="flomation-flood-bench-") as tmp:
        async with server_process(Path(tmp) / "server.db", ADMIN_TOKEN) as server:
            for chunked in (False, True):
                label = f"{args.uploads} x {args.mib} MiB, {'chunked' if chunked else 'sized'}"
                figures += _figures(label, await _flood(server, args.uploads, size_bytes, chunked))
    print_figures(figures)
    return 0 if all(figure.ok is not False for figure in figures) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
