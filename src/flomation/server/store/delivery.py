"""SQL of the delivery guarantees (docs/protocol.md §11).

Three mechanisms, each a few statements run inside a transaction that ``store`` owns:

* **Claim lease.** An execution handed out by a claim stays ``allocated`` until its runner
  confirms it (``POST /state``, or any other call on it). One never confirmed within the lease
  (the claim's answer was lost on the way) goes back to ``created`` and is offered again; the
  runner it was first handed to is remembered in ``claim_lapses`` so that its late confirmation
  can be told apart from a stranger's call and refused with 409.
* **Log batch keys.** A ``/logs`` batch may carry a key (header ``X-Flomation-Log-Batch``); a
  key already stored for the execution means the batch was stored before and its answer lost,
  so it is not stored again.
* **Live log tail.** When the result arrives, lines its ``state.logs`` holds beyond the live log
  (the end of the live stream did not get through in time) are appended after a marker line,
  and the live log is sealed: a batch arriving later is not stored, it would double lines.

The functions take the DBAPI connection of an open transaction (``logs`` calls two of them
inside its own); :class:`DeliveryQueries` runs the others in transactions of their own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flomation.server.records import RunnerRecord
from flomation.server.store import schema
from flomation.server.store.database import Database, RawConnection
from flomation.server.store.executions import touch
from flomation.server.store.nonces import (
    PG_NONCE_CTES,
    check_fresh,
    nonce_parameters,
    record_nonce,
)
from flomation.server.store.rows import columns, runner_from
from flomation.server.store.types import SignatureNonce

__all__ = [
    "ConfirmOutcome",
    "DeliveryQueries",
    "LapsedClaim",
    "confirm_claim",
    "expire_claim_leases",
    "fill_log_tail",
    "is_log_sealed",
    "lapsed_runner_ids",
    "remember_log_batch",
    "tail_fill_marker",
]


class ConfirmOutcome(enum.Enum):
    """What a runner's ``state running`` did to the execution it was handed."""

    STARTED = "started"  # allocated -> running
    UNCHANGED = "unchanged"  # already running: a retried confirmation whose answer was lost
    LAPSED = "lapsed"  # no longer this runner's: its lease expired, it was offered again
    FINISHED = "finished"  # cancelled, or finished elsewhere, before it was confirmed


@dataclass(frozen=True)
class LapsedClaim:
    """An execution offered again because the runner it was handed to never confirmed it."""

    execution_id: str
    runner_id: str


