"""Execution log lines: appended in batches under a per-execution cap, read back in order."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from flomation.server.store import schema
from flomation.server.store.database import Database
from flomation.server.store.delivery import is_log_sealed, remember_log_batch
from flomation.server.store.executions import touch
from flomation.server.store.nonces import (
    PG_NONCE_CTES,
    check_fresh,
    nonce_parameters,
    record_nonce,
)
from flomation.server.store.types import (
    LogBatch,
    LogBatchError,
    NotAssignedError,
    SignatureNonce,
)

__all__ = ["LogQueries"]

_SQL_LOG_STATE = "SELECT log_bytes, log_truncated, log_seq, runner_id FROM executions WHERE id = ?"

_SQL_INSERT_LOG_LINE = "INSERT INTO execution_logs (execution_id, seq, line) VALUES (?, ?, ?)"

# SQLite: a whole batch in one statement. SQLite walks the request's JSON array itself, which costs
# half the CPU of binding and stepping one INSERT per line (executemany) for 100-byte lines, and
# saves encoding the parsed lines to JSON again.
_SQL_INSERT_LOG_LINES = """
    INSERT INTO execution_logs (execution_id, seq, line)
    SELECT ?1, ?2 + key, value FROM json_each(?3, '$.lines')
    WHERE (SELECT count(*) FROM json_each(?3)) = 1
"""

# PostgreSQL: a batch that fits under the cap in one statement, with the request's nonce,
# instead of a transaction of nine round trips. ``current`` locks the execution's row, as only
# an unsealed, untruncated log with room for the batch, of an execution assigned to the calling
# runner, qualifies; its batch key is recorded, and
# the lines stored, only when the key is new (``stored``); both touches happen either way, unless
# the nonce was seen before (then nothing is written). When ``current`` finds nothing the
# statement changed nothing but the nonce and the runner's contact time, and the transaction
# decides.
_PG_SQL_APPEND = f"""
    WITH {PG_NONCE_CTES},
    current AS (
        SELECT log_bytes, log_seq FROM executions
        WHERE id = :execution_id AND runner_id = :runner_id AND NOT log_truncated
            AND log_bytes + :bytes <= :max_bytes
            AND NOT EXISTS (SELECT 1 FROM sealed_logs WHERE execution_id = :execution_id)
            AND (SELECT fresh FROM fresh)
        FOR UPDATE
    ),
    batch_key AS (
        INSERT INTO log_batch_keys (execution_id, batch_key)
        SELECT :execution_id, CAST(:batch_key AS text) FROM current
        WHERE CAST(:batch_key AS text) IS NOT NULL
        ON CONFLICT DO NOTHING RETURNING 1
    ),
    state AS (
        UPDATE executions SET last_contact_at = :now,
            log_bytes = CASE WHEN stored THEN current.log_bytes + :bytes ELSE current.log_bytes END,
            log_seq = CASE WHEN stored THEN current.log_seq + :count ELSE current.log_seq END
        FROM current, (
            SELECT CAST(:batch_key AS text) IS NULL OR EXISTS (SELECT 1 FROM batch_key) AS stored
        ) AS decision
        WHERE executions.id = :execution_id
        RETURNING current.log_seq AS first_seq, decision.stored
    ),
    stored_lines AS (
        INSERT INTO execution_logs (execution_id, seq, line)
        SELECT :execution_id, state.first_seq + t.number, t.line
        FROM state, unnest(CAST(:lines AS text[])) WITH ORDINALITY AS t(line, number)
        WHERE state.stored
    ),
    runner AS (
        UPDATE runners SET last_contact_at = :now
        WHERE id = :runner_id AND (SELECT fresh FROM fresh)
    )
    SELECT (SELECT fresh FROM fresh), (SELECT count(*) FROM current),
        (SELECT count(*) FROM state WHERE stored)
