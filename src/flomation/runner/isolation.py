"""Running the executor in a bubblewrap sandbox (``execution.isolation = "bwrap"``).

For flows whose authors the operator does not trust (docs/security.md): the executor, and every
script a flow runs, sees the machine's files read-only, its own work directory writable, a fresh
``/tmp``, and nothing of the runner: not the state directory (identifier, outbox), not the
runner's private key, not the other executions' work directories, not the runner's processes
(its own PID namespace and ``/proc``, so no ``/proc/<runner>/environ``). It keeps no
capabilities and dies with the runner (``--die-with-parent``).

The executor still signs its environment look-ups with the runner's key (docs/protocol.md §9):
the key is handed over on an inherited pipe (``--key /dev/fd/N``), which the executor reads and
closes before any node runs, and it then makes itself non-dumpable so that no script can read
its memory or file descriptors through ``/proc``.

Signals: the sandbox runs in the process group the runner created for the executor, so the
runner's cancellation (SIGTERM to the group, SIGKILL after the grace period) reaches the
executor as without isolation. bubblewrap itself, and its reaper inside the namespace, ignore
SIGTERM (a ``trap`` set by ``/bin/sh`` before ``exec``; an ignored signal stays ignored across
``exec``), because bubblewrap dying would SIGKILL the executor before it writes state.json.
bubblewrap's ``--new-session`` is not used: it would move the executor out of that process
group. What it protects against, a sandboxed program pushing keystrokes into the controlling
terminal (TIOCSTI), cannot happen here: the runner starts the executor in a new session of its
own with no controlling terminal.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Isolation", "IsolationError", "find_bwrap"]

_PROBE_TIMEOUT_S = 10.0
_INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install bubblewrap)"


class IsolationError(Exception):
    """bubblewrap is missing or cannot create its namespaces here; the message says which."""


def find_bwrap(path: str | None) -> str:
    """The absolute path of ``bwrap`` on ``path``, after a probe that it can sandbox here."""
    bwrap = shutil.which("bwrap", path=path)
    if bwrap is None:
        raise IsolationError(
            f"execution.isolation is bwrap but bubblewrap (bwrap) is not on PATH; {_INSTALL_HINT}"
        )
    probe = [bwrap, *_SANDBOX_FLAGS, "--ro-bind", "/", "/", "--proc", "/proc", "--", "true"]
    try:
        completed = subprocess.run(
            probe,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IsolationError(f"execution.isolation is bwrap but {bwrap} cannot run: {exc}") from exc
    if completed.returncode != 0:
        detail = (
            completed.stderr.decode("utf-8", "replace").strip() or f"exit {completed.returncode}"
        )
        raise IsolationError(
            f"execution.isolation is bwrap but {bwrap} cannot create its namespaces here: "
            f"{detail} (unprivileged user namespaces may be disabled: "
            "sysctl kernel.unprivileged_userns_clone=1, or run the runner as root)"
        )
    return bwrap


_SANDBOX_FLAGS = (
    "--die-with-parent",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--cap-drop",
    "ALL",
)


def _installed_under_tmp(argv: Sequence[str]) -> list[Path]:
    """What the executor needs to start that the sandbox's private ``/tmp`` would hide.

    An installation under ``/tmp`` (a checkout in a temporary directory, as CI makes): the
    program's directory, this interpreter's environment and its import path, shown read-only.
    """
    candidates = [Path(argv[0]).parent, Path(sys.prefix), *(Path(entry) for entry in sys.path)]
    needed: list[Path] = []
    for candidate in candidates:
        if not candidate.is_absolute() or not candidate.is_dir():
            continue
        resolved = candidate.resolve()
        if resolved.is_relative_to("/tmp") and resolved != Path("/tmp") and resolved not in needed:
            needed.append(resolved)
    return [
        path for path in needed if not any(path.is_relative_to(o) and path != o for o in needed)
    ]


@dataclass(frozen=True)
class Isolation:
    """How to wrap an executor command line in bubblewrap.

    ``hidden_directories`` become empty (a tmpfs over each: the state directory, the execution
    root, the outbox's directory); ``hidden_files`` read as empty (``/dev/null`` over each: the
    runner's key when it lives elsewhere).
    """

    bwrap: str
    hidden_directories: tuple[Path, ...]
    hidden_files: tuple[Path, ...]

    def wrap(self, argv: Sequence[str], workdir: Path, key_pipe_fd: int | None) -> list[str]:
        """``argv`` run in the sandbox, through ``/bin/sh`` which makes SIGTERM ignored there.

        ``key_pipe_fd``, a descriptor the child inherits, is given to the executor as its
        ``--key /dev/fd/N``.
        """
        sandbox = [self.bwrap, *_SANDBOX_FLAGS, "--ro-bind", "/", "/"]
        sandbox += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for needed in _installed_under_tmp(argv):
            sandbox += ["--ro-bind", str(needed), str(needed)]
        hidden = [*self.hidden_directories, Path("/tmp")]
        for directory in self.hidden_directories:
            sandbox += ["--tmpfs", str(directory)]
        for path in self.hidden_files:
            if path.exists() and not any(path.is_relative_to(d) for d in hidden):
                sandbox += ["--ro-bind", "/dev/null", str(path)]
        sandbox += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir), "--", *argv]
        if key_pipe_fd is not None:
            sandbox += ["--key", f"/dev/fd/{key_pipe_fd}"]
        return ["/bin/sh", "-c", 'trap "" TERM; exec "$@"', "sh", *sandbox]