# Allocated and never touched since: no call of the runner on it has arrived.
_SQL_UNCONFIRMED = """
    SELECT id, runner_id FROM executions
    WHERE execution_status = 'allocated' AND completion_status = 'pending'
        AND allocated_at < ? AND COALESCE(last_contact_at, allocated_at) <= allocated_at
"""
_SQL_OFFER_AGAIN = """
    UPDATE executions SET execution_status = 'created', runner_id = NULL, allocated_at = NULL,
        last_contact_at = NULL, updated_at = ?
    WHERE id = ? AND execution_status = 'allocated' AND completion_status = 'pending'
"""
_SQL_REMEMBER_LAPSE = """
    INSERT INTO claim_lapses (execution_id, runner_id, lapsed_at) VALUES (?, ?, ?)
    ON CONFLICT (execution_id, runner_id) DO UPDATE SET lapsed_at = excluded.lapsed_at
"""
_SQL_LAPSED_RUNNERS = "SELECT runner_id FROM claim_lapses WHERE execution_id = ?"
_SQL_CONFIRM_STATE = (
    "SELECT execution_status, completion_status, runner_id FROM executions WHERE id = ?"
)
_SQL_SET_RUNNING = """
    UPDATE executions SET execution_status = 'running', started_at = ?, updated_at = ?
    WHERE id = ? AND execution_status = 'allocated' AND completion_status = 'pending'
"""
# PostgreSQL: the common confirmation (allocated -> running, with the request's nonce and both
# touches) in one statement instead of a transaction of seven round trips; any other case goes
# through that transaction.
_PG_SQL_START = f"""
    WITH {PG_NONCE_CTES},
    started AS (
        UPDATE executions SET execution_status = 'running', started_at = :now, updated_at = :now,
            last_contact_at = :now
        WHERE id = :execution_id AND runner_id = :runner_id AND execution_status = 'allocated'
            AND completion_status = 'pending' AND (SELECT fresh FROM fresh)
        RETURNING id
    ),
    runner AS (
        UPDATE runners SET last_contact_at = :now
        WHERE id = :runner_id AND EXISTS (SELECT 1 FROM started)
    )
    SELECT (SELECT fresh FROM fresh), count(*) FROM started
"""
_SQL_REMEMBER_BATCH = (
    "INSERT INTO log_batch_keys (execution_id, batch_key) VALUES (?, ?) ON CONFLICT DO NOTHING"
)
_SQL_IS_SEALED = "SELECT 1 FROM sealed_logs WHERE execution_id = ?"
_SQL_SEAL = "INSERT INTO sealed_logs (execution_id, sealed_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
_SQL_LOG_STATE = "SELECT log_bytes, log_truncated, log_seq FROM executions WHERE id = ?"
_SQL_STORED_LINES = "SELECT line FROM execution_logs WHERE execution_id = ? ORDER BY seq"
_SQL_INSERT_LINE = "INSERT INTO execution_logs (execution_id, seq, line) VALUES (?, ?, ?)"
_SQL_SET_LOG_STATE = "UPDATE executions SET log_bytes = ?, log_seq = ? WHERE id = ?"
_SQL_RUNNER_BY_ID = (
    f"SELECT {columns(schema.RUNNER_RECORD_COLUMNS, 'r')} FROM runners r WHERE r.id = ?"
)


def expire_claim_leases(db: RawConnection, now_s: float, lease_s: float) -> list[LapsedClaim]:
    """Offer again every execution allocated more than ``lease_s`` ago and never confirmed."""
    rows = db.execute(_SQL_UNCONFIRMED, (now_s - lease_s,)).fetchall()
    lapsed: list[LapsedClaim] = []
    for execution_id, runner_id in rows:
        if db.execute(_SQL_OFFER_AGAIN, (now_s, execution_id)).rowcount:
            db.execute(_SQL_REMEMBER_LAPSE, (execution_id, runner_id, now_s))
            lapsed.append(LapsedClaim(execution_id, runner_id))
    return lapsed


def lapsed_runner_ids(db: RawConnection, execution_id: str) -> list[str]:
    """The runners this execution was handed to before and then offered again."""
    return [row[0] for row in db.execute(_SQL_LAPSED_RUNNERS, (execution_id,)).fetchall()]


def confirm_claim(
    db: RawConnection, execution_id: str, runner_id: str, now_s: float
) -> ConfirmOutcome:
    """``allocated`` -> ``running`` if the execution is still this runner's and pending (T5)."""
    row = db.execute(_SQL_CONFIRM_STATE, (execution_id,)).fetchone()
    if row is None or row[2] != runner_id:
        return ConfirmOutcome.LAPSED
    if row[1] != "pending":
        return ConfirmOutcome.FINISHED
    if db.execute(_SQL_SET_RUNNING, (now_s, now_s, execution_id)).rowcount:
        return ConfirmOutcome.STARTED
    return ConfirmOutcome.UNCHANGED


def remember_log_batch(db: RawConnection, execution_id: str, batch_key: str) -> bool:
    """Record a batch key; False when it was recorded before (the batch is a retry)."""
    return db.execute(_SQL_REMEMBER_BATCH, (execution_id, batch_key)).rowcount > 0


def is_log_sealed(db: RawConnection, execution_id: str) -> bool:
    """True once the live log was completed from the result (no batch is stored after that)."""
    return db.execute(_SQL_IS_SEALED, (execution_id,)).fetchone() is not None


def tail_fill_marker(count: int) -> str:
    """The line stored before the lines filled in from the result."""
    return (
        f"[flomation-server] {count} final log lines did not arrive on the live stream; "
        "filled in from the result"
    )


