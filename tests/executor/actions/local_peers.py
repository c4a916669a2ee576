"""Real peers on 127.0.0.1 for action tests: HTTP(S) servers, and the local certificate
authority of ``fixtures.authority`` (re-exported here for the action tests)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fixtures.authority import LocalAuthority, ServerCertificate

__all__ = [
    "MOTO_ACCESS",
    "MOTO_SECRET",
    "LocalAuthority",
    "Recorded",
    "ServerCertificate",
    "http_peer",
]

# The keys the aws/s3 tests give moto's server (any pair is accepted; these must be masked).
MOTO_ACCESS, MOTO_SECRET = "AKIATESTFLOMATION01", "test-secret-key/For+Moto"


@dataclass
class Recorded:
    """One request a peer received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class _Peer:
    url: str
    requests: list[Recorded] = field(default_factory=list)


Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[Recorded], Reply]


@contextmanager
def http_peer(responder: Responder, *, tls: ServerCertificate | None = None) -> Iterator[_Peer]:
    """An HTTP(S) server on 127.0.0.1 answering every request with ``responder``'s reply."""
    peer = _Peer(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            recorded = Recorded(
                self.command,
                self.path,
                dict(self.headers.items()),
                self.rfile.read(length) if length else b"",
            )
            peer.requests.append(recorded)
            status, headers, body = responder(recorded)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._any()

        def do_POST(self) -> None:
            self._any()

        def do_PUT(self) -> None:
            self._any()

        def do_DELETE(self) -> None:
            self._any()

        def do_HEAD(self) -> None:
            self._any()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
        scheme = "https"
    peer.url = f"{scheme}://localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
