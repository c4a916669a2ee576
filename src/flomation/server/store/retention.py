"""Retention: finished executions and their logs pruned by age, and logs by total size.

Pruning runs in small transactions (a few thousand rows each), so the writes of runners'
requests interleave with it instead of waiting behind one long delete. One replica at a time
prunes (``Database.only_one``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.engine import Connection

from flomation.server.store import schema
from flomation.server.store.database import Database

__all__ = ["PruneBatch", "RetentionQueries"]

_FINISHED = "executed"
# Finished executions considered per transaction (their log lines are bounded separately).
_EXECUTIONS_PER_BATCH = 500


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


def _without_flush_wait(db: Database, conn: Connection) -> None:
    """PostgreSQL: this transaction's commit does not wait for its WAL to reach the disk.

    A prune of a large backlog commits thousands of batches; waiting for each flush would
    queue the runners' commits behind them. A batch lost in a crash is only pruned again.
    """
    if db.backend == "postgresql":
        conn.execute(text("SET LOCAL synchronous_commit TO OFF"))


class RetentionQueries:
    """Deletes what the retention settings no longer keep."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def prune_finished_before(self, cutoff_s: float, max_lines: int) -> PruneBatch:
        """Remove finished executions created before ``cutoff_s``, oldest first, with their logs.

        At most ``max_lines`` log lines go per call; an execution whose log is longer loses its
        newest lines first, over several calls, and goes itself in the call that empties it.
        """
        executions = schema.executions
        with self._db.write() as conn:
            if not self._db.only_one(conn, "prune"):
                return PruneBatch()
            _without_flush_wait(self._db, conn)
            rows = conn.execute(
                select(executions.c.id, executions.c.log_seq, executions.c.log_bytes)
                .where(executions.c.execution_status == _FINISHED)
                .where(executions.c.created_at < cutoff_s)
                .order_by(executions.c.created_at)
                .limit(_EXECUTIONS_PER_BATCH)
            ).all()
            doomed: list[str] = []
            lines = freed_bytes = 0
            for execution_id, log_seq, log_bytes in rows:
                if lines + log_seq > max_lines:
                    if not doomed:
                        return self._shorten(conn, execution_id, log_seq, max_lines)
                    break
                doomed.append(execution_id)
                lines += log_seq
                freed_bytes += log_bytes
            if not doomed:
                return PruneBatch()
            logs = conn.execute(
                delete(schema.execution_logs).where(
                    schema.execution_logs.c.execution_id.in_(doomed)
                )
            )
            # The delivery guarantees' rows (store/delivery.py) go with their execution.
            for table in (schema.log_batch_keys, schema.sealed_logs, schema.claim_lapses):
                conn.execute(delete(table).where(table.c.execution_id.in_(doomed)))
            conn.execute(delete(executions).where(executions.c.id.in_(doomed)))
            return PruneBatch(len(doomed), int(logs.rowcount), freed_bytes)

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
            _without_flush_wait(self._db, conn)
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
