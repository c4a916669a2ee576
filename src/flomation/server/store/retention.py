"""Retention: finished executions and their logs pruned by age, and logs by total size.

Pruning runs in small transactions (a few thousand rows each), so the writes of runners'
requests interleave with it instead of waiting behind one long delete. One replica at a time
prunes (``Database.only_one``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.engine import Connection

from flomation.server.store import schema
from flomation.server.store.database import Database

__all__ = ["PruneBatch", "RetentionQueries"]

_FINISHED = "executed"
# Finished executions considered per transaction (their log lines are bounded separately).
_EXECUTIONS_PER_BATCH = 500

# A batch is chosen and deleted in SQL, never handled as a list of ids in Python: bound as 500
# parameters a statement, the ids cost ~17 ms of a replica's CPU per batch in SQLAlchemy's
# rendering and psycopg's parsing, holding the GIL the replica's event loop needs to serve
# requests (docs/benchmarks.md, "two replicas", the prune's slow requests).
#
# The oldest finished executions created before :cutoff, each with the log lines of it and of
# those before it; a batch is the ones whose lines fit in :max_lines.
_OLDEST = f"""
    SELECT id, log_seq, log_bytes, created_at,
           SUM(log_seq) OVER (ORDER BY created_at, id) AS lines_through
    FROM (
        SELECT id, log_seq, log_bytes, created_at FROM executions
        WHERE execution_status = '{_FINISHED}' AND created_at < :cutoff
        ORDER BY created_at LIMIT :executions
    ) AS oldest
