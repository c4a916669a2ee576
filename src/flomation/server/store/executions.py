"""Executions through their lifecycle: create, run, finish, cancel, resume, reap.

How an execution is claimed and whom it wakes is claims.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.engine import Connection

from flomation.server.records import (
    DispatchTarget,
    ExecutionCall,
    ExecutionRecord,
)
from flomation.server.store import schema
from flomation.server.store.claims import INSERTION_ORDER
from flomation.server.store.database import Database, RawConnection
from flomation.server.store.nonces import (
    PG_NONCE_CTES,
    check_fresh,
    nonce_parameters,
    record_nonce,
)
from flomation.server.store.rows import (
    columns,
    dump,
    execution_from,
    load,
    new_id,
    runner_from,
)
from flomation.server.store.types import (
    CancelOutcome,
    ExecutionFilter,
    NotAssignedError,
    ReapedExecution,
    ResultOutcome,
    ResumeOutcome,
    SignatureNonce,
)

__all__ = ["ExecutionQueries", "touch"]

_IN_PROGRESS = ("allocated", "running")

_TERMINAL = ("success", "fail", "cancel", "timeout")

_EXECUTION_BY_ID = select(schema.executions).where(
    schema.executions.c.id == bindparam("b_execution_id")
)

_SQL_EXECUTION_CALL = f"""
    SELECT e.id, e.flo_id, e.execution_status, e.completion_status,
           {columns(schema.RUNNER_RECORD_COLUMNS, "r")}
    FROM executions e LEFT JOIN runners r ON r.id = e.runner_id WHERE e.id = ?
"""

# Guarded by the runner: a call is contact only from the runner the execution is assigned to
# (a touch is what keeps a claim's lease from lapsing, docs/protocol.md §11.1).
_SQL_TOUCH_EXECUTION = "UPDATE executions SET last_contact_at = ? WHERE id = ? AND runner_id = ?"

_SQL_TOUCH_RUNNER = "UPDATE runners SET last_contact_at = ? WHERE id = ?"

# PostgreSQL: the request's nonce and both touches in one statement, without a transaction of
# its own (one round trip instead of five), returning the execution's status when it is the
# runner's (no row is joined otherwise).
_PG_SQL_TOUCH = f"""
    WITH {PG_NONCE_CTES},
    runner AS (
        UPDATE runners SET last_contact_at = :now
        WHERE id = :runner_id AND (SELECT fresh FROM fresh)
    ),
    execution AS (
        UPDATE executions SET last_contact_at = :now
        WHERE id = :execution_id AND runner_id = :runner_id AND (SELECT fresh FROM fresh)
        RETURNING execution_status, completion_status
    )
    SELECT fresh.fresh, e.execution_status, e.completion_status
    FROM fresh LEFT JOIN execution e ON TRUE
"""

_SQL_STATUS_OF_ASSIGNED = (
    "SELECT execution_status, completion_status FROM executions WHERE id = ? AND runner_id = ?"
)

# PostgreSQL: the common result (a pending execution completed) in one statement with the
# request's nonce and both touches; anything else (suspension, a repeated result) goes through
# store_result's transaction. The runner is touched either way, as there, unless the nonce was
# seen before.
_PG_SQL_COMPLETE = f"""
    WITH {PG_NONCE_CTES},
    completed AS (
        UPDATE executions SET execution_status = 'executed', completion_status = :completion,
            completion_reason = NULL, result = :result, completed_at = :now, updated_at = :now,
            last_contact_at = :now
        WHERE id = :execution_id AND runner_id = :runner_id AND completion_status = 'pending'
            AND execution_status IN ('allocated', 'running') AND (SELECT fresh FROM fresh)
        RETURNING id
    ),
    runner AS (
        UPDATE runners SET last_contact_at = :now
        WHERE id = :runner_id AND (SELECT fresh FROM fresh)
    )
    SELECT (SELECT fresh FROM fresh), count(*) FROM completed
"""

_SQL_RESULT_STATE = (
    "SELECT execution_status, completion_status, result, runner_id FROM executions WHERE id = ?"
)

_SQL_SUSPEND = """
    UPDATE executions SET execution_status = 'suspended', completion_status = 'suspended',
        result = :result, checkpoint = :checkpoint, suspend_count = suspend_count + 1,
        updated_at = :now
    WHERE id = :execution_id
