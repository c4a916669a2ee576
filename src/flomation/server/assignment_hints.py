"""Which runner each execution was last seen assigned to, remembered by one server process.

A runner's call on an execution (state, logs, result) is verified with the key of the runner
the execution is assigned to. Reading that assignment before every call was a statement of its
own on each of them; the hint lets a replica verify with the key of the runner it last saw
holding the execution (at its claim, or at an earlier look-up) and go straight to the call's
write. The hint is never trusted alone (docs/architecture.md, "Assignment hints"):

* a request the hinted runner did not sign is verified again against the assignment read from
  the database, so a hint made stale by a claim elsewhere costs one look-up;
* every write of a runner call is guarded by ``runner_id`` in its own statement, so a request
  signed by a runner that no longer holds the execution changes nothing and is refused.

Runners are never deleted and their key never changes (docs/protocol.md §8.1 A5), so a hinted
identity is the runner's for good; only whether it still holds the execution can go stale.
"""

from __future__ import annotations

from flomation.server.records import RunnerIdentity, RunnerRecord

__all__ = ["AssignmentHints"]

# About 2 MB: far more executions than a replica has in flight at once.
_DEFAULT_LIMIT = 10_000


class AssignmentHints:
    """Execution id -> the runner last seen assigned to it (bounded; forgotten all at once when
    full, like the other per-process caches)."""

    def __init__(self, limit: int = _DEFAULT_LIMIT) -> None:
        self._limit = limit
        self._runners: dict[str, RunnerIdentity] = {}

    def get(self, execution_id: str) -> RunnerIdentity | None:
        """The runner last seen assigned to ``execution_id``, if any."""
        return self._runners.get(execution_id)

    def remember(self, execution_id: str, runner: RunnerIdentity | RunnerRecord) -> None:
        """``runner`` holds ``execution_id`` now (a claim, or a look-up, has just said so)."""
        if len(self._runners) >= self._limit:
            self._runners.clear()
        if isinstance(runner, RunnerRecord):
            runner = RunnerIdentity(runner.id, runner.identifier, runner.public_key)
        self._runners[execution_id] = runner
