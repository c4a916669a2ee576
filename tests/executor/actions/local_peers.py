"""Real peers on 127.0.0.1 for action tests: a local certificate authority and HTTP(S) servers.

The executor's TLS clients verify certificates against the system trust store, which OpenSSL
reads from ``SSL_CERT_FILE`` when it is set (Go does the same). ``LocalAuthority.trust`` points
that variable at a CA made for the test, so servers here are verified like real ones.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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


@dataclass(frozen=True)
class ServerCertificate:
    """A server's certificate chain and key, as PEM files."""

    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        """A TLS server context presenting this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


class LocalAuthority:
    """A throw-away CA issuing certificates for ``localhost`` and ``127.0.0.1``."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flomation test CA")])
        now = datetime.now(UTC)
        self._name = name
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_path = directory / "ca.pem"
        self.ca_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def trust(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make this CA the trust store of TLS clients created from now on."""
        monkeypatch.setenv("SSL_CERT_FILE", str(self.ca_path))

    def issue(self, name: str = "localhost") -> ServerCertificate:
        """A server certificate for ``localhost`` and ``127.0.0.1``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        cert_path = self._directory / f"{name}-cert.pem"
        key_path = self._directory / f"{name}-key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return ServerCertificate(cert_path, key_path)


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
