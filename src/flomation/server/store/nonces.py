"""Replay protection: the signature nonces seen recently, per key."""

from __future__ import annotations

from sqlalchemy import delete

from flomation.server.store import schema
from flomation.server.store.database import Database

__all__ = ["NonceQueries"]

_SQL_REMEMBER_NONCE = (
    "INSERT INTO nonces (key_id, nonce, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)


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
