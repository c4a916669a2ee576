#!/usr/bin/env python3
"""CPU of the runner's API client per request (issue 19): what one signed request costs.

Sends requests through ``RunnerApi`` to a minimal HTTP/1.1 server in a subprocess of its own
(it answers every request ``200 {}`` on a kept-alive connection), so the process CPU measured
(``time.process_time``, the signing thread included) is the client's alone:

- signed: ``set_state`` end to end (a v2 RSA signature each time; the v1 one is cached);
- transport: requests prepared and signed before the clock starts, then sent (what the HTTP
  client itself costs per request);
- concurrent: the transport figure with 16 requests in flight at a time.

    .venv/bin/python bench/api_request_bench.py [--requests N] [--rounds R]

To compare two source trees, run it with ``PYTHONPATH=OTHER/src`` in turn (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

from flomation.runner.api import RunnerApi
from flomation.wire.signing import generate_private_key

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def _serve() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        await reader.readexactly(int(line[15:]))
                writer.write(_ANSWER)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


async def _measure(url: str, requests: int) -> dict[str, float]:
    key = generate_private_key()
    figures: dict[str, float] = {}
    async with RunnerApi(url, "bench-runner", key) as api:
        for _ in range(20):  # connections and caches warm
            await api.set_state("exec-1")
        started = time.process_time()
        for _ in range(requests):
            await api.set_state("exec-1")
        figures["signed"] = (time.process_time() - started) / requests
        prepared = [
            await api.prepare("POST", "/api/v1/execution/exec-1/state", b'{"state":"running"}')
            for _ in range(requests)
        ]
        started = time.process_time()
        for request in prepared:
            await api.send_prepared(request)
        figures["transport"] = (time.process_time() - started) / requests
        prepared = [
            await api.prepare("POST", "/api/v1/execution/exec-1/state", b'{"state":"running"}')
            for _ in range(requests)
        ]
        started = time.process_time()
        for start in range(0, requests, 16):
            await asyncio.gather(*(api.send_prepared(r) for r in prepared[start : start + 16]))
        figures["concurrent"] = (time.process_time() - started) / requests
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per figure (2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, median reported (5)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        asyncio.run(_serve())
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        rounds = [asyncio.run(_measure(url, options.requests)) for _ in range(options.rounds)]
    finally:
        server.terminate()
        server.wait()
    for name in ("signed", "transport", "concurrent"):
        values = sorted(r[name] * 1e6 for r in rounds)
        print(
            f"{name:>10}: {statistics.median(values):7.1f} us of CPU per request "
            f"(min {values[0]:.1f}, max {values[-1]:.1f}; {options.rounds} rounds "
            f"of {options.requests})"
        )


if __name__ == "__main__":
    main()
