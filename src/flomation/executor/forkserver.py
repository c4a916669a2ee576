"""``flomation-executor --fork-server FD``: a warm executor that forks one process per execution.

The runner keeps one of these per runner process (runner/warm_executor.py, docs/architecture.md
*Warm executor*). It imports the engine and every action once, then serves requests on the Unix
``SOCK_SEQPACKET`` socket ``FD`` it inherited. Each execution is a fresh child forked from this
warm process: it becomes a new session (its own process group, as a spawned executor), moves to
its work directory, takes the pipes the runner sent as stdin/stdout/stderr, replaces its whole
environment with the one sent, and runs :func:`flomation.executor.cli.main` with the sent
arguments; its exit status is the executor's. Nothing one execution imports or changes reaches
another: each is a copy of this process as it stood after the imports.

Messages are one JSON object each (one datagram, docs/architecture.md *Warm executor*):

* server -> runner, first: ``{"hello": 1, "pid": P, "version": V, "watch": [paths]}`` once the
  imports are done (``watch``: the installed files whose change means an upgrade);
* runner -> server: ``{"op": "fork", "id": N, "args": [...], "env": {...}, "cwd": "..."}`` with
  two descriptors attached (SCM_RIGHTS): the child's stdout and stderr;
* server -> runner: ``{"id": N, "pid": P}`` at once after the fork, or ``{"id": N, "error":
  "...", "step": "chdir", "errno": E}`` without a fork when the work directory cannot be entered
  (a later set-up failure in the child is a line on its stderr and exit status 127);
* server -> runner: ``{"exited": P, "status": W}``, the wait status, when a child ends;
* runner -> server: ``{"op": "retire"}``: fork no more, exit once every child was reported.

End of file on the socket (the runner is gone) ends the server at once; its children run on, as
spawned executors outlive a crashed runner, and the runner's crash recovery ends them.
"""

from __future__ import annotations

import errno
import gc
import io
import json
import os
import selectors
import signal
import socket
import stat
import sys
import traceback
from collections.abc import Callable

from flomation.executor.deep_stack import serve_on_deep_stack

__all__ = ["HELLO_PROTOCOL", "RunFunction", "run_server", "serve", "watched_files"]

RunFunction = Callable[[list[str]], int]

HELLO_PROTOCOL = 1
_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
_FDS_PER_FORK = 2
_SETUP_EXIT_CODE = 127


def watched_files() -> list[str]:
    """The files whose identity changes when the executor is upgraded or reinstalled.

    The distribution's ``RECORD`` (rewritten, or renamed with the version, by every install) and
    the executor package's directory and command-line module.
    """
    from pathlib import Path

    from flomation.executor import cli

    module = Path(cli.__file__)
    site = module.parent.parent.parent
    try:
        records = [
            entry / "RECORD"
            for entry in sorted(site.iterdir())
            if entry.name.startswith("flomation_runner-") and entry.name.endswith(".dist-info")
        ]
    except OSError:
        records = []
    return [str(path) for path in (module.parent, module, *records)]


def _preload() -> None:
    """Import what every run needs, and every action, so that a forked child imports nothing."""
    import flomation.executor.checkpoint
    import flomation.executor.context
    import flomation.executor.engine
    import flomation.executor.environment
    import flomation.executor.events
    import flomation.executor.flags
    import flomation.executor.flow
    import flomation.executor.network_guard
    import flomation.executor.substitution  # noqa: F401 - imported for the children
    from flomation.executor.registry import Registry
    from flomation.version import distribution_version

    Registry().all_actions()
    distribution_version()


def _send(sock: socket.socket, message: dict[str, object]) -> None:
    sock.send(json.dumps(message, separators=(",", ":")).encode())


def serve(argv: list[str]) -> int:
    """``--fork-server FD``: import the executor, then serve fork requests on socket ``FD``."""
    if len(argv) != 1 or not argv[0].isdigit():
        os.write(2, b"flomation-executor: --fork-server takes one file descriptor number\n")
        return 2
    _preload()
    from flomation.executor.cli import main

    return run_server(int(argv[0]), main, watched_files())


def run_server(socket_fd: int, run: RunFunction, watch: list[str]) -> int:
    """Serve fork requests on ``socket_fd``; each child runs ``run(args)`` and exits with it.

    ``watch`` goes to the runner in the hello (see :func:`watched_files`). Runs until the runner
    closes its end, or retires the server and every child was reported.
    """
    sock = socket.socket(fileno=socket_fd)
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_write)
    # A handler (not SIG_DFL) so that SIGCHLD writes to the wake-up pipe.
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    from flomation.version import distribution_version

    _send(
        sock,
        {
            "hello": HELLO_PROTOCOL,
            "pid": os.getpid(),
            "version": distribution_version(),
            "watch": watch,
        },
    )
    # Everything imported so far lives as long as this process: out of the collector's sight,
    # a child's collections do not touch (and so copy) the pages holding it.
    gc.collect()
    gc.freeze()
    # The loop forks from a large-stack thread: each child runs its engine on that thread
    # directly instead of starting one (executor/deep_stack.py). The signal set-up above stays
    # on the main thread, which only waits for the loop.
    return serve_on_deep_stack(_Server(sock, wake_read, wake_write, run).run)