"""

_SQL_SET_LOG_STATE = (
    "UPDATE executions SET log_bytes = ?, log_seq = ?, log_truncated = ? WHERE id = ?"
)


def _repeats_lines_member(document: str) -> bool:
    """True when the batch's JSON object has ``lines`` more than once (SQLite's insert checks it).

    Outside a key, ``"lines"`` appears unescaped only as a whole string value, so a document
    holding it once needs no parsing.
    """
    if document.count('"lines"') < 2:
        return False
    members: list[str] = []

    def keep_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        members.extend(key for key, _ in pairs)
        return dict(pairs)

    json.loads(document, object_pairs_hook=keep_keys)
    return members.count("lines") > 1


class LogQueries:
    """Execution log lines, appended in batches and read back in order."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append_logs(
        self,
        execution_id: str,
        runner_id: str,
        batch: LogBatch,
        max_log_bytes: int,
        now_s: float,
        nonce: SignatureNonce | None = None,
    ) -> bool:
        """Append a batch under the per-execution cap (§8.3); True when any line was stored.

        When the cap is reached one marker line is stored and later lines are discarded. A
        batch whose key was stored before, or arriving after the live log was sealed, is not
        stored (docs/protocol.md §11.3, §11.4). The request's ``nonce`` is recorded with it;
        ReplayedNonceError, with nothing stored, for a nonce seen before; NotAssignedError, with
        nothing stored, when the execution is not assigned to ``runner_id``.
        """
        lines = batch.lines
        if self._db.backend == "postgresql":
            if _repeats_lines_member(batch.document):
                raise LogBatchError("the body has more than one 'lines' member")
            if lines:
                decided = self._append_in_one_statement(
                    execution_id, runner_id, batch, max_log_bytes, now_s, nonce
                )
                if decided is not None:
                    return decided
                nonce = None  # recorded: the transaction below decides
        record_nonce(self._db.raw(), nonce)
        with self._db.raw_write() as db:
            log_bytes, log_truncated, seq, assigned_to = db.execute(
                _SQL_LOG_STATE, (execution_id,)
            ).fetchone()
            if assigned_to != runner_id:
                raise NotAssignedError(f"execution {execution_id} is not assigned to this runner")
            touch(db, execution_id, runner_id, now_s)
            if log_truncated or not lines or is_log_sealed(db, execution_id):
                return False
            if batch.key is not None and not remember_log_batch(db, execution_id, batch.key):
                return False
            joined = "".join(lines)
            batch_bytes = len(joined.encode("utf-8")) + len(lines)
            # SQLite walks the batch's JSON itself (below); json_each() cuts a string at NUL, so
            # lines holding one go in one by one, as every batch does on PostgreSQL.
            if (
                self._db.backend == "sqlite"
                and log_bytes + batch_bytes <= max_log_bytes
                and "\x00" not in joined
            ):
                cursor = db.execute(_SQL_INSERT_LOG_LINES, (execution_id, seq + 1, batch.document))
                if cursor.rowcount != len(lines):
                    # A parser keeps the last of duplicated keys, SQLite the first (no insert).
                    raise LogBatchError("the body has more than one 'lines' member")
                log_bytes += batch_bytes
                db.execute(_SQL_SET_LOG_STATE, (log_bytes, seq + len(lines), False, execution_id))
                return True
            stored: list[tuple[int, str]] = []
            truncated = False
            for line in lines:
                size = len(line.encode("utf-8")) + 1
                if log_bytes + size > max_log_bytes:
                    seq += 1
                    marker = (
                        f"[flomation-server] log truncated: limit of {max_log_bytes} bytes reached"
                    )
                    stored.append((seq, marker))
                    truncated = True
                    break
                seq += 1
                log_bytes += size
                stored.append((seq, line))
            if self._db.backend == "postgresql":
                # PostgreSQL's text cannot hold NUL: it is stored as U+FFFD.
                stored = [(number, line.replace("\x00", "\ufffd")) for number, line in stored]
            db.executemany(_SQL_INSERT_LOG_LINE, [(execution_id, s, text_) for s, text_ in stored])
            db.execute(_SQL_SET_LOG_STATE, (log_bytes, seq, truncated, execution_id))
            return bool(stored)

    def _append_in_one_statement(
        self,
        execution_id: str,
        runner_id: str,
        batch: LogBatch,
        max_log_bytes: int,
        now_s: float,
        nonce: SignatureNonce | None,
    ) -> bool | None:
        """PostgreSQL: append a batch that fits (True when stored, False for a known key), or
        None when the log is sealed, truncated or too full for it, or the execution is not the
        runner's (the caller decides then);
        ReplayedNonceError for a nonce seen before."""
        lines = batch.lines
        parameters = {
            "execution_id": execution_id,
            "runner_id": runner_id,
            "batch_key": batch.key,
            "bytes": len("".join(lines).encode("utf-8")) + len(lines),
            "count": len(lines),
            "max_bytes": max_log_bytes,
            # PostgreSQL's text cannot hold NUL: it is stored as U+FFFD.
            "lines": [line.replace("\x00", "\ufffd") for line in lines],
            "now": now_s,
            **nonce_parameters(nonce),
        }
        fresh, found, stored = self._db.raw().execute(_PG_SQL_APPEND, parameters).fetchone()
        check_fresh(fresh, nonce)
        return None if not found else bool(stored)

    def read_logs(self, execution_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """Persisted log lines with ``seq > after_seq``, in order."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(schema.execution_logs.c.seq, schema.execution_logs.c.line)
                .where(
                    schema.execution_logs.c.execution_id == execution_id,
                    schema.execution_logs.c.seq > after_seq,
                )
                .order_by(schema.execution_logs.c.seq)
                .limit(limit)
            )
            return [(row.seq, row.line) for row in rows]
