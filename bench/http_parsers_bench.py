#!/usr/bin/env python3
"""CPU of one request/answer pair through h11 and through httptools (the runner's HTTP client).

Why runner/http_client.py parses with httptools (docs/architecture.md, "The runner's HTTP
client"): h11, the pure-Python alternative, builds and parses the same small pair at tens of
times the CPU. Each case is timed over 20,000 pairs, best of five::

    .venv/bin/python bench/http_parsers_bench.py
"""

from __future__ import annotations

import timeit

import h11
import httptools

_HEADERS = [
    ("Host", "127.0.0.1:8080"),
    ("Content-Type", "application/json"),
    ("Content-Length", "19"),
]
_BODY = b'{"state":"running"}'
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
_PAIRS = 20_000


def with_h11() -> bytes:
    """Write the request and read the answer through an h11 connection; the request's bytes."""
    conn = h11.Connection(h11.CLIENT)
    request = [
        conn.send(h11.Request(method="POST", target="/api/v1/execution/x/state", headers=_HEADERS)),
        conn.send(h11.Data(data=_BODY)),
        conn.send(h11.EndOfMessage()),
    ]
    conn.receive_data(_ANSWER)
    while type(conn.next_event()) is not h11.EndOfMessage:
        pass
    return b"".join(part or b"" for part in request)


class _Answer:
    """httptools' callbacks for the answer's body (the client's own parser protocol)."""

    def on_body(self, body: bytes) -> None:
        del body


def with_httptools() -> bytes:
    """Write the request head by hand and parse the answer with httptools, as the client does;
    the request's bytes."""
    head = [b"POST /api/v1/execution/x/state HTTP/1.1\r\n"]
    head += [f"{name}: {value}\r\n".encode() for name, value in _HEADERS]
    httptools.HttpResponseParser(_Answer()).feed_data(_ANSWER)
    return b"".join([*head, b"\r\n", _BODY])


def main() -> None:
    for case in (with_h11, with_httptools):
        best_s = min(timeit.repeat(case, number=_PAIRS, repeat=5))
        print(f"{case.__name__:15} {best_s / _PAIRS * 1e6:6.1f} us per request/answer pair")


if __name__ == "__main__":
    main()
