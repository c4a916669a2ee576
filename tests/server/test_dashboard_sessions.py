"""Dashboard sessions and one-time sign-in links (pure rules, no server)."""

from __future__ import annotations

from flomation.server.dashboard.pages import node_entries
from flomation.server.dashboard.queries import Cursor, display_status
from flomation.server.dashboard.sessions import (
    LINK_TTL_S,
    SessionStore,
    SignInLinks,
    sign_in_code,
)


def test_sessions_expire_after_being_idle_and_end_on_sign_out() -> None:
    """A session lives while used within the idle limit, and is gone after sign-out."""
    store = SessionStore(idle_s=60.0)
    session = store.create(1000.0)
    assert store.get(session.id, 1050.0) is session
    assert store.get(session.id, 1100.0) is session  # used at 1050: still within 60 s
    assert store.get(session.id, 1161.0) is None
    other = store.create(2000.0)
    store.end(other.id)
    assert store.get(other.id, 2000.0) is None
    assert session.csrf != other.csrf


def test_the_oldest_sessions_go_beyond_the_bound() -> None:
    """More sessions than the limit drop the least recently used one."""
    store = SessionStore(limit=2)
    first, second = store.create(0.0), store.create(0.0)
    store.get(first.id, 1.0)
    store.create(2.0)
    assert store.get(second.id, 3.0) is None
    assert store.get(first.id, 3.0) is first


def test_sign_in_codes_are_one_time_signed_and_expire() -> None:
    """A code works once, not after its TTL, not with another token, not when altered."""
    links = SignInLinks("token-a")
    code = sign_in_code("token-a", 100.0)
    assert links.redeem(code, 101.0)
    assert not links.redeem(code, 102.0)
    assert not links.redeem(sign_in_code("token-a", 100.0), 100.0 + LINK_TTL_S + 1)
    assert not links.redeem(sign_in_code("token-b", 100.0), 101.0)
    genuine = sign_in_code("token-a", 100.0)
    expiry, nonce, mac = genuine.split(".")
    assert not links.redeem(f"{int(expiry) + 60}.{nonce}.{mac}", 101.0)
    for garbage in ("", "...", "x.y.z", "1." + "0" * 32 + "." + "0" * 64):
        assert not links.redeem(garbage, 101.0)


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
