"""Claims (docs/protocol.md §4.2, §8.1 A1/A2): which executions a runner may take, the claim of
the oldest, its release, and the dispatch targets that say whom a new execution should wake.

A runner's poll claims through polls.py (its heartbeat and first claim in one statement on
PostgreSQL); a held poll claims again with :meth:`ClaimQueries.claim_next`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text, update

from flomation.server.records import ClaimedExecution, DispatchTarget
from flomation.server.store import schema
from flomation.server.store.database import Backend, Database
from flomation.server.store.rows import columns, execution_from, flo_from, load

__all__ = ["INSERTION_ORDER", "PG_CLAIM_ROW", "ClaimQueries", "claimed_from", "pg_claim_ctes"]

_ELIGIBLE_SQL = """
    e.execution_status = 'created' AND e.completion_status = 'pending'
    AND (
        f.queue_id IN (SELECT queue_id FROM queue_members WHERE runner_id = :runner_id)
        OR (
            f.queue_id IS NULL
            AND COALESCE(e.organisation_id, '') IN (
                SELECT COALESCE(q.organisation_id, '') FROM queues q
                JOIN queue_members m ON m.queue_id = q.id WHERE m.runner_id = :runner_id
            )
        )
    )
"""

_PENDING_PER_QUEUE = text(
    """
    SELECT q.name, COUNT(e.id) FROM queues q
    LEFT JOIN flos f ON (f.queue_id = q.id OR f.queue_id IS NULL)
    LEFT JOIN executions e ON e.flo_id = f.id
        AND e.execution_status = 'created' AND e.completion_status = 'pending'
        AND (f.queue_id = q.id
             OR COALESCE(e.organisation_id, '') = COALESCE(q.organisation_id, ''))
    GROUP BY q.id, q.name
    """
)

# Oldest first; among executions created in the same microsecond, in insertion order on SQLite.
INSERTION_ORDER: dict[Backend, str] = {"sqlite": "rowid", "postgresql": "id"}


def _claim_candidate_sql(backend: Backend, *, lock: bool, only_if: str = "TRUE") -> str:
    """The oldest eligible execution; ``lock``ed rows are skipped by concurrent claims.

    On PostgreSQL the claiming transaction locks its candidate (``FOR UPDATE SKIP LOCKED``), so
    replicas claiming at once each take a different execution instead of waiting on one row.
    SQLite's ``BEGIN IMMEDIATE`` already makes claims take turns. ``only_if`` is a further SQL
    condition (a claim inside a larger statement: pg_claim_ctes).
    """
    locking = " FOR UPDATE OF e SKIP LOCKED" if lock and backend == "postgresql" else ""
    return f"""
        SELECT e.id, e.flo_id FROM executions e JOIN flos f ON f.id = e.flo_id
        WHERE {_ELIGIBLE_SQL} AND {only_if}
        ORDER BY e.created_at, e.{INSERTION_ORDER[backend]}
        LIMIT 1{locking}
    """


def pg_claim_ctes(only_if: str = "TRUE") -> str:
    """PostgreSQL: the CTEs of a claim in one statement, where SQL ``only_if`` holds.

    ``candidate`` is the oldest execution the runner may take, locked as in claim_next's
    transaction; ``revision`` its flow's latest revision; ``allocated`` the execution once
    allocated to ``:runner_id``. One whose flow has no revision is left unallocated (claim_next's
    transaction fails it). :data:`PG_CLAIM_ROW` reads them.
    """
    return f"""
    candidate AS ({_claim_candidate_sql("postgresql", lock=True, only_if=only_if)}),
    revision AS (
        SELECT r.data FROM revisions r JOIN candidate c ON r.flo_id = c.flo_id
        ORDER BY r.number DESC LIMIT 1
    ),
    allocated AS (
        UPDATE executions SET execution_status = 'allocated', runner_id = :runner_id,
            allocated_at = :now, last_contact_at = :now, updated_at = :now
        FROM candidate
        WHERE executions.id = candidate.id AND executions.execution_status = 'created'
            AND EXISTS (SELECT 1 FROM revision)
        RETURNING {columns(schema.executions.c, "executions")}
    )
    """


# What a claim of pg_claim_ctes gives: the revision's data, the flow (10 columns) and the
# allocated execution (NULLs when nothing was allocated); no row without a candidate.
PG_CLAIM_ROW = """
    SELECT (SELECT data FROM revision), f.id, f.name, f.organisation_id, f.author_id,
           f.environment_id, v.name, f.queue_id, f.created_at, f.execution_count, f.last_run,
           a.*
    FROM candidate c JOIN flos f ON f.id = c.flo_id
    LEFT JOIN environments v ON v.id = f.environment_id
    LEFT JOIN allocated a ON a.id = c.id
"""

# PostgreSQL: the claim in one statement (docs/benchmarks.md, "two replicas"). Every statement
# is a round trip from the replica's event loop, and BEGIN, the five statements of the
# transaction of claim_next and COMMIT were seven of them.
_PG_SQL_CLAIM = f"WITH {pg_claim_ctes()} {PG_CLAIM_ROW}"


def claimed_from(row: Sequence[Any]) -> ClaimedExecution | None:
    """The execution a :data:`PG_CLAIM_ROW` row allocated, None when it allocated none."""
    if row[11] is None:
        return None
    return ClaimedExecution(
        execution=execution_from(row[11:]), flo=flo_from(row[1:11]), revision_data=load(row[0])
    )


_SQL_FLO_BY_ID = """
    SELECT f.id, f.name, f.organisation_id, f.author_id, f.environment_id, v.name, f.queue_id,
           f.created_at, f.execution_count, f.last_run
    FROM flos f LEFT JOIN environments v ON v.id = f.environment_id WHERE f.id = ?
