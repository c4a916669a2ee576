"""Supervision of one executor process: spawn, read its output lines, wait, terminate.

The executor runs in a new session (its own process group) with stdin on /dev/null and stdout and
stderr on pipes (docs/protocol.md §5.6, §5.7). Output is read by an asyncio subprocess protocol that
splits the raw pipe chunks into lines in the event loop callback itself (no per-chunk task, no
double buffering), which keeps the per-line cost to a slice and a small record. Guarantees:

* a line longer than ``max_line_bytes`` is cut at a character boundary and followed by a marker,
  and the rest of that line is counted but never buffered (defect R17);
* reading never stops before both pipes reach end of file while the executor runs, so the
  executor never blocks on a full pipe because of the runner, only while the consumer of
  :meth:`ExecutorProcess.lines` is behind by more than a bounded amount (back-pressure);
* a process left in the group after the executor exited that keeps the pipes open cannot make
  reading hang: after ``pipe_grace_s`` the group is killed, and reading stops when the pipes stay
  idle for another grace period (or after a hard cap when something outside the group writes);
* cancellation signals the whole group: SIGTERM, then SIGKILL after a grace period (defect R9);
* the child's exit is watched through a pidfd in the event loop (no thread per child) and the
  child is reaped there, so no zombie is left behind.

Typical use (one task reads, the same or another one waits)::

    process = await ExecutorProcess.start(argv, cwd=work_dir, env=env)
    async with contextlib.aclosing(process.lines()) as lines:
        async for line in lines:
            ...
    exit_code = await process.wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_PIPE_GRACE_S",
    "ExecutorProcess",
    "ExecutorStartError",
    "OutputBatch",
    "OutputLine",
    "PipedChild",
    "kill_group",
    "start_failure",
]

DEFAULT_MAX_LINE_BYTES = 1024 * 1024
DEFAULT_PIPE_GRACE_S = 2.0

# Output read from the pipes but not yet taken by the consumer; above this the pipes are paused,
# which makes the executor block in write() (bounded memory instead of unbounded buffering).
_HIGH_WATER_BYTES = 4 * 1024 * 1024
# After the group was killed, a writer outside the group (it called setsid itself) could keep
# the pipes busy forever; stop reading at the latest this many grace periods after the exit.
_DRAIN_CAP_GRACES = 10
# How often terminate() checks whether the process group is gone.
_GROUP_POLL_S = 0.05
Stream = Literal["stdout", "stderr"]
_STDOUT_FD = 1
_STDERR_FD = 2
_STREAM_NAMES: dict[int, Stream] = {_STDOUT_FD: "stdout", _STDERR_FD: "stderr"}

_PipeAction = Callable[[asyncio.ReadTransport], None]


class ExecutorStartError(Exception):
    """The executor could not be started (not found, not executable, bad work directory)."""


@dataclass(frozen=True, slots=True)
class OutputLine:
    """One line of executor output, without its line terminator."""

    stream: Stream
    text: str


@dataclass(frozen=True, slots=True)
class OutputBatch:
    """Consecutive lines of one stream, as one pipe read completed them (do not mutate ``lines``).

    The bulk form of :class:`OutputLine`: no object per line, which matters at 200,000 lines/s.
    """

    stream: Stream
    lines: list[str]


def kill_group(pgid: int) -> bool:
    """SIGKILL every process of group ``pgid``; True when at least one process was signalled.

    Used for leftovers: the rest of an executor's group after it exited, or the group of an
    executor that a crashed runner left behind (its id is journaled). Group ids 0 and 1 and
    negative ids are refused because they would target the runner itself or the whole system.
    """
    if pgid <= 1 or pgid == os.getpgrp():
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _group_alive(pgid: int) -> bool:
    """True while group ``pgid`` still has a member (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_failure(program: str, cwd: Path, error: OSError) -> str:
    """Why spawning failed, naming the program (and the work directory when it is the cause)."""
    prefix = f"cannot start executor {program!r}"
    # subprocess reports a failed chdir with the work directory as the error's filename.
    if error.filename is not None and os.fsdecode(error.filename) == os.fsdecode(cwd):
        return f"{prefix}: work directory {os.fsdecode(cwd)!r}: {error.strerror or error}"
    if isinstance(error, FileNotFoundError):
        return f"{prefix}: program not found"
    if isinstance(error, PermissionError):
        return f"{prefix}: not executable (permission denied)"
    return f"{prefix}: {error.strerror or error}"


def _cut_at_char_boundary(raw: bytes, max_bytes: int) -> bytes:
    """The first ``max_bytes`` of ``raw`` or fewer, never ending inside a UTF-8 sequence."""
    end = max_bytes
    if end >= len(raw):
        return raw
    # raw[end] is the first byte left out: a continuation byte means the cut splits a character.
    while end > 0 and max_bytes - end < 4 and (raw[end] & 0xC0) == 0x80:
        end -= 1
    return raw[:end]


class _LineSplitter:
    """Turns the raw chunks of one pipe into complete lines (hot path: keep it lean)."""

    __slots__ = ("_max_bytes", "_overflow_bytes", "_partial")

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        # Start of the current unterminated line; never longer than max_bytes.
        self._partial = b""
        # -1 normally; while discarding the rest of an over-long line, its length so far.
        self._overflow_bytes = -1

    def feed(self, data: bytes, out: list[str]) -> None:
        """Append to ``out`` every line that ``data`` completes."""
        start = 0
        if self._overflow_bytes >= 0:
            newline = data.find(b"\n")
            if newline < 0:
                self._overflow_bytes += len(data)
                return
            self._overflow_bytes += newline
            out.append(self._truncated_line(self._partial, self._overflow_bytes))
            self._partial = b""
            self._overflow_bytes = -1
            start = newline + 1
        last_newline = data.rfind(b"\n", start)
        if last_newline < 0:
            self._keep_partial(data[start:] if start else data)
            return
        if self._partial:
            newline = data.find(b"\n", start)
            self._emit_raw(self._partial + data[start:newline], out)
            self._partial = b""
            start = newline + 1
        if start <= last_newline:
            self._emit_block(data[start:last_newline], out)
        if last_newline + 1 < len(data):
            self._keep_partial(data[last_newline + 1 :])

    def finish(self, out: list[str]) -> None:
        """Append the last line when the pipe ended without a final newline."""
        if self._overflow_bytes >= 0:
            out.append(self._truncated_line(self._partial, self._overflow_bytes))
            self._overflow_bytes = -1
        elif self._partial:
            self._emit_raw(self._partial, out)
        self._partial = b""

    def _emit_block(self, block: bytes, out: list[str]) -> None:
        """Lines of ``block``: complete lines separated by b"\\n", the last one unterminated."""
        if len(block) > self._max_bytes:
            for raw in block.split(b"\n"):
                self._emit_raw(raw, out)
            return
        # Decoding the whole block at once equals decoding line by line: b"\n" never occurs
        # inside a UTF-8 sequence, and an invalid sequence cannot span it.
        text = block.decode("utf-8", "replace")
        lines = text.split("\n")
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        out.extend(lines)

    def _emit_raw(self, raw: bytes, out: list[str]) -> None:
        """One complete line given as bytes without its newline."""
        if len(raw) > self._max_bytes:
            head = _cut_at_char_boundary(raw, self._max_bytes)
            out.append(self._truncated_line(head, len(raw)))
            return
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        out.append(text)

    def _keep_partial(self, data: bytes) -> None:
        """Remember the start of an unterminated line, switching to discard mode when too long."""
        room = self._max_bytes - len(self._partial)
        if len(data) <= room:
            self._partial += data
            return
        total = len(self._partial) + len(data)
        # One byte past the limit lets the cut see whether it would split a character.
        probe = self._partial + data[: room + 1]
        self._partial = _cut_at_char_boundary(probe, self._max_bytes)
        self._overflow_bytes = total

    @staticmethod
    def _truncated_line(head: bytes, total_bytes: int) -> str:
        text = head.decode("utf-8", "replace")
        return f"{text} [flomation-runner: line truncated, {total_bytes} bytes total]"


class _OutputProtocol(asyncio.SubprocessProtocol):
    """Collects lines from both pipes in arrival order and records the exit."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_line_bytes: int) -> None:
        self._splitters = {
            _STDOUT_FD: _LineSplitter(max_line_bytes),
            _STDERR_FD: _LineSplitter(max_line_bytes),
        }
        self._ready: list[OutputBatch] = []
        self._ready_bytes = 0
        self._open_fds = {_STDOUT_FD, _STDERR_FD}
        self._paused = False
        self._transport: asyncio.SubprocessTransport | None = None
        self._wakeup = asyncio.Event()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.exited_at_s: float | None = None  # time.monotonic() when the exit was seen
        # Bumped whenever bytes arrive or lines are taken; lets the watchdog tell "idle" apart
        # from "busy draining".
        self.progress = 0

    @property
    def pipes_open(self) -> bool:
        return bool(self._open_fds)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The pidfd child handle is not an asyncio transport class: no isinstance check.
        self._transport = cast(asyncio.SubprocessTransport, transport)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        lines: list[str] = []
        self._splitters[fd].feed(data, lines)
        self.progress += 1
        if not lines:
            return  # inside an unterminated line: nothing buffered beyond the line limit
        self._add_ready(fd, lines)
        self._ready_bytes += len(data)
        self._wakeup.set()
        if self._ready_bytes > _HIGH_WATER_BYTES and not self._paused:
            self._paused = True
            self._for_each_open_pipe(lambda pipe: pipe.pause_reading())

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd in self._open_fds:
            self._open_fds.discard(fd)
            lines: list[str] = []
            self._splitters[fd].finish(lines)
            if lines:
                self._add_ready(fd, lines)
            self._wakeup.set()

    def _add_ready(self, fd: int, lines: list[str]) -> None:
        stream = _STREAM_NAMES[fd]
        ready = self._ready
        if ready and ready[-1].stream == stream:
            ready[-1].lines.extend(lines)  # still ours until take(): fewer, larger batches
        else:
            ready.append(OutputBatch(stream, lines))

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited_at_s = time.monotonic()
            self.exited.set_result(None)

    def take(self) -> list[OutputBatch]:
        """Every batch collected so far (possibly none); resumes paused pipes."""
        batches = self._ready
        if batches:
            self._ready = []
            self.progress += 1
        self._ready_bytes = 0
        if self._paused:
            self._paused = False
            self._for_each_open_pipe(lambda pipe: pipe.resume_reading())
        return batches

    async def wait_for_output(self) -> None:
        """Return once new lines are available or a pipe closed."""
        await self._wakeup.wait()
        self._wakeup.clear()

    def close_pipes(self) -> None:
        """Stop reading: close both pipes (pipe_connection_lost follows for each)."""
        self._for_each_open_pipe(lambda pipe: pipe.close())

    def _for_each_open_pipe(self, action: _PipeAction) -> None:
        if self._transport is None:
            return
        for fd in tuple(self._open_fds):
            pipe = self._transport.get_pipe_transport(fd)
            if pipe is not None:
                action(cast(asyncio.ReadTransport, pipe))


def _spawn(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], pass_fds: Sequence[int]
) -> subprocess.Popen[bytes]:
    """Start the executor in a new session with stdin on /dev/null and both outputs on pipes."""
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        cwd=cwd,
        env=dict(env),
        close_fds=True,
        pass_fds=tuple(pass_fds),
        start_new_session=True,
    )


class _PipeReader(asyncio.Protocol):
    """Forwards one pipe's events to the shared output protocol, tagged with its fd."""

    def __init__(self, output: _OutputProtocol, fd: int) -> None:
        self._output = output
        self._fd = fd

    def data_received(self, data: bytes) -> None:
        self._output.pipe_data_received(self._fd, data)

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself, connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._output.pipe_connection_lost(self._fd, exc)


class PipedChild:
    """A child whose stdout and stderr pipes are read into an executor's output protocol.

    Plays the part of asyncio's subprocess transport for :class:`ExecutorProcess`; a subclass
    says how the exit is seen (:meth:`_watch_exit`, then :meth:`_exited`) and how the child is
    killed. Spawned executors are :class:`_PidfdChild`; forked ones come from
    runner/warm_executor.py.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, pid: int, stdout: Any, stderr: Any) -> None:
        self._loop = loop
        self._pid = pid
        self._stdio = ((_STDOUT_FD, stdout), (_STDERR_FD, stderr))
        self._pipes: dict[int, asyncio.ReadTransport] = {}
        self._protocol: _OutputProtocol | None = None
        self._returncode: int | None = None

    async def connect(self, protocol: _OutputProtocol) -> None:
        """Start reading both pipes into ``protocol`` and watching the exit."""
        self._protocol = protocol
        protocol.connection_made(cast(asyncio.BaseTransport, self))
        for fd, pipe in self._stdio:
            transport, _ = await self._loop.connect_read_pipe(
                functools.partial(_PipeReader, protocol, fd), pipe
            )
            self._pipes[fd] = transport
        if self._returncode is not None:
            protocol.process_exited()  # it exited before anyone listened (a quick forked child)
        else:
            self._watch_exit()

    def _watch_exit(self) -> None:
        raise NotImplementedError

    def _exited(self, returncode: int) -> None:
        """Record the exit (negative: killed by that signal) and tell the protocol."""
        self._returncode = returncode
        if self._protocol is not None:
            self._protocol.process_exited()

    def _still_running(self) -> bool:
        return self._returncode is None

    def _kill(self) -> None:
        raise NotImplementedError

    def _stop_watching(self) -> None:
        """Release what watches the exit (the child is known to be gone)."""

    def get_pid(self) -> int:
        return self._pid

    def get_returncode(self) -> int | None:
        return self._returncode

    def get_pipe_transport(self, fd: int) -> asyncio.ReadTransport | None:
        return self._pipes.get(fd)

    def close(self) -> None:
        """Close the pipes; a child still running is killed (as asyncio's transport does)."""
        for pipe in self._pipes.values():
            pipe.close()
        if self._still_running():
            self._kill()
            return  # still watched: the exit is reported when it happens
        self._stop_watching()


class _PidfdChild(PipedChild):
    """A spawned child process watched through a pidfd on the event loop (Linux 5.3+).

    asyncio's default child watcher on Python 3.11 starts one thread per child, which costs a
    thread start in the event loop for every execution and one thread per running executor; a
    pidfd is one file descriptor in the loop's selector instead.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes], pidfd: int
    ) -> None:
        assert popen.stdout is not None and popen.stderr is not None
        super().__init__(loop, popen.pid, popen.stdout, popen.stderr)
        self._popen = popen
        self._pidfd: int | None = pidfd

    def _watch_exit(self) -> None:
        assert self._pidfd is not None
        self._loop.add_reader(self._pidfd, self._exit_ready)

    def _exit_ready(self) -> None:
        returncode = self._popen.poll()
        if returncode is None:
            return  # not reaped yet (spurious wake-up)
        self._stop_watching()
        self._exited(returncode)

    def _still_running(self) -> bool:
        return self._popen.returncode is None and self._popen.poll() is None

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._popen.kill()

    def _stop_watching(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def get_returncode(self) -> int | None:
        return self._popen.returncode


class ExecutorProcess:
    """A running executor; create it with :meth:`start`."""

    def __init__(
        self,
        transport: PipedChild,
        protocol: _OutputProtocol,
        *,
        pipe_grace_s: float,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._pid = transport.get_pid()
        self._pipe_grace_s = pipe_grace_s
        self._reading_started = False
        self._reading_done = False

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        pipe_grace_s: float = DEFAULT_PIPE_GRACE_S,
        pass_fds: Sequence[int] = (),
    ) -> ExecutorProcess:
        """Spawn ``argv`` in ``cwd`` with exactly ``env``, in a new session and process group.

        Raises ExecutorStartError naming the program and the cause when it cannot be started.
        ``max_line_bytes`` caps one output line; ``pipe_grace_s`` is how long the pipes may stay
        open after the executor exited (see the module docstring). ``pass_fds`` are inherited
        by the child (the isolated executor's key pipe).
        """
        if not argv:
            raise ExecutorStartError("cannot start the executor: empty command line")
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        program = argv[0]
        loop = asyncio.get_running_loop()
        # On the event loop: Popen uses vfork, so the loop waits only until the child calls
        # exec (~0.4 ms). A worker thread did it before; the hand-off cost more than the call
        # (bench/runner_bench.py: overhead p50 15 -> 10 ms, 200 executions still start in 2 s).
        try:
            popen = _spawn(argv, cwd, env, pass_fds)
        except OSError as error:
            raise ExecutorStartError(start_failure(program, cwd, error)) from error
        try:
            pidfd = os.pidfd_open(popen.pid)
        except OSError:
            # Cannot happen for our own unreaped child on Linux 5.3+; leave nothing behind.
            kill_group(popen.pid)
            popen.wait()
            raise
        return await cls.watch(
            _PidfdChild(loop, popen, pidfd),
            max_line_bytes=max_line_bytes,
            pipe_grace_s=pipe_grace_s,
        )

    @classmethod
    async def watch(
        cls, child: PipedChild, *, max_line_bytes: int, pipe_grace_s: float
    ) -> ExecutorProcess:
        """Supervise ``child``, a started executor leading its own process group."""
        protocol = _OutputProtocol(asyncio.get_running_loop(), max_line_bytes)
        try:
            await child.connect(protocol)
        except BaseException:
            kill_group(child.get_pid())
            child.close()
            raise
        return cls(child, protocol, pipe_grace_s=pipe_grace_s)

    @property
    def pid(self) -> int:
        """Process id of the executor, which is also the id of its process group."""
        return self._pid

    @property
    def pgid(self) -> int:
        """Process group id of the executor (its own pid: it leads a new session)."""
        return self._pid

    @property
    def exited_at_s(self) -> float | None:
        """``time.monotonic()`` when the runner saw the executor exit, else None."""
        return self._protocol.exited_at_s

    @property
    def returncode(self) -> int | None:
        """Exit code once the executor exited, else None (negative: killed by that signal)."""
        return self._transport.get_returncode()

    async def lines(self) -> AsyncGenerator[OutputLine, None]:
        """Every output line of stdout and stderr, in arrival order, until both pipes end.

        Output can be read once (this or :meth:`batches`). Close the generator
        (``contextlib.aclosing``) when leaving the loop early.
        """
        async with contextlib.aclosing(self.batches()) as batches:
            async for batch in batches:
                stream = batch.stream
                for text in batch.lines:
                    yield OutputLine(stream, text)

    async def batches(self) -> AsyncGenerator[OutputBatch, None]:
        """The same lines as :meth:`lines`, grouped by stream as they arrive: the fast path.

        Consecutive batches may belong to the same stream; their order is the arrival order.
        """
        if self._reading_started:
            raise RuntimeError("the executor output can be read only once")
        self._reading_started = True
        protocol = self._protocol
        watchdog = asyncio.create_task(self._stop_reading_after_exit())
        try:
            while True:
                ready = protocol.take()
                if ready:
                    for batch in ready:
                        yield batch
                elif protocol.pipes_open:
                    await protocol.wait_for_output()
                else:
                    break
        finally:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
            self._reading_done = True
            self._close_if_finished()

    async def wait(self) -> int:
        """Wait until the executor exited and return its exit code (negative: signal number).

        Does not wait for the pipes: a leftover process holding them cannot delay it.
        """
        await asyncio.shield(self._protocol.exited)
        self._close_if_finished()
        returncode = self._transport.get_returncode()
        assert returncode is not None
        return returncode

    async def terminate(self, grace_s: float) -> None:
        """SIGTERM the whole process group, then SIGKILL it if anything is alive after grace_s.

        Idempotent and safe once the executor exited (its leftovers still get the signals).
        Returns once the executor itself exited.
        """
        pgid = self.pgid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while loop.time() < deadline:
            if self._protocol.exited.done() and not _group_alive(pgid):
                break
            await asyncio.sleep(_GROUP_POLL_S)
        else:
            kill_group(pgid)
        await self.wait()

    async def _stop_reading_after_exit(self) -> None:
        """Bound how long a leftover process can keep the pipes open after the exit."""
        protocol = self._protocol
        await asyncio.shield(protocol.exited)
        loop = asyncio.get_running_loop()
        grace_s = self._pipe_grace_s
        cap = loop.time() + grace_s * _DRAIN_CAP_GRACES
        if await self._pipes_closed_within(grace_s):
            return
        kill_group(self.pgid)
        while True:
            progress = protocol.progress
            if await self._pipes_closed_within(grace_s):
                return
            if protocol.progress == progress or loop.time() >= cap:
                break
        protocol.close_pipes()

    async def _pipes_closed_within(self, timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._protocol.pipes_open:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(remaining, 0.05))
        return True

    def _close_if_finished(self) -> None:
        """Release the transport once the executor exited and its output was read."""
        if self._reading_done and self._protocol.exited.done():
            self._transport.close()
