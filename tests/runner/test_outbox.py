"""Durable outbox and in-flight journal on a real SQLite file."""

from __future__ import annotations

import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from flomation.runner.outbox import DELIVERED, JournalEntry, Outbox, OutboxError

RESULT_PATH = "/api/v1/execution/e1"


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox.open(tmp_path / "state" / "outbox.sqlite")
    yield box
    box.close()


def test_file_is_private_and_uses_wal(tmp_path: Path) -> None:
    """The outbox file is created with mode 0600 (parents too) and journals in WAL mode."""
    path = tmp_path / "nested" / "outbox.sqlite"
    box = Outbox.open(path)
    box.put("e1", "result", RESULT_PATH, b"{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    wal = path.with_name(path.name + "-wal")
    assert wal.exists()
    assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    box.close()
    box.close()


def test_entries_survive_close_and_reopen(tmp_path: Path) -> None:
    """Pending, delivered and dead entries keep their state across a reopen."""
    path = tmp_path / "outbox.sqlite"
    box = Outbox.open(path)
    pending_id = box.put("e1", "result", RESULT_PATH, b'{"has_errored": false}', now=100.0)
    delivered_id = box.put("e2", "state", "/api/v1/execution/e2/state", b"{}", now=101.0)
    dead_id = box.put("e3", "result", "/api/v1/execution/e3", b'{"x": 1}', now=102.0)
    box.mark_delivered(delivered_id, now=110.0)
    box.mark_dead(dead_id, "404 unknown execution", now=111.0)
    box.close()

    box = Outbox.open(path)
    [pending] = box.pending()
    assert (pending.id, pending.execution_id, pending.kind, pending.method) == (
        pending_id,
        "e1",
        "result",
        "POST",
    )
    assert (pending.path, pending.body, pending.created_at) == (
        RESULT_PATH,
        b'{"has_errored": false}',
        100.0,
    )
    delivered = box.get(delivered_id)
    assert delivered is not None
    assert (delivered.done_reason, delivered.body, delivered.dead) == (DELIVERED, b"", False)
    dead = box.get(dead_id)
    assert dead is not None
    assert (dead.done_reason, dead.body, dead.dead, dead.pending) == (
        "404 unknown execution",
        b'{"x": 1}',
        True,
        False,
    )
    assert box.get(9999) is None
    box.close()


def _write_then_sigkill(path: Path, *statements: str) -> Outbox:
    """Run ``statements`` on ``box`` (the outbox at ``path``) in a process SIGKILLed right
    after, and reopen the file."""
    code = "\n".join(
        (
            "import os, signal, sys",
            "from pathlib import Path",
            "from flomation.runner.outbox import Outbox",
            "box = Outbox.open(Path(sys.argv[1]))",
            *statements,
            "os.kill(os.getpid(), signal.SIGKILL)",
        )
    )
    completed = subprocess.run([sys.executable, "-c", code, str(path)], check=False, timeout=30)
    assert completed.returncode == -signal.SIGKILL
    return Outbox.open(path)


def test_put_survives_a_crash_of_the_writer(tmp_path: Path) -> None:
    """An entry put by a process that is SIGKILLed right after is there on reopen."""
    box = _write_then_sigkill(
        tmp_path / "outbox.sqlite",
        "box.put('e1', 'result', '/api/v1/execution/e1', b'{\"durable\": true}')",
        "box.journal_start('e1', 'f1', Path('/w/f1/e1'), 4242, 4242, 5.0)",
    )
    assert [entry.body for entry in box.pending()] == [b'{"durable": true}']
    assert box.journal_inflight() == [JournalEntry("e1", "f1", Path("/w/f1/e1"), 4242, 4242, 5.0)]
    box.close()


def test_unsynced_writes_survive_a_crash_of_the_writer(tmp_path: Path) -> None:
    """A delivery mark and a process group (committed without fsync) survive a SIGKILL."""
    box = _write_then_sigkill(
        tmp_path / "outbox.sqlite",
        "box.journal_start('e1', 'f1', Path('/w/f1/e1'), None, None, 5.0)",
        "box.journal_set_process('e1', 4242, 4242)",
        "entry = box.put('e2', 'result', '/api/v1/execution/e2', b'{}')",
        "box.mark_delivered(entry)",
    )
    assert box.pending() == []
    assert box.journal_inflight() == [JournalEntry("e1", "f1", Path("/w/f1/e1"), 4242, 4242, 5.0)]
    box.close()


def test_put_can_end_the_journal_record_in_the_same_transaction(outbox: Outbox) -> None:
    """A result put with finish_journal leaves the execution no longer in flight."""
    outbox.journal_start("e1", "f1", Path("/w/f1/e1"), 11, 11, started_at=10.0)
    outbox.journal_start("e2", "f1", Path("/w/f1/e2"), 12, 12, started_at=11.0)
    outbox.put("e1", "result", "/api/v1/execution/e1", b"{}", finish_journal=True)
    assert outbox.has_result("e1")
    assert [entry.execution_id for entry in outbox.journal_inflight()] == ["e2"]


def test_due_follows_backoff_schedule_oldest_first(outbox: Outbox) -> None:
    """due() returns pending entries whose next attempt has come, oldest first."""
    first = outbox.put("e1", "state", "/s1", b"1", now=10.0)
    second = outbox.put("e2", "result", "/r2", b"2", now=20.0)
    third = outbox.put("e3", "result", "/r3", b"3", now=30.0)
    assert [entry.id for entry in outbox.due(now=25.0)] == [first, second]
    outbox.mark_failed_attempt(first, "503 Service Unavailable", next_attempt_at=100.0)
    assert [entry.id for entry in outbox.due(now=50.0)] == [second, third]
    assert [entry.id for entry in outbox.due(now=100.0)] == [first, second, third]
    failed = outbox.get(first)
    assert failed is not None
    assert (failed.attempts, failed.last_error, failed.next_attempt_at) == (
        1,
        "503 Service Unavailable",
        100.0,
    )
    outbox.mark_delivered(second)
    outbox.mark_dead(third, "403 ten times")
    assert [entry.id for entry in outbox.due(now=1000.0)] == [first]
    outbox.mark_failed_attempt(third, "ignored once done", next_attempt_at=0.0)
    dead = outbox.get(third)
    assert dead is not None
    assert dead.attempts == 0


def test_depth_and_oldest_age(outbox: Outbox) -> None:
    """depth() counts pending entries; oldest_age_s() is measured from the oldest pending one."""
    assert (outbox.depth(), outbox.oldest_age_s(now=50.0)) == (0, None)
    first = outbox.put("e1", "result", "/r1", b"1", now=10.0)
    outbox.put("e2", "result", "/r2", b"2", now=30.0)
    assert (outbox.depth(), outbox.oldest_age_s(now=50.0)) == (2, 40.0)
    outbox.mark_delivered(first)
    assert (outbox.depth(), outbox.oldest_age_s(now=50.0)) == (1, 20.0)


def test_has_result_counts_any_result_entry(outbox: Outbox) -> None:
    """has_result is true once a result was put, delivered or not; state entries do not count."""
    outbox.put("e1", "state", "/api/v1/execution/e1/state", b"{}")
    assert not outbox.has_result("e1")
    entry_id = outbox.put("e1", "result", RESULT_PATH, b"{}")
    assert outbox.has_result("e1")
    outbox.mark_delivered(entry_id)
    assert outbox.has_result("e1")
    assert not outbox.has_result("other")


def test_purge_done_keeps_pending_entries(outbox: Outbox) -> None:
    """Only finished entries older than the cut-off are deleted."""
    old_done = outbox.put("e1", "result", "/r1", b"1", now=1.0)
    outbox.mark_delivered(old_done, now=5.0)
    recent_done = outbox.put("e2", "result", "/r2", b"2", now=1.0)
    outbox.mark_dead(recent_done, "gone", now=50.0)
    pending = outbox.put("e3", "result", "/r3", b"3", now=1.0)
    assert outbox.purge_done(before=10.0) == 1
    assert outbox.get(old_done) is None
    assert outbox.get(recent_done) is not None
    assert [entry.id for entry in outbox.pending()] == [pending]


def test_purge_done_deletes_in_batches(outbox: Outbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each purge call deletes at most PURGE_BATCH entries, so the lock is never held for long."""
    monkeypatch.setattr("flomation.runner.outbox.PURGE_BATCH", 2)
    for number in range(5):
        outbox.mark_delivered(outbox.put(f"e{number}", "result", "/r", b"1", now=1.0), now=2.0)
    assert [outbox.purge_done(before=10.0) for _ in range(4)] == [2, 2, 1, 0]


async def test_call_runs_inline_while_commits_are_fast(tmp_path: Path) -> None:
    """Outbox.call runs a method on the caller's thread while no inline call was slow."""
    box = Outbox.open(tmp_path / "outbox.sqlite", slow_call_s=60.0)
    try:
        threads: list[int] = []

        def put() -> int:
            threads.append(threading.get_ident())
            return box.put("e1", "result", RESULT_PATH, b"{}")

        assert await box.call(put) == 1
        await box.call(box.journal_finish, "e1")
        assert await box.call(box.has_result, "e1")
        assert threads == [threading.get_ident()]
    finally:
        box.close()


async def test_call_moves_to_a_worker_thread_after_a_slow_inline_call(tmp_path: Path) -> None:
    """Once an inline call took longer than slow_call_s, Outbox.call runs methods in a thread."""
    box = Outbox.open(tmp_path / "outbox.sqlite", slow_call_s=0.0)  # every call is "slow"
    try:
        threads: list[int] = []

        def pending() -> int:
            threads.append(threading.get_ident())
            return len(box.pending())

        await box.call(box.put, "e1", "result", RESULT_PATH, b"{}")
        assert await box.call(pending) == 1
        assert len(threads) == 1 and threads[0] != threading.get_ident()
    finally:
        box.close()


async def test_call_comes_back_inline_after_the_pause_and_doubles_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a slow inline call calls go to threads for 5 s, then inline again; 10 s if slow again.

    A fast inline call resets the pause to 5 s. The outbox's clock is a fake one that each
    call advances by the time it "took".
    """
    now_s = [0.0]
    clock = types.SimpleNamespace(monotonic=lambda: now_s[0], time=time.time)
    monkeypatch.setattr("flomation.runner.outbox.time", clock)
    box = Outbox.open(tmp_path / "outbox.sqlite", slow_call_s=0.05)
    try:
        threads: list[int] = []

        def taking(took_s: float) -> None:
            threads.append(threading.get_ident())
            now_s[0] += took_s

        async def inline_at(at_s: float, took_s: float = 0.1) -> bool:
            """True when a call made at ``at_s`` ran on the event loop's own thread."""
            now_s[0] = at_s
            await box.call(taking, took_s)
            return threads[-1] == threading.get_ident()

        assert await inline_at(1000.0)  # slow: threads until 1005.1
        assert not await inline_at(1005.0)
        assert await inline_at(1005.1)  # slow again: threads until 1015.2
        assert not await inline_at(1015.1)
        assert await inline_at(1015.2, took_s=0.01)  # fast: the next pause is 5 s again
        assert await inline_at(1020.0)  # slow: threads until 1025.1
        assert not await inline_at(1025.0)
        assert await inline_at(1025.1)
    finally:
        box.close()


def test_journal_records_in_flight_executions(outbox: Outbox) -> None:
    """journal_start/set_process/finish maintain the list of executions in flight."""
    outbox.journal_start("e2", "f1", Path("/w/f1/e2"), None, None, started_at=20.0)
    outbox.journal_start("e1", "f1", Path("/w/f1/e1"), 11, 11, started_at=10.0)
    outbox.journal_set_process("e2", 22, 22)
    assert outbox.journal_inflight() == [
        JournalEntry("e1", "f1", Path("/w/f1/e1"), 11, 11, 10.0),
        JournalEntry("e2", "f1", Path("/w/f1/e2"), 22, 22, 20.0),
    ]
    outbox.journal_finish("e1")
    outbox.journal_finish("unknown")
    assert [entry.execution_id for entry in outbox.journal_inflight()] == ["e2"]


def test_invalid_arguments_are_refused(outbox: Outbox) -> None:
    """Unknown kinds, non-bytes bodies and 'delivered' as a dead reason are rejected."""
    with pytest.raises(ValueError, match="kind"):
        outbox.put("e1", "log", "/x", b"")  # type: ignore[arg-type]  # a wrong kind on purpose
    with pytest.raises(TypeError, match="bytes"):
        outbox.put("e1", "result", "/x", "text")  # type: ignore[arg-type]  # str on purpose
    entry_id = outbox.put("e1", "result", "/x", b"")
    with pytest.raises(ValueError, match="dead-letter"):
        outbox.mark_dead(entry_id, DELIVERED)


def test_corrupt_or_foreign_file_gives_a_clear_error(tmp_path: Path) -> None:
    """A file that is not an outbox raises OutboxError naming the file."""
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(OutboxError, match=r"garbage\.sqlite"):
        Outbox.open(garbage)
    future = tmp_path / "future.sqlite"
    Outbox.open(future).close()
    with sqlite3.connect(future) as connection:
        connection.execute("UPDATE schema_version SET version = 99")
    connection.close()
    with pytest.raises(OutboxError, match="schema version 99"):
        Outbox.open(future)


def test_concurrent_threads_do_not_corrupt_the_outbox(outbox: Outbox) -> None:
    """Calls from several threads (as asyncio.to_thread makes them) are serialised safely."""

    def writer(name: str) -> None:
        for index in range(50):
            entry_id = outbox.put(name, "state", f"/{name}/{index}", b"x")
            outbox.mark_failed_attempt(entry_id, "err", next_attempt_at=0.0)

    threads = [threading.Thread(target=writer, args=(f"e{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = outbox.pending()
    assert len(entries) == 200
    assert all(entry.attempts == 1 for entry in entries)


def test_due_is_bounded_by_limit(tmp_path: Path) -> None:
    """due() returns at most ``limit`` entries, the oldest first."""
    outbox = Outbox.open(tmp_path / "outbox.sqlite3")
    for index in range(5):
        outbox.put(f"e{index}", "result", f"/api/v1/execution/e{index}", b"{}", now=float(index))
    assert [entry.execution_id for entry in outbox.due(100.0, limit=2)] == ["e0", "e1"]
    assert len(outbox.due(100.0)) == 5
    outbox.close()
