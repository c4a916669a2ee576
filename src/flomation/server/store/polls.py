"""A runner's poll (docs/protocol.md §4.2): its heartbeat and, while it is active, a first claim.

On PostgreSQL both are one statement: the request's nonce, the heartbeat, the runner's scope and
the claim of the oldest execution it may take, one round trip and one commit instead of two
(docs/benchmarks.md, "Lifecycle throughput"). A poll that claims nothing is then held, and
claims again once registered for wake-ups (routes_runner), so an execution committed after this
first claim looked is not missed.
"""

from __future__ import annotations

from collections.abc import Iterable

from flomation.server.records import ClaimedExecution, RunnerScope
from flomation.server.store.claims import PG_CLAIM_ROW, ClaimQueries, claimed_from, pg_claim_ctes
from flomation.server.store.database import Database
from flomation.server.store.nonces import (
    PG_NONCE_CTES,
    check_fresh,
    nonce_parameters,
    record_nonce,
)
from flomation.server.store.types import SignatureNonce

__all__ = ["PollQueries"]

_SQL_HEARTBEAT = "UPDATE runners SET last_contact_at = ?, ip_address = ? WHERE id = ?"

_SQL_RUNNER_ACTIVE = "SELECT active FROM runners WHERE id = ?"

_SQL_RUNNER_SCOPE = """
    SELECT q.id, q.organisation_id FROM queues q
    JOIN queue_members m ON m.queue_id = q.id WHERE m.runner_id = ?
"""

# PostgreSQL: ``beat`` records the heartbeat when the nonce is new, and returns whether the
# runner is active; the claim's candidate is looked for only then. The runner's scope comes as
# two arrays, for the wake-ups of a poll that claimed nothing. The claim's columns are NULL
# when there was no candidate.
_PG_SQL_POLL = f"""
    WITH {PG_NONCE_CTES},
    beat AS (
        UPDATE runners SET last_contact_at = :now, ip_address = :ip_address
        WHERE id = :runner_id AND (SELECT fresh FROM fresh)
        RETURNING active
    ),
    {pg_claim_ctes(only_if="EXISTS (SELECT 1 FROM beat WHERE active)")},
    scope AS (
        SELECT q.id, q.organisation_id FROM queues q
        JOIN queue_members m ON m.queue_id = q.id AND m.runner_id = :runner_id
    )
    SELECT fresh.fresh, r.active, ARRAY(SELECT id FROM scope),
        ARRAY(SELECT organisation_id FROM scope), claim.*
    FROM fresh
    LEFT JOIN runners r ON r.id = :runner_id
    LEFT JOIN ({PG_CLAIM_ROW}) AS claim ON TRUE
"""


def _scope(rows: Iterable[tuple[str, str | None]]) -> RunnerScope:
    pairs = [(queue_id, organisation_id or "") for queue_id, organisation_id in rows]
    return RunnerScope(frozenset(queue for queue, _ in pairs), frozenset(org for _, org in pairs))


class PollQueries:
    """Runner polls: heartbeat, scope and first claim."""

    def __init__(self, db: Database, claims: ClaimQueries) -> None:
        self._db = db
        self._claims = claims

    def poll(
        self,
        runner_id: str,
        ip_address: str | None,
        now_s: float,
        nonce: SignatureNonce | None = None,
    ) -> tuple[RunnerScope | None, ClaimedExecution | None]:
        """Record a poll (and its signature's ``nonce``) as the runner's heartbeat and claim
        the oldest execution it may take (§8.1 A2).

        Returns the queues and organisations whose executions the runner may take (None while
        it is paused: it claims nothing then) and the claimed execution, if any.
        ReplayedNonceError, with nothing written, for a nonce seen before.
        """
        if self._db.backend == "postgresql":
            parameters = {
                "runner_id": runner_id,
                "ip_address": ip_address,
                "now": now_s,
                **nonce_parameters(nonce),
            }
            row = self._db.raw().execute(_PG_SQL_POLL, parameters).fetchone()
            check_fresh(row[0], nonce)
            if not row[1]:
                return None, None
            claim = row[4:]
            claimed = claimed_from(claim)
            if claimed is None and claim[1] is not None:
                # A candidate whose flow has no revision: claim_next's transaction fails it.
                claimed = self._claims.claim_next(runner_id, now_s)
            return _scope(zip(row[2], row[3], strict=True)), claimed
        record_nonce(self._db.raw(), nonce)
        with self._db.raw_write() as db:
            db.execute(_SQL_HEARTBEAT, (now_s, ip_address, runner_id))
            active = bool(db.execute(_SQL_RUNNER_ACTIVE, (runner_id,)).fetchone()[0])
            rows = db.execute(_SQL_RUNNER_SCOPE, (runner_id,)).fetchall()
        if not active:
            return None, None
        return _scope(rows), self._claims.claim_next(runner_id, now_s)
