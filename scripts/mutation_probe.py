#!/usr/bin/env python3
"""A small mutation probe: does the suite notice when a headline guarantee is broken?

Each mutation below replaces one snippet of a critical module (the runner's cancel path, result
delivery, outbox, masking, log shipping, work directory, and the server's signature window and
wake-ups), runs the tests that should notice, and restores the file byte for byte (also on
Ctrl-C). A mutation is *killed* when those tests fail, *survived* when they pass (a gap in the
suite, or an equivalent change: read the test before adding one), *stale* when its snippet is no
longer in the file (the code moved: update the probe). The score is killed / (killed + survived).

    .venv/bin/python scripts/mutation_probe.py            # every mutation
    .venv/bin/python scripts/mutation_probe.py killpg     # those whose name contains "killpg"

It edits files in place: run it on a clean worktree, never while another test run uses it.
Results and the command are recorded in docs/testing.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MUTATIONS", "Mutation", "main"]

ROOT = Path(__file__).resolve().parents[1]
RUNNER = "src/flomation/runner"


@dataclass(frozen=True)
class Mutation:
    """One deliberate defect: ``original`` (found exactly once in ``path``) becomes ``mutant``."""

    name: str
    path: str
    original: str
    mutant: str
    tests: tuple[str, ...]  # pytest arguments selecting the tests that should notice


MUTATIONS = (
    Mutation(
        "cancel-sigterm-leader-only (killpg -> kill)",
        f"{RUNNER}/process.py",
        "os.killpg(pgid, signal.SIGTERM)",
        "os.kill(pgid, signal.SIGTERM)",
        ("tests/runner/test_process.py",),
    ),
    Mutation(
        "cancel-no-sigkill-after-grace",
        f"{RUNNER}/process.py",
        "        else:\n            kill_group(pgid)\n        await self.wait()",
        "        await self.wait()",
        ("tests/runner/test_process.py",),
    ),
    Mutation(
        "v2-window-one-sided (abs dropped)",
        "src/flomation/server/auth.py",
        "abs(now_s - header.timestamp_s)",
        "(now_s - header.timestamp_s)",
        ("tests/server/test_signing_v2.py",),
    ),
    Mutation(
        "result-5xx-counted-as-delivered",
        f"{RUNNER}/delivery.py",
        "        if status == 200:\n",
        "        if status == 200 or status >= 500:\n",
        ("tests/runner/test_delivery.py",),
    ),
    Mutation(
        "result-5xx-dead-lettered",
        f"{RUNNER}/delivery.py",
        "        if status == 404:\n",
        "        if status == 404 or status >= 500:\n",
        ("tests/runner/test_delivery.py",),
    ),
    Mutation(
        "outbox-delivered-entry-stays-pending",
        f"{RUNNER}/outbox.py",
        "self._finish(entry_id, DELIVERED, now, clear_body=True, durable=False)",
        "pass",
        ("tests/runner/test_outbox.py",),
    ),
    Mutation(
        "masking-skips-batches",
        "src/flomation/wire/masking.py",
        "                return [self.mask(line) for line in lines]",
        "                return lines",
        ("tests/runner/test_masking.py", "tests/runner/test_execution.py", "-k", "secret or mask"),
    ),
    Mutation(
        "log-drops-never-reported-again",
        f"{RUNNER}/logs.py",
        "self._unreported_drops += reported",
        "self._unreported_drops += 0",
        ("tests/runner/test_logs.py",),
    ),
    Mutation(
        "workdir-files-world-readable",
        f"{RUNNER}/workdir.py",
        "_FILE_MODE = 0o600",
        "_FILE_MODE = 0o644",
        ("tests/runner/test_workdir.py",),
    ),
    Mutation(
        "slots-unbounded",
        f"{RUNNER}/agent.py",
        "self._slots = max(1, config.max_concurrent_executors)",
        "self._slots = max(1, config.max_concurrent_executors) + 1",
        ("tests/runner/test_agent.py", "-k", "slots"),
    ),
    Mutation(
        "result-store-not-shielded",
        f"{RUNNER}/execution.py",
        "await asyncio.shield(self._services.journal.store_result(execution_id, body))",
        "await self._services.journal.store_result(execution_id, body)",
        (
            "tests/runner/test_execution.py",
            "tests/runner/test_agent.py",
            "tests/runner/test_delivery.py",
        ),
    ),
    Mutation(
        "dispatch-wake-not-handed-on",
        "src/flomation/server/dispatch.py",
        "ticket.handoff = [t for t in (consumed, late) if t is not None]",
        "ticket.handoff = []",
        ("tests/server/test_dispatch.py",),
    ),
)


def _forget_bytecode(path: Path) -> None:
    """Remove the cached bytecode of ``path``: a same-size edit within one second of the last
    one would otherwise let Python reuse the stale .pyc (it checks size and whole seconds)."""
    for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        cached.unlink(missing_ok=True)


def _run(mutation: Mutation) -> str:
    path = ROOT / mutation.path
    source = path.read_text(encoding="utf-8")
    if source.count(mutation.original) != 1:
        return "stale"
    stat = path.stat()
    try:
        path.write_text(source.replace(mutation.original, mutation.mutant), encoding="utf-8")
        _forget_bytecode(path)
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
             "--timeout", "60", *mutation.tests],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )  # fmt: skip
    finally:
        path.write_text(source, encoding="utf-8")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        _forget_bytecode(path)
    if tests.returncode == 1:
        return "killed"
    if tests.returncode == 0:
        return "survived"
    return f"error (pytest exit {tests.returncode})"


def main(argv: list[str]) -> int:
    """Run the mutations whose names contain any of ``argv`` (all when empty); 1 if any survived."""
    chosen = [m for m in MUTATIONS if not argv or any(word in m.name for word in argv)]
    if not chosen:
        print(f"no mutation matches {argv}; names: {[m.name for m in MUTATIONS]}", file=sys.stderr)
        return 2
    counts: dict[str, int] = {}
    for mutation in chosen:
        started = time.monotonic()
        outcome = _run(mutation)
        counts[outcome.split()[0]] = counts.get(outcome.split()[0], 0) + 1
        print(f"{outcome:9} {time.monotonic() - started:6.1f} s  {mutation.name}", flush=True)
    killed, survived = counts.get("killed", 0), counts.get("survived", 0)
    scored = killed + survived
    score = f"{killed}/{scored} killed ({100 * killed // scored} %)" if scored else "nothing scored"
    print(f"score: {score}; stale: {counts.get('stale', 0)}; errors: {counts.get('error', 0)}")
    return 1 if survived or counts.get("error") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
