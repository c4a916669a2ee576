"""Dashboard sessions: one row per signed-in browser, shared by every server on the database.

A row is keyed by the SHA-256 of the session's cookie value, so reading the database (or a
backup of it) gives no cookie that opens the dashboard. Sessions idle longer than their limit
are refused at once and deleted by the retention pass.
"""

from __future__ import annotations

import hashlib

from flomation.server.store.database import Database

__all__ = ["SessionQueries", "session_key"]

_SQL_CREATE = (
    "INSERT INTO dashboard_sessions (id_hash, csrf, created_at, last_seen_at) VALUES (?, ?, ?, ?)"
)
# One statement: the session is used (its idle clock restarts) only while it is still live.
_SQL_USE = """
    UPDATE dashboard_sessions SET last_seen_at = :now
    WHERE id_hash = :id_hash AND last_seen_at >= :idle_since
    RETURNING csrf
"""
_SQL_END = "DELETE FROM dashboard_sessions WHERE id_hash = ?"
_SQL_FORGET_IDLE = "DELETE FROM dashboard_sessions WHERE last_seen_at < ?"


def session_key(session_id: str) -> str:
    """What the database holds of a session's cookie value."""
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class SessionQueries:
    """Dashboard sessions by the hash of their cookie value."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_session(self, session_id: str, csrf: str, now_s: float) -> None:
        """Record a new session."""
        self._db.raw().execute(_SQL_CREATE, (session_key(session_id), csrf, now_s, now_s))

    def use_session(self, session_id: str, now_s: float, idle_s: float) -> str | None:
        """The CSRF token of the live session (its idle clock restarts), else None."""
        key = session_key(session_id)
        parameters = {"id_hash": key, "now": now_s, "idle_since": now_s - idle_s}
        # fetchall: SQLite commits a statement with RETURNING once it has stepped to its end.
        rows = self._db.raw().execute(_SQL_USE, parameters).fetchall()
        return str(rows[0][0]) if rows else None

    def end_session(self, session_id: str) -> None:
        """Sign out: the cookie value no longer opens anything."""
        self._db.raw().execute(_SQL_END, (session_key(session_id),))

    def forget_sessions_idle_since(self, cutoff_s: float) -> int:
        """Delete the sessions unused since ``cutoff_s``; how many."""
        return self._db.raw().execute(_SQL_FORGET_IDLE, (cutoff_s,)).rowcount
