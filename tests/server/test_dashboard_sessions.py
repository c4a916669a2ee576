"""Dashboard sessions and one-time sign-in links (on the store, both backends), and the
dashboard's pure rules."""

from __future__ import annotations

from sqlalchemy import select

from flomation.server.dashboard.pages import node_entries
from flomation.server.dashboard.queries import Cursor, display_status
from flomation.server.dashboard.sessions import (
    LINK_TTL_S,
    SessionStore,
    SignInLinks,
    sign_in_code,
)
from flomation.server.store import Store, schema
from flomation.server.store.sessions import session_key


async def test_sessions_expire_after_being_idle_and_end_on_sign_out(database_url: str) -> None:
    """A session lives while used within the idle limit, and is gone after sign-out."""
    store = await Store.open(database_url)
    try:
        sessions = SessionStore(store, idle_s=60.0)
        session = await sessions.create(1000.0)
        assert await sessions.get(session.id, 1050.0) == session
        assert await sessions.get(session.id, 1100.0) == session  # used at 1050: within 60 s
        assert await sessions.get(session.id, 1161.0) is None
        other = await sessions.create(2000.0)
        await sessions.end(other.id)
        assert await sessions.get(other.id, 2000.0) is None
        assert session.csrf != other.csrf
    finally:
        await store.close()


async def test_the_database_holds_no_usable_session_id_and_forgets_idle_ones(
    database_url: str,
) -> None:
    """Only the id's hash is stored; sessions idle past the cutoff are deleted."""
    store = await Store.open(database_url)
    try:
        sessions = SessionStore(store, idle_s=3600.0)
        idle, used = await sessions.create(0.0), await sessions.create(0.0)
        assert await sessions.get(used.id, 500.0) == used
        assert await store.forget_sessions_idle_since(100.0) == 1
        kept = await store.read(
            lambda conn: conn.execute(select(schema.dashboard_sessions.c.id_hash)).scalars().all()
        )
        assert kept == [session_key(used.id)] and used.id not in kept
        assert await sessions.get(idle.id, 600.0) is None
    finally:
        await store.close()


async def test_sign_in_codes_are_one_time_signed_and_expire(database_url: str) -> None:
    """A code works once, not after its TTL, not with another token, not when altered."""
    store = await Store.open(database_url)
    try:
        links = SignInLinks("token-a", store)
        code = sign_in_code("token-a", 100.0)
        assert await links.redeem(code, 101.0)
        assert not await links.redeem(code, 102.0)
        assert not await links.redeem(sign_in_code("token-a", 100.0), 100.0 + LINK_TTL_S + 1)
        assert not await links.redeem(sign_in_code("token-b", 100.0), 101.0)
        genuine = sign_in_code("token-a", 100.0)
        expiry, nonce, mac = genuine.split(".")
        assert not await links.redeem(f"{int(expiry) + 60}.{nonce}.{mac}", 101.0)
        for garbage in ("", "...", "x.y.z", "1." + "0" * 32 + "." + "0" * 64):
            assert not await links.redeem(garbage, 101.0)
    finally:
        await store.close()


def test_display_status_names_the_state_a_person_filters_by() -> None:
    """Pending executions show where they are; finished ones show their outcome."""
    assert display_status("created", "pending") == "queued"
    assert display_status("running", "pending") == "running"
    assert display_status("suspended", "suspended") == "suspended"
    assert display_status("executed", "fail") == "fail"


def test_page_cursors_round_trip_and_reject_garbage() -> None:
    """A cursor survives the URL; a malformed one parses as None."""
    cursor = Cursor(1796591378.2732677, "6f1d0c9e-0000-4000-8000-000000000001")
    assert Cursor.parse(cursor.text()) == cursor
    for garbage in ("nonsense", "nan_1", "inf_1", "1.5_²", "1.5_", "1.5_a b", "1.5_" + "a" * 65):
        assert Cursor.parse(garbage) is None, garbage


def test_node_timeline_runs_in_event_order_with_stored_results_winning() -> None:
    """Nodes are listed in the order they first ran; a stored node result beats its events."""
    events = [
        '__NODE__:{"id":"b","action":"y","label":"B","status":"running"}',
        "__NODE__:not json",
        '__NODE__:{"id":"a","action":"x","label":"A","status":"running"}',
        '__NODE__:{"id":"b","action":"y","label":"B","status":"success","outputs":{"o":1}}',
    ]
    stored = {"node_results": {"a": {"action": "x", "status": "failed", "duration_ms": 5}}}
    entries = node_entries(stored, events)
    assert [(e.id, e.status, e.duration_ms, e.outputs) for e in entries] == [
        ("b", "success", None, {"o": 1}),
        ("a", "failed", 5, None),
    ]
    [only] = node_entries(None, events[:1])
    assert (only.id, only.status) == ("b", "running")
