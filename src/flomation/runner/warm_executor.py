"""The warm executor: executions forked from a pre-imported ``flomation-executor`` (issue 19).

Spawning ``flomation-executor`` costs a Python interpreter start and the engine's imports for
every execution (~90 ms of CPU, docs/benchmarks.md *Warm executor*). When the configured
executor is this project's (:func:`warm_executor_choice`), the runner starts it once as a fork
server (``flomation-executor --fork-server FD``, executor/forkserver.py) and starts each execution
as a child forked from it. The child keeps the spawned executor's contract (docs/protocol.md §5.6,
§5.7): its own work directory, arguments and environment (replaced whole, nothing inherited from
the warm process), its own session and process group, stdout and stderr on pipes the runner
reads, its exit status, ``state.json``, and cancellation by signal to its group. The result is an
:class:`~flomation.runner.process.ExecutorProcess`, supervised exactly as a spawned one.

The fork server is restarted, before the next execution, when it died or when the executor's
installed files changed (an upgrade: :func:`installed_identity`). A server that dies with
executions running leaves them running without a parent able to report their exit: the runner
kills their process groups and reports each as failed (the executor's own ``state.json`` is still
used when it was written). When no server can be started, executions are spawned as before and a
new start is tried after ``restart_pause_s``.

With ``execution.isolation = "bwrap"`` the warm executor is not used: every execution needs a
sandbox of its own, made before the executor starts (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog

from flomation.runner.process import (
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_PIPE_GRACE_S,
    ExecutorProcess,
    ExecutorStartError,
    PipedChild,
    kill_group,
    start_failure,
)

__all__ = [
    "WarmChoice",
    "WarmExecutor",
    "WarmExecutorError",
    "installed_identity",
    "warm_executor_choice",
]

Logger = structlog.typing.FilteringBoundLogger
WarmSetting = Literal["auto", "on", "off"]

_HELLO_PROTOCOL = 1  # executor/forkserver.py HELLO_PROTOCOL (the runner does not import it)
_EXECUTOR_NAME = "flomation-executor"
_MAX_MESSAGE_BYTES = 64 * 1024
_RETIRE_WAIT_S = 5.0


class WarmExecutorError(Exception):
    """The fork server could not be started or is gone; the message says why."""


@dataclass(frozen=True)
class WarmChoice:
    """Whether executions are forked from a warm executor, and why (logged at start)."""

    use: bool
    reason: str


def warm_executor_choice(
    setting: WarmSetting, *, isolated: bool, version_output: str
) -> WarmChoice:
    """Decide from the ``warm_executor`` option, the isolation and the executor's ``--version``.

    ``auto`` uses it when the executor says it is ``flomation-executor`` (this project's; the
    upstream executor prints a bare version, docs/flows.md §2.2); ``on`` whatever it says (a
    wrapper script); ``off`` never. Isolation always wins: see the module docstring.
    """
    if setting == "off":
        return WarmChoice(False, "warm_executor is off")
    if isolated:
        return WarmChoice(
            False,
            "execution.isolation is bwrap: each execution gets a sandbox of its own, "
            "so executors are spawned",
        )
    if setting == "on":
        return WarmChoice(True, "warm_executor is on")
    words = version_output.split()
    if words[:1] == [_EXECUTOR_NAME]:
        return WarmChoice(True, f"the executor is {_EXECUTOR_NAME} (its --version)")
    return WarmChoice(False, f"the executor is not {_EXECUTOR_NAME} (its --version)")


FileIdentity = tuple[str, int, int, int] | tuple[str, None, None, None]


def installed_identity(paths: Sequence[str]) -> tuple[FileIdentity, ...]:
    """Inode, size and modification time of each path (None for a missing one).

    Installing another version rewrites these files (or renames the distribution's directory),
    so a change means the warm process runs code that is no longer on disk.
    """
    identities: list[FileIdentity] = []
    for path in paths:
        try:
            status = Path(path).stat()
        except OSError:
            identities.append((path, None, None, None))
            continue
        identities.append((path, status.st_ino, status.st_size, status.st_mtime_ns))
    return tuple(identities)


class _ForkRefusedError(Exception):
    """The fork server could not set the child up (its work directory, a descriptor)."""

    def __init__(self, step: str, errno: int, strerror: str) -> None:
        super().__init__(strerror)
        self.step = step
        self.errno = errno
        self.strerror = strerror


class _ForkedChild(PipedChild):
    """An execution forked by the fork server; the server reports its exit status."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pid: int, stdout: Any, stderr: Any) -> None:
        super().__init__(loop, pid, stdout, stderr)
        self._pidfd: int | None = None
        self._watching_pidfd = False
        # A pidfd pins the process: signals through it never reach a process that reused the pid.
        with contextlib.suppress(OSError):
            self._pidfd = os.pidfd_open(pid)

    def _watch_exit(self) -> None:
        """Nothing to watch here: the fork server reports the exit (:meth:`report_exit`)."""

    def report_exit(self, wait_status: int) -> None:
        """The fork server reaped the child with ``wait_status``."""
        if self._returncode is None:
            self._stop_watching()
            self._exited(os.waitstatus_to_exitcode(wait_status))

    def orphan(self) -> None:
        """The fork server died: kill the child's group and report the exit when it is gone.

        Nothing can reap the child and report its status any more (its new parent is init), so
        it is ended as a crash recovery would end it.
        """
        if self._returncode is not None:
            return
        kill_group(self._pid)
        self._kill()
        if self._pidfd is None:
            self._exited(-signal.SIGKILL)
            return
        self._watching_pidfd = True
        self._loop.add_reader(self._pidfd, self._orphan_gone)

    def _orphan_gone(self) -> None:
        self._stop_watching()
        if self._returncode is None:
            self._exited(-signal.SIGKILL)

    def _kill(self) -> None:
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def _stop_watching(self) -> None:
        if self._pidfd is None:
            return
        if self._watching_pidfd:
            self._loop.remove_reader(self._pidfd)
            self._watching_pidfd = False
        os.close(self._pidfd)
        self._pidfd = None


def _spawn_server(
    command: Sequence[str], socket_fd: int, *, env: Mapping[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    """``COMMAND --fork-server FD`` in its own session, the socket its only extra descriptor."""
    return subprocess.Popen(
        [*command, "--fork-server", str(socket_fd)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        cwd=cwd,
        env=dict(env),
        close_fds=True,
        pass_fds=(socket_fd,),
        start_new_session=True,
    )


class _ForkServer:
    """One running ``flomation-executor --fork-server`` and its socket."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        popen: subprocess.Popen[bytes],
        sock: socket.socket,
        watch: Sequence[str],
        log: Logger,
    ) -> None:
        self._loop = loop
        self._popen = popen
        self._sock = sock
        self._watch = tuple(watch)
        self._baseline = installed_identity(self._watch)
        self._log = log
        self._next_id = 0
        self._pending: dict[int, tuple[asyncio.Future[_ForkedChild], int, int]] = {}
        self._children: dict[int, _ForkedChild] = {}
        self.alive = True
        self.retired = False
        self.gone: asyncio.Future[None] = loop.create_future()
        loop.add_reader(sock.fileno(), self._readable)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @classmethod
    async def start(
        cls,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        timeout_s: float,
        log: Logger,
    ) -> _ForkServer:
        """Start the server and wait for its hello; WarmExecutorError when none comes."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            popen = _spawn_server(command, theirs.fileno(), env=env, cwd=cwd)
        except OSError as exc:
            ours.close()
            raise WarmExecutorError(f"cannot start the warm executor: {exc}") from exc
        finally:
            theirs.close()
        ours.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout_s):
                data = await loop.sock_recv(ours, _MAX_MESSAGE_BYTES)
            hello = json.loads(data) if data else None
            if not isinstance(hello, dict) or hello.get("hello") != _HELLO_PROTOCOL:
                raise WarmExecutorError(
                    "the executor did not answer as a fork server"
                    + ("" if data else f" (it exited with {popen.wait()})")
                )
        except BaseException as exc:
            ours.close()
            kill_group(popen.pid)
            popen.wait()
            if isinstance(exc, TimeoutError):
                raise WarmExecutorError(
                    f"no answer from the warm executor in {timeout_s} s"
                ) from exc
            if isinstance(exc, ValueError):
                raise WarmExecutorError("the executor did not answer as a fork server") from exc
            raise
        watch = [str(path) for path in hello.get("watch", []) if isinstance(path, str)]
        return cls(loop, popen, ours, watch, log.bind(fork_server_pid=popen.pid))

    def stale(self) -> bool:
        """True once the executor's installed files changed since the server started."""
        return installed_identity(self._watch) != self._baseline

    async def fork(
        self, args: Sequence[str], *, env: Mapping[str, str], cwd: Path, pipes: tuple[int, ...]
    ) -> _ForkedChild:
        """Ask for a child; ``pipes`` are the read and write ends of its stdout and stderr.

        The write ends go to the child (the caller closes its copies); the read ends belong to
        the returned child once it exists.
        """
        if not self.alive or self.retired:
            raise WarmExecutorError("the warm executor is not running")
        request_id = self._next_id
        self._next_id += 1
        message = json.dumps(
            {"op": "fork", "id": request_id, "args": list(args), "env": dict(env), "cwd": str(cwd)},
            separators=(",", ":"),
        ).encode()
        stdout_read, stdout_write, stderr_read, stderr_write = pipes
        future: asyncio.Future[_ForkedChild] = self._loop.create_future()
        self._pending[request_id] = (future, stdout_read, stderr_read)
        try:
            await self._send(message, [stdout_write, stderr_write])
        except OSError as exc:
            self._pending.pop(request_id, None)
            raise WarmExecutorError(f"cannot reach the warm executor: {exc}") from exc
        return await future

    async def _send(self, message: bytes, fds: list[int]) -> None:
        while True:
            try:
                socket.send_fds(self._sock, [message], fds)
                return
            except BlockingIOError:
                writable = self._loop.create_future()
                self._loop.add_writer(self._sock.fileno(), writable.set_result, None)
                try:
                    await writable
                finally:
                    self._loop.remove_writer(self._sock.fileno())

    def _readable(self) -> None:
        while True:
            try:
                data = self._sock.recv(_MAX_MESSAGE_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._lost()
                return
            try:
                message = json.loads(data)
            except ValueError:
                continue
            if isinstance(message, dict):
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        if "exited" in message:
            child = self._children.pop(message["exited"], None)
            if child is not None:
                child.report_exit(int(message["status"]))
            return
        pending = self._pending.pop(message.get("id", -1), None)
        if pending is None:
            return
        future, stdout_read, stderr_read = pending
        if "pid" not in message:
            for fd in (stdout_read, stderr_read):
                os.close(fd)
            refusal = _ForkRefusedError(
                str(message.get("step")), int(message.get("errno", 0)), str(message.get("error"))
            )
            if not future.done():
                future.set_exception(refusal)
            return
        pid = int(message["pid"])
        child = _ForkedChild(
            self._loop,
            pid,
            open(stdout_read, "rb", buffering=0),  # noqa: SIM115 - the pipe transport owns it
            open(stderr_read, "rb", buffering=0),  # noqa: SIM115
        )
        self._children[pid] = child
        if future.done():  # the launch was cancelled meanwhile: leave nothing running
            kill_group(pid)
            child.close()
        else:
            future.set_result(child)

    def _lost(self) -> None:
        """The server closed its socket: it exited (or is exiting)."""
        if not self.alive:
            return
        self.alive = False
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for future, stdout_read, stderr_read in self._pending.values():
            for fd in (stdout_read, stderr_read):
                os.close(fd)
            if not future.done():
                future.set_exception(WarmExecutorError("the warm executor exited"))
        self._pending.clear()
        if self._children and not self.retired:
            self._log.error(
                "warm executor exited with executions running; ending them",
                executions=len(self._children),
            )
        for child in self._children.values():
            child.orphan()
        self._children.clear()
        self._reap()

    def _reap(self) -> None:
        # The socket closes a moment before the process is gone: poll until it is reaped.
        if self._popen.poll() is None:
            self._loop.call_later(0.05, self._reap)
            return
        if not self.gone.done():
            self.gone.set_result(None)

    def request_retire(self) -> None:
        """Fork no more; the server exits once every child of its was reported."""
        if self.retired:
            return
        self.retired = True
        if self.alive:
            with contextlib.suppress(OSError):
                self._sock.send(b'{"op":"retire"}')  # a few bytes: never blocks

    async def stop(self, wait_s: float) -> None:
        """Retire the server and wait until it is gone (its group is killed after ``wait_s``)."""
        self.request_retire()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await asyncio.shield(self.gone)
        if not self.gone.done():
            kill_group(self._popen.pid)
            await asyncio.shield(self.gone)


class WarmExecutor:
    """Starts executions forked from a warm executor (:meth:`launch`: as ExecutorProcess.start).

    ``command`` is the configured executor command; an ``argv`` that does not start with it, or
    that needs inherited descriptors (the isolated executor's key pipe), is spawned as before.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log: Logger,
        start_timeout_s: float = 60.0,
        restart_pause_s: float = 30.0,
    ) -> None:
        self._command = tuple(command)
        self._env = dict(env)
        self._cwd = cwd
        self._log = log
        self._start_timeout_s = start_timeout_s
        self._restart_pause_s = restart_pause_s
        self._server: _ForkServer | None = None
        self._retired: set[_ForkServer] = set()
        self._lock = asyncio.Lock()
        self._next_start_s = 0.0

    @property
    def server_pid(self) -> int | None:
        """The running fork server's process id (None while there is none)."""
        server = self._server
        return server.pid if server is not None and server.alive else None

    async def start(self) -> None:
        """Start the fork server now, unless one runs; WarmExecutorError when it does not answer.

        After a failure, executions are spawned and the next start is tried after
        ``restart_pause_s``. A launch that comes while the server starts waits for it; one that
        came first (and started a server itself) makes this a no-op.
        """
        async with self._lock:
            if self._server is not None and self._server.alive:
                return
            try:
                self._server = await self._start_server()
            except WarmExecutorError:
                self._next_start_s = time.monotonic() + self._restart_pause_s
                raise

    async def _start_server(self) -> _ForkServer:
        started = time.monotonic()
        server = await _ForkServer.start(
            self._command,
            env=self._env,
            cwd=self._cwd,
            timeout_s=self._start_timeout_s,
            log=self._log,
        )
        self._log.info(
            "warm executor started",
            fork_server_pid=server.pid,
            start_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return server

    async def launch(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        pipe_grace_s: float = DEFAULT_PIPE_GRACE_S,
        pass_fds: Sequence[int] = (),
    ) -> ExecutorProcess:
        """Start one execution: forked from the warm executor, or spawned when it cannot be."""
        prefix = len(self._command)
        server = None
        if not pass_fds and tuple(argv[:prefix]) == self._command:
            server = await self._ready_server()
        if server is not None:
            try:
                child = await self._fork(server, argv, cwd=cwd, env=env)
            except WarmExecutorError as exc:
                self._log.warning(
                    "warm executor unavailable; spawning the executor", error=str(exc)
                )
            else:
                return await ExecutorProcess.watch(
                    child, max_line_bytes=max_line_bytes, pipe_grace_s=pipe_grace_s
                )
        return await ExecutorProcess.start(
            argv,
            cwd=cwd,
            env=env,
            max_line_bytes=max_line_bytes,
            pipe_grace_s=pipe_grace_s,
            pass_fds=pass_fds,
        )

    async def _fork(
        self, server: _ForkServer, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]
    ) -> _ForkedChild:
        stdout_read, stdout_write = os.pipe2(os.O_CLOEXEC)
        stderr_read, stderr_write = os.pipe2(os.O_CLOEXEC)
        try:
            return await server.fork(
                argv[len(self._command) :],
                env=env,
                cwd=cwd,
                pipes=(stdout_read, stdout_write, stderr_read, stderr_write),
            )
        except _ForkRefusedError as exc:
            filename = str(cwd) if exc.step == "chdir" else None
            error = OSError(exc.errno, exc.strerror, filename)
            raise ExecutorStartError(start_failure(argv[0], cwd, error)) from exc
        except WarmExecutorError:
            # Never handed over: the read ends are still ours.
            for fd in (stdout_read, stderr_read):
                with contextlib.suppress(OSError):
                    os.close(fd)
            raise
        finally:
            os.close(stdout_write)
            os.close(stderr_write)

    async def _ready_server(self) -> _ForkServer | None:
        """The running server; restarted first when it died or the executor was upgraded."""
        server = self._server
        if server is not None and server.alive and not server.stale():
            return server
        async with self._lock:
            server = self._server
            if server is not None and server.alive and not server.stale():
                return server
            if server is not None:
                self._log.warning(
                    "warm executor restarting",
                    reason="exited" if not server.alive else "executor changed on disk",
                )
                self._server = None
                self._retire_in_background(server)
            if time.monotonic() < self._next_start_s:
                return None
            try:
                self._server = await self._start_server()
            except WarmExecutorError as exc:
                self._next_start_s = time.monotonic() + self._restart_pause_s
                self._log.error(
                    "warm executor could not be started; spawning executors",
                    error=str(exc),
                    retry_in_s=self._restart_pause_s,
                )
                return None
            return self._server

    def _retire_in_background(self, server: _ForkServer) -> None:
        # Its running children are still reported by it; it exits after the last one.
        server.request_retire()
        self._retired.add(server)
        server.gone.add_done_callback(lambda _: self._retired.discard(server))

    async def close(self) -> None:
        """Stop every fork server (after the executions: their children are reported first)."""
        servers = [*self._retired, *([self._server] if self._server is not None else [])]
        self._server = None
        for server in servers:
            await server.stop(_RETIRE_WAIT_S)