class _Server:
    """The request loop: fork on request, report exits, stop when retired or orphaned."""

    def __init__(
        self, sock: socket.socket, wake_read: int, wake_write: int, run: RunFunction
    ) -> None:
        self._sock = sock
        self._run = run
        self._wake_read = wake_read
        self._wake_write = wake_write
        self._children: set[int] = set()
        self._retiring = False

    def run(self) -> int:
        selector = selectors.DefaultSelector()
        selector.register(self._sock, selectors.EVENT_READ, "socket")
        selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        while not (self._retiring and not self._children):
            for key, _ in selector.select():
                if key.data == "wake":
                    self._drain_wake_pipe()
                    self._reap()
                elif not self._receive():
                    return 0
        return 0

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_read, 512):
                pass
        except BlockingIOError:
            pass

    def _reap(self) -> None:
        while self._children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._children.discard(pid)
            _send(self._sock, {"exited": pid, "status": status})

    def _receive(self) -> bool:
        """Handle one request; False once the runner closed its end."""
        try:
            data, fds, _flags, _address = socket.recv_fds(
                self._sock, _MAX_MESSAGE_BYTES, _FDS_PER_FORK
            )
        except InterruptedError:
            return True
        if not data:
            return False
        try:
            request = json.loads(data)
            if request.get("op") == "retire":
                self._retiring = True
            elif request.get("op") == "fork" and len(fds) == _FDS_PER_FORK:
                self._fork(request, fds)
        finally:
            for fd in fds:
                os.close(fd)
        return True

    def _fork(self, request: dict[str, object], fds: list[int]) -> None:
        # Checked here, so that the answer can follow the fork at once: waiting for the child
        # to report its set-up cost the runner a round of scheduling per execution.
        problem = _work_directory_problem(str(request.get("cwd")))
        if problem is not None:
            detail = {"error": problem.strerror, "errno": problem.errno, "step": "chdir"}
            _send(self._sock, {"id": request.get("id"), **detail})
            return
        pid = os.fork()
        if pid == 0:
            inherited = (self._sock, self._wake_read, self._wake_write)
            _become_execution(self._run, request, fds, inherited)
        self._children.add(pid)
        _send(self._sock, {"id": request.get("id"), "pid": pid})


def _work_directory_problem(cwd: str) -> OSError | None:
    """Why a child could not enter ``cwd`` (missing, not a directory, no search permission)."""
    from pathlib import Path

    try:
        status = Path(cwd).stat()
    except OSError as error:
        return error
    if not stat.S_ISDIR(status.st_mode):
        return NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), cwd)
    if not os.access(cwd, os.X_OK):
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), cwd)
    return None


def _become_execution(
    run: RunFunction, request: dict[str, object], fds: list[int], inherited: tuple[object, ...]
) -> None:
    """In the child: set up the execution's process as a spawn would, run it, and exit.

    Never returns: whatever happens, the child ends with ``os._exit`` and so can never run on
    into the server's loop. ``SystemExit`` and uncaught exceptions end it as they end Python.
    """
    code = _SETUP_EXIT_CODE
    try:
        args = _set_up(request, fds, inherited)
        if args is not None:
            code = run(args)
    except SystemExit as exit_request:
        code = _exit_code(exit_request.code)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def _exit_code(value: object) -> int:
    """The exit status Python gives ``SystemExit(value)``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def _fresh_std_streams(unbuffered: bool) -> None:
    """New ``sys.stdin/stdout/stderr`` on descriptors 0-2, as a starting interpreter makes them.

    The warm process's own objects still point at its descriptors' old buffering choices;
    ``PYTHONUNBUFFERED`` in the execution's environment is honoured as by ``python -u``.
    """
    stdout: io.RawIOBase | io.BufferedWriter = io.FileIO(1, "w", closefd=False)
    if not unbuffered:
        stdout = io.BufferedWriter(stdout)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
    sys.stdout = io.TextIOWrapper(
        stdout, encoding="utf-8", errors="backslashreplace", write_through=unbuffered
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
        write_through=True,
    )


def _set_up(
    request: dict[str, object], fds: list[int], inherited: tuple[object, ...]
) -> list[str] | None:
    """What spawning does between fork and exec; the arguments, or None after a failure.

    A failure (rare: the work directory was checked before the fork) is written to the child's
    stderr, and the child then exits with status 127, as a shell does for a command it cannot run.
    """
    step = "set-up"
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for item in inherited:
            if isinstance(item, socket.socket):
                item.close()
            elif isinstance(item, int):
                os.close(item)
        os.setsid()
        args = [str(arg) for arg in _list(request.get("args"))]
        env = {str(k): str(v) for k, v in _dict(request.get("env")).items()}
        stdin = os.open(os.devnull, os.O_RDONLY)
        for target, fd in enumerate((stdin, *fds)):
            os.dup2(fd, target)
            os.close(fd)
        step = "work directory"
        os.chdir(str(request.get("cwd")))
        step = "set-up"
        # Replaced, not merged: the child sees exactly the environment the runner sent
        # (os.environ updates the C environment too, which subprocesses inherit).
        os.environ.clear()
        os.environ.update(env)
        _fresh_std_streams(unbuffered=bool(env.get("PYTHONUNBUFFERED")))
        sys.argv = ["flomation-executor", *args]
    except OSError as error:
        message = f"flomation-executor: cannot start: {step}: {error.strerror or error}\n"
        try:
            os.write(2, message.encode("utf-8", "replace"))
        except OSError:
            pass
        return None
    return args


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict[object, object]:
    return value if isinstance(value, dict) else {}