"""
_DOOMED = "SELECT id, log_bytes FROM batch WHERE lines_through <= :max_lines"
_OLDEST_ONE = "SELECT id, log_seq FROM batch ORDER BY created_at, id LIMIT 1"
# Where a batch's rows are, the execution last; the delivery guarantees' rows
# (store/delivery.py) go with their execution.
_BATCH_ROWS = (
    (schema.execution_logs.name, "execution_id"),
    *(
        (t.name, "execution_id")
        for t in (schema.log_batch_keys, schema.sealed_logs, schema.claim_lapses)
    ),
    (schema.executions.name, "id"),
)

# PostgreSQL: a batch in one statement, on one snapshot. It returns the executions deleted, the
# bytes of log they held, the log lines deleted, and the oldest execution with its lines (the
# one to shorten when not even it fits).
_PG_DELETES = ", ".join(
    f"gone_{table} AS (DELETE FROM {table} USING doomed WHERE {table}.{key} = doomed.id"
    " RETURNING doomed.log_bytes)"
    for table, key in _BATCH_ROWS
)
_PG_PRUNE = text(
    f"""
    WITH batch AS ({_OLDEST}),
    doomed AS ({_DOOMED}),
    {_PG_DELETES}
    SELECT (SELECT COUNT(*) FROM gone_executions),
           (SELECT COALESCE(SUM(log_bytes), 0) FROM gone_executions),
           (SELECT COUNT(*) FROM gone_execution_logs), oldest_one.id, oldest_one.log_seq
    FROM (SELECT 1) AS one LEFT JOIN ({_OLDEST_ONE}) AS oldest_one ON TRUE
    """
)
_PG_BATCH_SETTINGS = text(
    "SELECT set_config('synchronous_commit', 'off', true),"
    " set_config('enable_bitmapscan', 'off', true)"
)
# SQLite (no DELETE inside WITH): the same batch as statements of its write transaction, which no
# other writer interleaves with.
_SQLITE_DOOMED = f"WITH batch AS ({_OLDEST}) {_DOOMED}"
_SQLITE_TOTALS = text(f"SELECT COUNT(*), COALESCE(SUM(log_bytes), 0) FROM ({_SQLITE_DOOMED})")
_SQLITE_OLDEST_ONE = text(f"WITH batch AS ({_OLDEST}) {_OLDEST_ONE}")
_SQLITE_DELETES = tuple(
    text(f"DELETE FROM {table} WHERE {key} IN (SELECT id FROM ({_SQLITE_DOOMED}))")
    for table, key in _BATCH_ROWS
)


@dataclass(frozen=True)
class PruneBatch:
    """What one pruning transaction removed; all zero when there was nothing (left) to do."""

    executions: int = 0
    log_lines: int = 0
    log_bytes: int = 0

    @property
    def empty(self) -> bool:
        """True when the batch removed nothing."""
        return not (self.executions or self.log_lines)


def _batch_settings(db: Database, conn: Connection) -> None:
    """PostgreSQL: how this transaction runs, for a batch of a possibly large backlog.

    Its commit does not wait for its WAL to reach the disk: a prune of a large backlog commits
    thousands of batches, and waiting for each flush would queue the runners' commits behind
    them (a batch lost in a crash is only pruned again). And the oldest rows are found by
    walking the (status, created_at) index in order, stopping after a batch: with statistics
    that undercount the finished executions (a table never analysed, as when autovacuum is
    off), the planner would rather collect every one of them in a bitmap and sort them, for
    each batch (~75 ms of PostgreSQL's time per batch with 200,000 of them).
    """
    if db.backend == "postgresql":
        conn.execute(_PG_BATCH_SETTINGS)


def _sqlite_prune(conn: Connection, bounds: dict[str, float]) -> tuple[int, int, int, Any, Any]:
    """What ``_PG_PRUNE`` does and returns, in SQLite's write transaction."""
    executions, log_bytes = conn.execute(_SQLITE_TOTALS, bounds).one()
    if not executions:
        oldest = conn.execute(_SQLITE_OLDEST_ONE, bounds).first()
        return (0, 0, 0, *(oldest or (None, None)))
    lines = conn.execute(_SQLITE_DELETES[0], bounds).rowcount
    for statement in _SQLITE_DELETES[1:]:
        conn.execute(statement, bounds)
    return executions, log_bytes, lines, None, None


class RetentionQueries:
    """Deletes what the retention settings no longer keep."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def prune_finished_before(self, cutoff_s: float, max_lines: int) -> PruneBatch:
        """Remove finished executions created before ``cutoff_s``, oldest first, with their logs.

        At most ``max_lines`` log lines go per call; an execution whose log is longer loses its
        newest lines first, over several calls, and goes itself in the call that empties it.
        """
        bounds = {"cutoff": cutoff_s, "executions": _EXECUTIONS_PER_BATCH, "max_lines": max_lines}
        with self._db.write() as conn:
            if not self._db.only_one(conn, "prune"):
                return PruneBatch()
            _batch_settings(self._db, conn)
            if self._db.backend == "postgresql":
                executions, log_bytes, lines, oldest_id, oldest_lines = conn.execute(
                    _PG_PRUNE, bounds
                ).one()
            else:
                executions, log_bytes, lines, oldest_id, oldest_lines = _sqlite_prune(conn, bounds)
            if executions:
                return PruneBatch(executions, lines, log_bytes)
            if oldest_id is None:
                return PruneBatch()
            # Not even the oldest execution's log fits in a batch.
            return self._shorten(conn, oldest_id, oldest_lines, max_lines)

    def _shorten(
        self, conn: Connection, execution_id: str, log_seq: int, max_lines: int
    ) -> PruneBatch:
        """Drop the newest ``max_lines`` lines of one long log (its execution goes later)."""
        keep_up_to = log_seq - max_lines
        logs = conn.execute(
            delete(schema.execution_logs).where(
                schema.execution_logs.c.execution_id == execution_id,
                schema.execution_logs.c.seq > keep_up_to,
            )
        )
        conn.execute(
            update(schema.executions)
            .where(schema.executions.c.id == execution_id)
            .values(log_seq=keep_up_to)
        )
        return PruneBatch(log_lines=int(logs.rowcount))

    def total_log_bytes(self) -> int:
        """Bytes of log stored over every execution (as counted against each one's cap)."""
        with self._db.read() as conn:
            total = select(func.coalesce(func.sum(schema.executions.c.log_bytes), 0))
            return int(conn.execute(total).scalar_one())

    def drop_oldest_logs(self, max_lines: int) -> PruneBatch:
        """Delete the log of the oldest finished execution that has one (at most ``max_lines``).

        The execution stays, with ``log_bytes`` 0 once its whole log is gone and
        ``log_truncated`` set, so viewers can tell the log was dropped.
        """
        executions = schema.executions
        with self._db.write() as conn:
            if not self._db.only_one(conn, "prune"):
                return PruneBatch()
            _batch_settings(self._db, conn)
            row = conn.execute(
                select(executions.c.id, executions.c.log_seq, executions.c.log_bytes)
                .where(and_(executions.c.execution_status == _FINISHED, executions.c.log_bytes > 0))
                .order_by(executions.c.created_at)
                .limit(1)
            ).first()
            if row is None:
                return PruneBatch()
            execution_id, log_seq, log_bytes = row
            if log_seq > max_lines:
                return self._shorten(conn, execution_id, log_seq, max_lines)
            logs = conn.execute(
                delete(schema.execution_logs).where(
                    schema.execution_logs.c.execution_id == execution_id
                )
            )
            conn.execute(
                update(executions)
                .where(executions.c.id == execution_id)
                .values(log_bytes=0, log_seq=0, log_truncated=True)
            )
            return PruneBatch(log_lines=int(logs.rowcount), log_bytes=log_bytes)
