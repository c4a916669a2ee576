"""Responses leave the server in one write: the gathering transport, and the server using it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator

from flomation.server.embedded import EmbeddedServer
from flomation.server.http_protocol import GatheringTransport


async def _read_packet(read_fd: int) -> bytes:
    """The next packet (b"" at the end of the stream), waiting up to 5 s for it."""
    async with asyncio.timeout(5):
        while True:
            try:
                return os.read(read_fd, 65536)
            except BlockingIOError:
                await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def _packet_pipe() -> AsyncIterator[tuple[int, GatheringTransport]]:
    """A packet-mode pipe (each write stays one packet, each read returns one packet): its read
    end and a gathering transport over a real asyncio write-pipe transport on its write end."""
    read_fd, write_fd = os.pipe2(os.O_DIRECT | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    inner, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, os.fdopen(write_fd, "wb"))
    assert isinstance(inner, asyncio.Transport)
    try:
        yield read_fd, GatheringTransport(inner, loop)
    finally:
        inner.close()
        os.close(read_fd)


async def test_writes_of_one_iteration_leave_as_one() -> None:
    """Writes made in one event-loop iteration reach the socket as a single write."""
    async with _packet_pipe() as (read_fd, transport):
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b'{"ok":true}')
        assert transport.get_write_buffer_size() == 30  # held until the iteration ends
        assert await _read_packet(read_fd) == b'HTTP/1.1 200 OK\r\n\r\n{"ok":true}'
        transport.write(b"next")
        assert await _read_packet(read_fd) == b"next"


async def test_close_sends_pending_writes_first() -> None:
    """Closing right after a write still delivers the write, before the end of the stream."""
    async with _packet_pipe() as (read_fd, transport):
        transport.write(b"last words")
        transport.close()
        assert await _read_packet(read_fd) == b"last words"
        assert await _read_packet(read_fd) == b""
        assert transport.is_closing()


async def test_keep_alive_answers_one_after_another(server: EmbeddedServer) -> None:
    """Several requests on one connection each get their complete answer."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for _ in range(3):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                assert json.loads(await reader.readexactly(length)) == {"status": "ok"}
    finally:
        writer.close()
        await writer.wait_closed()


async def test_answer_then_close_delivers_everything(server: EmbeddedServer) -> None:
    """An answer followed by the server closing the connection still delivers the whole body."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(5):
            received = await reader.read()  # until the server closes
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), received
        assert json.loads(body) == {"status": "ok"}
    finally:
        writer.close()
        await writer.wait_closed()
