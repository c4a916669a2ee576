"""Replay protection: the signature nonces seen recently, per key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from flomation.server.store import schema
from flomation.server.store.database import Database, RawConnection
from flomation.server.store.types import ReplayedNonceError, SignatureNonce

__all__ = ["PG_NONCE_CTES", "NonceQueries", "check_fresh", "nonce_parameters", "record_nonce"]

_SQL_REMEMBER_NONCE = (
    "INSERT INTO nonces (key_id, nonce, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)

# PostgreSQL: the first CTEs of a runner call's statement, which record the request's nonce
# (types.SignatureNonce) with the call's write instead of in a statement and commit of its own.
# ``fresh`` is true when the nonce is new (or there is none): the statement's writes are
# conditioned on it, and it returns it. A concurrent statement inserting the same nonce waits
# for this one's commit, then finds it seen.
PG_NONCE_CTES = """
    nonce AS (
        INSERT INTO nonces (key_id, nonce, seen_at)
        SELECT CAST(:nonce_key_id AS text), CAST(:nonce AS text),
            CAST(:nonce_seen_at AS double precision)
        WHERE CAST(:nonce AS text) IS NOT NULL
        ON CONFLICT DO NOTHING RETURNING 1
    ),
    fresh AS (SELECT CAST(:nonce AS text) IS NULL OR EXISTS (SELECT 1 FROM nonce) AS fresh)
"""


def nonce_parameters(nonce: SignatureNonce | None) -> dict[str, Any]:
    """The parameters :data:`PG_NONCE_CTES` takes."""
    if nonce is None:
        return {"nonce_key_id": None, "nonce": None, "nonce_seen_at": None}
    return {"nonce_key_id": nonce.key_id, "nonce": nonce.nonce, "nonce_seen_at": nonce.seen_at_s}


def check_fresh(fresh: bool, nonce: SignatureNonce | None) -> None:
    """ReplayedNonceError when a statement with :data:`PG_NONCE_CTES` found its nonce seen."""
    if not fresh and nonce is not None:
        raise ReplayedNonceError(nonce.refusal)


def record_nonce(db: RawConnection, nonce: SignatureNonce | None) -> None:
    """Record ``nonce`` in a statement of its own; ReplayedNonceError when it was seen before."""
    if nonce is None:
        return
    parameters = (nonce.key_id, nonce.nonce, nonce.seen_at_s)
    if db.execute(_SQL_REMEMBER_NONCE, parameters).rowcount != 1:
        raise ReplayedNonceError(nonce.refusal)


class NonceQueries:
    """The signature nonces seen recently, per key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def remember_nonce(self, key_id: str, nonce: str, now_s: float) -> bool:
        """Record a v2 nonce for a key; False when it was already seen (a replay).

        One statement in its own implicit transaction: on PostgreSQL, BEGIN and COMMIT around
        it were two more round trips on every signed request.
        """
        db = self._db.raw()
        return db.execute(_SQL_REMEMBER_NONCE, (key_id, nonce, now_s)).rowcount == 1

    def forget_nonces_before(self, cutoff_s: float) -> int:
        """Drop nonces older than the retention window; returns how many."""
        with self._db.write() as conn:
            result = conn.execute(delete(schema.nonces).where(schema.nonces.c.seen_at < cutoff_s))
            return int(result.rowcount)