"""

_SQL_LATEST_REVISION = "SELECT data FROM revisions WHERE flo_id = ? ORDER BY number DESC LIMIT 1"

_SQL_FAIL_UNRUNNABLE = """
    UPDATE executions SET execution_status = 'executed', completion_status = 'fail',
        completion_reason = 'flow or revision missing', completed_at = :now, updated_at = :now
    WHERE id = :execution_id
"""

_SQL_ALLOCATE = """
    UPDATE executions SET execution_status = 'allocated', runner_id = :runner_id,
        allocated_at = :now, last_contact_at = :now, updated_at = :now
    WHERE id = :execution_id AND execution_status = 'created'
"""

_SQL_EXECUTION_BY_ID = (
    f"SELECT {columns(schema.executions.c, 'e')} FROM executions e WHERE e.id = ?"
)


class ClaimQueries:
    """Claims: the oldest execution a runner may take, its release, and dispatch targets."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql_claim_candidate = _claim_candidate_sql(db.backend, lock=True)
        self._sql_any_candidate = _claim_candidate_sql(db.backend, lock=False)

    def claim_next(self, runner_id: str, now_s: float) -> ClaimedExecution | None:
        """Claim the oldest eligible execution for this runner in one transaction (§8.1 A2).

        Executions whose flow has no revision are failed with a reason and skipped. On SQLite
        an empty answer comes from a read, without a write transaction; callers register for
        wake-ups before claiming, so an execution committed just after that read is not missed.
        (On PostgreSQL the claim is one statement, which finds nothing as cheaply as the read.)
        """
        if self._db.backend == "postgresql":
            parameters = {"runner_id": runner_id, "now": now_s}
            row = self._db.raw().execute(_PG_SQL_CLAIM, parameters).fetchone()
            if row is None:
                return None
            claimed = claimed_from(row)
            if claimed is not None:
                return claimed
        elif not self.has_candidate(runner_id):
            return None
        with self._db.raw_write() as db:
            while True:
                candidate = db.execute(
                    self._sql_claim_candidate, {"runner_id": runner_id}
                ).fetchone()
                if candidate is None:
                    return None
                execution_id, flo_id = candidate
                flo_row = db.execute(_SQL_FLO_BY_ID, (flo_id,)).fetchone()
                revision = db.execute(_SQL_LATEST_REVISION, (flo_id,)).fetchone()
                if flo_row is None or revision is None:
                    db.execute(_SQL_FAIL_UNRUNNABLE, {"execution_id": execution_id, "now": now_s})
                    continue
                db.execute(
                    _SQL_ALLOCATE,
                    {"execution_id": execution_id, "runner_id": runner_id, "now": now_s},
                )
                claimed = db.execute(_SQL_EXECUTION_BY_ID, (execution_id,)).fetchone()
                return ClaimedExecution(
                    execution=execution_from(claimed),
                    flo=flo_from(flo_row),
                    revision_data=load(revision[0]),
                )

    def has_candidate(self, runner_id: str) -> bool:
        """True when some execution is currently claimable by this runner."""
        db = self._db.raw()
        return db.execute(self._sql_any_candidate, {"runner_id": runner_id}).fetchone() is not None

    def release_claim(self, execution_id: str, runner_id: str, now_s: float) -> bool:
        """Undo a claim whose 200 could not be delivered (guarded: still allocated to us)."""
        with self._db.write() as conn:
            result = conn.execute(
                update(schema.executions)
                .where(
                    schema.executions.c.id == execution_id,
                    schema.executions.c.runner_id == runner_id,
                    schema.executions.c.execution_status == "allocated",
                    schema.executions.c.completion_status == "pending",
                )
                .values(
                    execution_status="created",
                    runner_id=None,
                    allocated_at=None,
                    last_contact_at=None,
                    updated_at=now_s,
                )
            )
            return bool(result.rowcount)

    def dispatch_target(self, execution_id: str) -> DispatchTarget | None:
        """Which runners may take this execution."""
        with self._db.read() as conn:
            row = (
                conn.execute(
                    select(schema.flos.c.queue_id, schema.executions.c.organisation_id)
                    .join(schema.flos, schema.flos.c.id == schema.executions.c.flo_id)
                    .where(schema.executions.c.id == execution_id)
                )
            ).first()
        return None if row is None else DispatchTarget(row.queue_id, row.organisation_id or "")

    def claimable_targets_since(self, since_s: float) -> set[DispatchTarget]:
        """Targets of ``created``/``pending`` executions created, resumed or released since."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(schema.flos.c.queue_id, schema.executions.c.organisation_id)
                .join(schema.flos, schema.flos.c.id == schema.executions.c.flo_id)
                .where(
                    schema.executions.c.execution_status == "created",
                    schema.executions.c.completion_status == "pending",
                    schema.executions.c.updated_at >= since_s,
                )
            )
            return {DispatchTarget(row.queue_id, row.organisation_id or "") for row in rows}

    def pending_per_queue(self) -> dict[str, int]:
        """Per queue name, how many ``created``/``pending`` executions it could serve."""
        with self._db.read() as conn:
            rows = conn.execute(_PENDING_PER_QUEUE)
            return {row[0]: int(row[1]) for row in rows}
