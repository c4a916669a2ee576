"""Run one script process: own process group, capped output, timeout and prompt cancellation.

Shared by ``script/bash``, ``script/python`` and ``script/javascript`` (docs/flows.md §9, §10.6,
§10.7). The child starts a new session, so the whole tree it spawns can be killed with one
SIGKILL to its process group: on timeout, on cancellation (the cancel event is polled every
100 ms) and also after a normal exit, so that no background process outlives the node and keeps
the output pipes open.

Each line the script prints is also forwarded as it comes (``on_line``; the script actions log it as
``script output``, docs/flows.md "Scripts"), so the runner's live logs show a long script's
progress and nothing printed before a cancel is lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flomation.executor.actions.base import ActionCancelled, ActionContext

__all__ = [
    "LineSink",
    "ProcessResult",
    "ProcessStartError",
    "log_script_lines",
    "run_process",
    "utf8_prefix",
]

LineSink = Callable[[str, str], None]
"""Gets the stream name (``stdout``/``stderr``) and one printed line, in a reader thread."""

_POLL_S = 0.1
_READ_CHUNK_BYTES = 64 * 1024
# How long to wait for the pipe readers once the process group is gone; only a grandchild that
# escaped the group (setsid) can keep a pipe open longer, and it must not hang the node.
_READER_JOIN_S = 2.0
# A forwarded line longer than this is cut (the captured output keeps its own, larger cap).
_FORWARDED_LINE_MAX_BYTES = 16 * 1024


class ProcessStartError(Exception):
    """The process could not be started (missing program, bad environment entry, ...)."""


@dataclass(frozen=True)
class ProcessResult:
    """How a script process ended and what it wrote (each stream capped)."""

    exit_code: int
    """The exit status, or -1 when the process was killed by a signal (Go's ``ExitCode``)."""
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    duration_ms: int


class _CappedReader:
    """Drains one pipe in a thread, keeping the first ``max_bytes`` and discarding the rest."""

    def __init__(
        self, stream: IO[bytes], max_bytes: int, name: str, on_line: LineSink | None
    ) -> None:
        self._stream = stream
        self._max_bytes = max_bytes
        self._name = name
        self._on_line = on_line
        self._partial = b""
        self._chunks: list[bytes] = []
        self._kept_bytes = 0
        self.truncated = False
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _forward(self, chunk: bytes, *, final: bool) -> None:
        if self._on_line is None:
            return
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        if (final and self._partial) or len(self._partial) > _FORWARDED_LINE_MAX_BYTES:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            text = utf8_prefix(line, _FORWARDED_LINE_MAX_BYTES).decode("utf-8", "replace")
            self._on_line(self._name, text.removesuffix("\r"))

    def _drain(self) -> None:
        with self._stream:
            while chunk := os.read(self._stream.fileno(), _READ_CHUNK_BYTES):
                self._forward(chunk, final=False)
                room = self._max_bytes - self._kept_bytes
                if len(chunk) > room:
                    self.truncated = True
                    chunk = chunk[:room]
                if chunk:
                    self._chunks.append(chunk)
                    self._kept_bytes += len(chunk)
            self._forward(b"", final=True)

    def result(self, timeout_s: float) -> bytes:
        self._thread.join(timeout_s)
        return b"".join(self._chunks)


def _kill_group(process_group: int) -> None:
    try:
        os.killpg(process_group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    cancel_event: threading.Event,
    max_output_bytes: int,
    pass_fds: Sequence[int] = (),
    on_line: LineSink | None = None,
) -> ProcessResult:
    """Run ``argv`` to completion, timeout or cancellation; ``on_line`` gets each printed line.

    Raises ActionCancelled when ``cancel_event`` is set while the process runs (the process group
    has been killed by then) and ProcessStartError when the process cannot be started.
    """
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise ProcessStartError(str(exc)) from exc
    assert process.stdout is not None and process.stderr is not None
    stdout = _CappedReader(process.stdout, max_output_bytes, "stdout", on_line)
    stderr = _CappedReader(process.stderr, max_output_bytes, "stderr", on_line)
    deadline = started + timeout_s
    timed_out = cancelled = False
    try:
        while process.poll() is None:
            if cancel_event.wait(min(_POLL_S, max(0.0, deadline - time.monotonic()))):
                cancelled = True
                break
            if time.monotonic() >= deadline and process.poll() is None:
                timed_out = True
                break
    finally:
        # Always kill the group: stops the process on timeout/cancel and reaps any background
        # children left behind by a script that exited normally.
        _kill_group(process.pid)
        exit_status = process.wait()
    duration_ms = int((time.monotonic() - started) * 1000)
    stdout_bytes = stdout.result(_READER_JOIN_S)
    stderr_bytes = stderr.result(_READER_JOIN_S)
    if cancelled:
        raise ActionCancelled("script cancelled")
    return ProcessResult(
        exit_code=exit_status if exit_status >= 0 else -1,
        stdout=stdout_bytes,
        stderr=stderr_bytes,
        stdout_truncated=stdout.truncated,
        stderr_truncated=stderr.truncated,
        timed_out=timed_out,
        duration_ms=duration_ms,
    )


def log_script_lines(ctx: ActionContext) -> LineSink:
    """A LineSink logging each line as ``info`` ``script output`` (fields id, stream, line).

    The two reader threads share one lock, so their lines never interleave within a write.
    """
    lock = threading.Lock()

    def forward(stream: str, line: str) -> None:
        with lock:
            ctx.log("info", "script output", id=ctx.node_id, stream=stream, line=line)

    return forward


def utf8_prefix(data: bytes, max_bytes: int) -> bytes:
    """The longest prefix of ``data`` (at most ``max_bytes``) that does not split a character."""
    if len(data) <= max_bytes:
        return data
    end = max_bytes
    # Step back over continuation bytes (10xxxxxx) to the start of the cut character.
    while end > 0 and data[end] & 0xC0 == 0x80:
        end -= 1
    return data[:end]