"""

_SQL_COMPLETE = """
    UPDATE executions SET execution_status = 'executed', completion_status = :completion,
        completion_reason = :reason, result = :result, completed_at = :now, updated_at = :now
    WHERE id = :execution_id
"""

_SQL_ADD_RESULT = "UPDATE executions SET result = ?, updated_at = ? WHERE id = ?"

_SQL_FLO_FOR_EXECUTE = (
    "SELECT name, organisation_id, queue_id, execution_count FROM flos WHERE id = ?"
)

_SQL_INSERT_EXECUTION = """
    INSERT INTO executions (
        id, flo_id, name, owner_id, organisation_id, sequence, trigger_type, entry_node_id, data,
        execution_status, completion_status, suspend_count, created_at, updated_at,
        log_bytes, log_truncated, log_seq
    ) VALUES (
        :id, :flo_id, :name, :owner_id, :organisation_id, :sequence, 'manual', :entry_node_id,
        :data, 'created', 'pending', 0, :now, :now, 0, FALSE, 0
    )
"""

_SQL_COUNT_EXECUTION = "UPDATE flos SET execution_count = ?, last_run = ? WHERE id = ?"


def _is_pending(status: str, completion: str) -> bool:
    return completion == "pending" and status in ("created", "allocated", "running")


def touch(db: RawConnection, execution_id: str, runner_id: str, now_s: float) -> None:
    db.execute(_SQL_TOUCH_EXECUTION, (now_s, execution_id, runner_id))
    db.execute(_SQL_TOUCH_RUNNER, (now_s, runner_id))


def _completion(has_errored: bool, cancelled: bool) -> str:
    """The completion status of a result that is not a suspension (T6)."""
    if cancelled:
        return "cancel"
    return "fail" if has_errored else "success"


def _update_execution(conn: Connection, execution_id: str, **values: Any) -> ExecutionRecord:
    """Set ``values`` on the execution (an operator's cancel or resume) and return it as stored."""
    conn.execute(
        update(schema.executions).where(schema.executions.c.id == execution_id).values(**values)
    )
    return execution_from(conn.execute(_EXECUTION_BY_ID, {"b_execution_id": execution_id}).one())


class ExecutionQueries:
    """Executions through their lifecycle: create, run, finish, cancel, resume, reap."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._insertion_order = text(f"executions.{INSERTION_ORDER[db.backend]} DESC")

    def create_execution(
        self,
        flo_id: str,
        *,
        data: Any,
        entry_node_id: str | None,
        owner_id: str,
        now_s: float,
    ) -> tuple[str, DispatchTarget] | None:
        """A ``created``/``pending`` execution (T1); None for an unknown flow."""
        with self._db.raw_write() as db:
            flo = db.execute(_SQL_FLO_FOR_EXECUTE, (flo_id,)).fetchone()
            if flo is None:
                return None
            name, organisation_id, queue_id, execution_count = flo
            execution_id = new_id()
            sequence = execution_count + 1
            db.execute(
                _SQL_INSERT_EXECUTION,
                {
                    "id": execution_id,
                    "flo_id": flo_id,
                    "name": name,
                    "owner_id": owner_id,
                    "organisation_id": organisation_id,
                    "sequence": sequence,
                    "entry_node_id": entry_node_id,
                    "data": dump(data),
                    "now": now_s,
                },
            )
            db.execute(_SQL_COUNT_EXECUTION, (sequence, now_s, flo_id))
        return execution_id, DispatchTarget(queue_id, organisation_id or "")

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        """The execution with this id."""
        with self._db.read() as conn:
            row = conn.execute(_EXECUTION_BY_ID, {"b_execution_id": execution_id}).first()
        return None if row is None else execution_from(row)

    def execution_call(self, execution_id: str) -> ExecutionCall | None:
        """The execution's status and assigned runner, in one read (None when unknown)."""
        row = self._db.raw().execute(_SQL_EXECUTION_CALL, (execution_id,)).fetchone()
        if row is None:
            return None
        runner = None if row[4] is None else runner_from(row[4:])
        return ExecutionCall(row[0], row[1], row[2], row[3], runner)

    def list_executions(self, where: ExecutionFilter) -> list[ExecutionRecord]:
        """Executions matching the filter, newest first."""
        query = select(schema.executions)
        if where.flo_id is not None:
            query = query.where(schema.executions.c.flo_id == where.flo_id)
        if where.execution_status is not None:
            query = query.where(schema.executions.c.execution_status == where.execution_status)
        if where.completion_status is not None:
            query = query.where(schema.executions.c.completion_status == where.completion_status)
        query = query.order_by(schema.executions.c.created_at.desc(), self._insertion_order)
        with self._db.read() as conn:
            rows = conn.execute(query.limit(where.limit))
            return [execution_from(row) for row in rows]

    def touch_execution(
        self,
        execution_id: str,
        runner_id: str,
        now_s: float,
        nonce: SignatureNonce | None = None,
    ) -> tuple[str, str] | None:
        """Record runner contact on the runner and, while it is assigned to that runner, on the
        execution (§8.1), and the request's ``nonce``; ReplayedNonceError, without a touch, for
        a nonce seen before.

        Returns the execution's (execution_status, completion_status) while it is assigned to
        ``runner_id``, None otherwise (the cancellation poll's answer, §4.5).
        """
        if self._db.backend == "postgresql":
            parameters = {
                "execution_id": execution_id,
                "runner_id": runner_id,
                "now": now_s,
                **nonce_parameters(nonce),
            }
            fresh, status, completion = self._db.raw().execute(_PG_SQL_TOUCH, parameters).fetchone()
            check_fresh(fresh, nonce)
            return None if status is None else (status, completion)
        record_nonce(self._db.raw(), nonce)
        with self._db.raw_write() as db:
            touch(db, execution_id, runner_id, now_s)
            row = db.execute(_SQL_STATUS_OF_ASSIGNED, (execution_id, runner_id)).fetchone()
        return None if row is None else (row[0], row[1])

    def store_result(
        self,
        execution_id: str,
        runner_id: str,
        *,
        has_errored: bool,
        cancelled: bool,
        suspended: bool,
        state: Any,
        now_s: float,
        nonce: SignatureNonce | None = None,
    ) -> ResultOutcome:
        """Apply a runner's result with the guards of 8.2 (T6/T7); idempotent.

        The request's ``nonce`` is recorded with it; ReplayedNonceError, with nothing stored,
        for a nonce seen before. NotAssignedError, with nothing stored, when the execution is
        not assigned to ``runner_id``.
        """
        if self._db.backend == "postgresql" and not suspended:
            parameters = {
                "execution_id": execution_id,
                "runner_id": runner_id,
                "completion": _completion(has_errored, cancelled),
                "result": dump(state),
                "now": now_s,
                **nonce_parameters(nonce),
            }
            fresh, completed = self._db.raw().execute(_PG_SQL_COMPLETE, parameters).fetchone()
            check_fresh(fresh, nonce)
            if completed:
                return ResultOutcome.COMPLETED
            nonce = None  # recorded: the transaction below decides
        record_nonce(self._db.raw(), nonce)
        with self._db.raw_write() as db:
            status, completion_status, stored_result, assigned_to = db.execute(
                _SQL_RESULT_STATE, (execution_id,)
            ).fetchone()
            if assigned_to != runner_id:
                raise NotAssignedError(f"execution {execution_id} is not assigned to this runner")
            touch(db, execution_id, runner_id, now_s)
            if completion_status == "pending" and status in _IN_PROGRESS:
                checkpoint = state.get("checkpoint") if isinstance(state, dict) else None
                if suspended and isinstance(checkpoint, dict):
                    db.execute(
                        _SQL_SUSPEND,
                        {
                            "execution_id": execution_id,
                            "result": dump(state),
                            "checkpoint": dump(checkpoint),
                            "now": now_s,
                        },
                    )
                    return ResultOutcome.SUSPENDED
                reason: str | None = None
                if suspended:
                    completion, reason = "fail", "suspended without checkpoint"
                else:
                    completion = _completion(has_errored, cancelled)
                db.execute(
                    _SQL_COMPLETE,
                    {
                        "execution_id": execution_id,
                        "completion": completion,
                        "reason": reason,
                        "result": dump(state),
                        "now": now_s,
                    },
                )
                return ResultOutcome.COMPLETED
            if completion_status in _TERMINAL and stored_result is None:
                db.execute(_SQL_ADD_RESULT, (dump(state), now_s, execution_id))
                return ResultOutcome.RESULT_ADDED
            return ResultOutcome.UNCHANGED

    def cancel(
        self, execution_id: str, reason: str, now_s: float
    ) -> tuple[CancelOutcome, ExecutionRecord | None]:
        """Operator cancel (T8); a terminal execution is left alone."""
        with self._db.write() as conn:
            row = conn.execute(_EXECUTION_BY_ID, {"b_execution_id": execution_id}).first()
            if row is None:
                return CancelOutcome.NOT_FOUND, None
            cancellable = _is_pending(row.execution_status, row.completion_status) or (
                row.execution_status == "suspended" and row.completion_status == "suspended"
            )
            if not cancellable:
                return CancelOutcome.NOT_IN_PROGRESS, execution_from(row)
            cancelled = _update_execution(
                conn,
                execution_id,
                execution_status="executed",
                completion_status="cancel",
                completion_reason=reason,
                completed_at=now_s,
                updated_at=now_s,
            )
            return CancelOutcome.CANCELLED, cancelled

    def resume(
        self, execution_id: str, resume_data: Any, has_resume_data: bool, now_s: float
    ) -> tuple[ResumeOutcome, ExecutionRecord | None]:
        """Operator resume (T9): back to ``created``/``pending`` with the checkpoint kept.

        ``resume_data`` is stored as the checkpoint's ``resume_data`` (what the executor reads).
        """
        with self._db.write() as conn:
            row = conn.execute(_EXECUTION_BY_ID, {"b_execution_id": execution_id}).first()
            if row is None:
                return ResumeOutcome.NOT_FOUND, None
            if row.execution_status != "suspended" or row.completion_status != "suspended":
                return ResumeOutcome.NOT_SUSPENDED, execution_from(row)
            checkpoint = load(row.checkpoint)
            if has_resume_data:
                checkpoint = dict(checkpoint) if isinstance(checkpoint, dict) else {}
                checkpoint["resume_data"] = resume_data
            resumed = _update_execution(
                conn,
                execution_id,
                execution_status="created",
                completion_status="pending",
                runner_id=None,
                allocated_at=None,
                started_at=None,
                last_contact_at=None,
                checkpoint=dump(checkpoint),
                updated_at=now_s,
            )
            return ResumeOutcome.RESUMED, resumed

    def reap(
        self, now_s: float, runner_lost_after_s: float, execution_timeout_s: float
    ) -> list[ReapedExecution]:
        """Fail executions whose runner went silent; time out those running too long (§8.2).

        An execution its runner never confirmed (no call on it since the claim) is left to the
        claim lease (store/delivery.py): it is offered again, not failed (§11.1).
        """
        executions = schema.executions
        in_progress = and_(
            executions.c.execution_status.in_(_IN_PROGRESS),
            executions.c.completion_status == "pending",
        )
        contact_at = func.coalesce(executions.c.last_contact_at, executions.c.allocated_at)
        confirmed = or_(
            executions.c.execution_status == "running",
            contact_at > executions.c.allocated_at,
        )
        reaped: list[ReapedExecution] = []
        lost_after = round(runner_lost_after_s)
        with self._db.write() as conn:
            if not self._db.only_one(conn, "reap"):
                return reaped

            def finish(where: Any, completion: str, reason: str) -> None:
                ids = conn.execute(select(executions.c.id).where(where)).scalars().all()
                if not ids:
                    return
                conn.execute(
                    update(executions)
                    .where(in_progress, executions.c.id.in_(ids))
                    .values(
                        execution_status="executed",
                        completion_status=completion,
                        completion_reason=reason,
                        completed_at=now_s,
                        updated_at=now_s,
                    )
                )
                reaped.extend(ReapedExecution(id_, completion, reason) for id_ in ids)

            finish(
                and_(in_progress, executions.c.allocated_at < now_s - execution_timeout_s),
                "timeout",
                "execution timeout",
            )
            silent = and_(in_progress, contact_at < now_s - runner_lost_after_s)
            finish(
                and_(silent, executions.c.execution_status == "running"),
                "fail",
                f"runner lost: no contact for {lost_after} s",
            )
            # Called on (logs, status...) but never confirmed with ``state``: the Go runner
            # carries on when its state call fails (§4.3).
            finish(
                and_(silent, executions.c.execution_status == "allocated", confirmed),
                "fail",
                f"runner lost: no contact for {lost_after} s (it never confirmed the "
                "execution running)",
            )
        return reaped