def fill_log_tail(
    db: RawConnection,
    execution_id: str,
    result_logs: str,
    max_log_bytes: int,
    now_s: float,
) -> int:
    """Complete the live log from the result's output; how many lines were filled in.

    Only when the live log is exactly the start of that output (nothing dropped in the middle,
    nothing capped) is the rest appended, after :func:`tail_fill_marker`; the log is then sealed.
    Any other difference (lines lost in the middle, another runner's formatting, an output
    truncated in the result) leaves the live log as it is, unsealed.
    """
    log_bytes, log_truncated, seq = db.execute(_SQL_LOG_STATE, (execution_id,)).fetchone()
    if log_truncated:
        return 0
    # The runner joins its output lines with "\n", without a trailing newline.
    output = result_logs.split("\n") if result_logs else []
    if len(output) < seq:
        return 0
    if len(output) > seq:
        stored = [row[0] for row in db.execute(_SQL_STORED_LINES, (execution_id,)).fetchall()]
        if len(stored) != seq or output[:seq] != stored:
            return 0
        tail = output[seq:]
        lines = [tail_fill_marker(len(tail)), *tail]
        size = sum(len(line.encode("utf-8")) + 1 for line in lines)
        if log_bytes + size > max_log_bytes:
            return 0
        db.executemany(
            _SQL_INSERT_LINE,
            [(execution_id, seq + index, line) for index, line in enumerate(lines, start=1)],
        )
        db.execute(_SQL_SET_LOG_STATE, (log_bytes + size, seq + len(lines), execution_id))
        filled = len(tail)
    else:
        filled = 0
    db.execute(_SQL_SEAL, (execution_id, now_s))
    return filled


class DeliveryQueries:
    """The claim lease and the live log's completion, each in a transaction of its own."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def expire_claim_leases(self, now_s: float, lease_s: float) -> list[LapsedClaim]:
        """Offer again the executions whose runner did not confirm them within ``lease_s``."""
        with self._db.raw_write() as db:
            return expire_claim_leases(db, now_s, lease_s)

    def lapsed_claimants(self, execution_id: str) -> list[RunnerRecord]:
        """The runners this execution was handed to before its lease expired."""
        db = self._db.raw()
        runners: list[RunnerRecord] = []
        for runner_id in lapsed_runner_ids(db, execution_id):
            row = db.execute(_SQL_RUNNER_BY_ID, (runner_id,)).fetchone()
            if row is not None:
                runners.append(runner_from(row))
        return runners

    def confirm_claim(
        self,
        execution_id: str,
        runner_id: str,
        now_s: float,
        nonce: SignatureNonce | None = None,
    ) -> ConfirmOutcome:
        """The runner's ``state running``: ``allocated`` -> ``running`` if still its own.

        The request's ``nonce`` is recorded with it; ReplayedNonceError, with nothing changed,
        for a nonce seen before.
        """
        if self._db.backend == "postgresql":
            parameters = {
                "execution_id": execution_id,
                "runner_id": runner_id,
                "now": now_s,
                **nonce_parameters(nonce),
            }
            fresh, started = self._db.raw().execute(_PG_SQL_START, parameters).fetchone()
            check_fresh(fresh, nonce)
            if started:
                return ConfirmOutcome.STARTED
            nonce = None  # recorded: the transaction below decides
        record_nonce(self._db.raw(), nonce)
        with self._db.raw_write() as db:
            outcome = confirm_claim(db, execution_id, runner_id, now_s)
            if outcome is not ConfirmOutcome.LAPSED:
                touch(db, execution_id, runner_id, now_s)
            return outcome

    def fill_log_tail(
        self, execution_id: str, result_logs: str, max_log_bytes: int, now_s: float
    ) -> int:
        """Complete the live log from the result's output and seal it; lines filled in."""
        with self._db.raw_write() as db:
            return fill_log_tail(db, execution_id, result_logs, max_log_bytes, now_s)
