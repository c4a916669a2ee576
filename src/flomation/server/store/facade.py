"""The store's one entry point: an async method per operation, over the area modules.

Writes and small reads (a few rows by key) run directly on the event loop: they take tens to
hundreds of microseconds, less than handing them to a thread (measured: a thread hop per
operation doubled the CPU of 1,000 idle long-polls, and aiosqlite's hop per statement made every
request ~10x slower). Running every write on the loop thread also serialises them without
SQLite's sleeping busy handler. Reads that can return many rows (listings, log replay, metrics)
run on a small pool of reader threads, beside the writer thanks to WAL.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.engine import Connection

from flomation.server.records import (
    ClaimedExecution,
    DispatchTarget,
    EnvironmentItemRecord,
    EnvironmentRecord,
    ExecutionCall,
    ExecutionRecord,
    FloRecord,
    QueueRecord,
    RunnerIdentity,
    RunnerRecord,
    RunnerScope,
)
from flomation.server.state_files import create_private_database
from flomation.server.store.claims import ClaimQueries
from flomation.server.store.database import (
    READER_THREADS,
    Backend,
    Database,
    database_backend,
    sqlite_path,
)
from flomation.server.store.delivery import ConfirmOutcome, DeliveryQueries, LapsedClaim
from flomation.server.store.environments import EnvironmentQueries
from flomation.server.store.executions import ExecutionQueries
from flomation.server.store.flows import FlowQueries
from flomation.server.store.logs import LogQueries
from flomation.server.store.migrations import current_revision, migrate
from flomation.server.store.nonces import NonceQueries
from flomation.server.store.polls import PollQueries
from flomation.server.store.retention import PruneBatch, RetentionQueries
from flomation.server.store.runners import RunnerQueries
from flomation.server.store.sessions import SessionQueries
from flomation.server.store.types import (
    CancelOutcome,
    ExecutionFilter,
    LogBatch,
    NewRunner,
    ReapedExecution,
    RegistrationOutcome,
    ResultOutcome,
    ResumeOutcome,
    SignatureNonce,
)

__all__ = ["Store"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class Store:
    """The database. Create with :meth:`open`, release with :meth:`close`.

    Every method takes ``now_s`` (Unix seconds) where time matters, so callers own the clock.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._runners = RunnerQueries(db)
        self._environments = EnvironmentQueries(db)
        self._flows = FlowQueries(db)
        self._executions = ExecutionQueries(db)
        self._claims = ClaimQueries(db)
        self._polls = PollQueries(db, self._claims)
        self._logs = LogQueries(db)
        self._nonces = NonceQueries(db)
        self._retention = RetentionQueries(db)
        self._delivery = DeliveryQueries(db)
        self._sessions = SessionQueries(db)
        self._readers = ThreadPoolExecutor(
            max_workers=READER_THREADS, thread_name_prefix="store-reader"
        )
        # Retention's batches on PostgreSQL: off the event loop, so that requests are served
        # while a batch runs (SQLite keeps them on the loop: a write there waits for the
        # batch's lock whichever thread it runs on, and sleeps in the busy handler).
        self._maintenance = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-prune")

    @classmethod
    async def open(cls, database_url: str) -> Store:
        """Connect (creating a SQLite file and its directory, privately, if needed) and migrate.

        DatabaseUrlError for a URL the server cannot use.
        """
        if database_backend(database_url) == "sqlite":
            create_private_database(sqlite_path(database_url))
        store = cls(Database.open(database_url))
        try:
            migrate(store._db)
        except BaseException:
            await store.close()
            raise
        return store

    @property
    def backend(self) -> Backend:
        """``sqlite`` or ``postgresql``."""
        return self._db.backend

    async def close(self) -> None:
        """Finish queued reads, stop the reader threads and close every connection."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._shutdown)

    def _shutdown(self) -> None:
        self._readers.shutdown(wait=True)
        self._maintenance.shutdown(wait=True)
        self._db.close()

    async def _run(
        self,
        executor: ThreadPoolExecutor,
        operation: Callable[_P, _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(operation, *args, **kwargs))

    async def ping(self) -> None:
        """One round trip to the database (raises when it cannot be reached)."""
        self._db.raw().execute("SELECT 1").fetchone()

    async def schema_revision(self) -> str | None:
        """The schema migration the database is at."""
        with self._db.read() as conn:
            return current_revision(conn)

    async def create_queue(
        self, name: str, organisation_id: str | None, now_s: float
    ) -> QueueRecord:
        """A new queue with a fresh 32-hex registration code; ConflictError for a duplicate name."""
        return self._runners.create_queue(name, organisation_id, now_s)

    async def list_queues(self) -> list[QueueRecord]:
        """All queues, newest first."""
        return await self._run(self._readers, self._runners.list_queues)

    async def find_runner(self, identifier: str) -> RunnerRecord | None:
        """The runner enrolled under ``identifier`` (the 16-letter one, not the UUID)."""
        return self._runners.find_runner(identifier)

    async def runner_identity(self, identifier: str) -> RunnerIdentity | None:
        """The id and key of the runner enrolled under ``identifier`` (remembered: they never
        change)."""
        return self._runners.runner_identity(identifier)

    async def registration_code_exists(self, code: str) -> bool:
        """True when a queue has this registration code (one read by the unique index)."""
        return self._runners.registration_code_exists(code)

    async def register_runner(self, new: NewRunner, now_s: float) -> RegistrationOutcome:
        """Enrol a new identifier into the queue of its code, all or nothing.

        A concurrent enrolment of the same identifier is reported as ``known`` (§8.1 A7).
        """
        return self._runners.register_runner(new, now_s)

    async def refresh_runner(
        self,
        runner_id: str,
        *,
        version: str | None,
        executor_version: str | None,
        ip_address: str | None,
        now_s: float,
        signed_name: str | None = None,
        signed_manifest: Any = None,
        signed: bool = False,
    ) -> None:
        """Re-registration of a known identifier (§8.1 A5); the key never changes."""
        return self._runners.refresh_runner(
            runner_id,
            version=version,
            executor_version=executor_version,
            ip_address=ip_address,
            now_s=now_s,
            signed_name=signed_name,
            signed_manifest=signed_manifest,
            signed=signed,
        )

    async def poll(
        self,
        runner_id: str,
        ip_address: str | None,
        now_s: float,
        nonce: SignatureNonce | None = None,
    ) -> tuple[RunnerScope | None, ClaimedExecution | None]:
        """Record a poll (and its signature's ``nonce``) as the runner's heartbeat and claim the
        oldest execution it may take; returns the queues and organisations whose executions it
        may take (None while it is paused) and the claimed execution, if any.
        ReplayedNonceError, with nothing written, for a nonce seen before."""
        return self._polls.poll(runner_id, ip_address, now_s, nonce)

    async def list_runners(self) -> list[RunnerRecord]:
        """All runners with their queue ids, newest first."""
        return await self._run(self._readers, self._runners.list_runners)

    async def set_runner_active(self, runner_id: str, active: bool) -> RunnerRecord | None:
        """Pause (False) or resume (True) a runner; None when it does not exist."""
        return self._runners.set_runner_active(runner_id, active)

    async def create_environment(
        self, name: str, owner_id: str, organisation_id: str | None, now_s: float
    ) -> EnvironmentRecord:
        """A new environment; ConflictError for a duplicate name within the organisation."""
        return self._environments.create_environment(name, owner_id, organisation_id, now_s)

    async def resolve_environment(
        self, id_or_name: str, organisation_id: str | None
    ) -> EnvironmentRecord | None:
        """An environment by UUID, else by name within the organisation (§4.7)."""
        return self._environments.resolve_environment(id_or_name, organisation_id)

    async def put_environment_item(
        self,
        environment_id: str,
        kind: str,
        name: str,
        now_s: float,
        *,
        value: str | None = None,
        sealed: bytes | None = None,
        provider: str | None = None,
        expires_at: str | None = None,
        metadata: Any = None,
    ) -> EnvironmentItemRecord:
        """Create or replace a property / secret / credential; StoreNotFoundError without env."""
        return self._environments.put_environment_item(
            environment_id,
            kind,
            name,
            now_s,
            value=value,
            sealed=sealed,
            provider=provider,
            expires_at=expires_at,
            metadata=metadata,
        )

    async def get_environment_item(
        self, environment_id: str, kind: str, name: str
    ) -> EnvironmentItemRecord | None:
        """One property / secret / credential of an environment."""
        return self._environments.get_environment_item(environment_id, kind, name)

    async def create_flo(
        self,
        *,
        name: str,
        data: Any,
        organisation_id: str | None,
        author_id: str | None,
        environment_id: str | None,
        queue_id: str | None,
        now_s: float,
    ) -> FloRecord:
        """A flow with revision 1; StoreNotFoundError for an unknown environment or queue."""
        return self._flows.create_flo(
            name=name,
            data=data,
            organisation_id=organisation_id,
            author_id=author_id,
            environment_id=environment_id,
            queue_id=queue_id,
            now_s=now_s,
        )

    async def get_flo(self, flo_id: str) -> FloRecord | None:
        """The flow with this UUID."""
        return self._flows.get_flo(flo_id)

    async def add_revision(self, flo_id: str, data: Any, now_s: float) -> dict[str, Any] | None:
        """Append a revision (dispatched from now on); None for an unknown flow."""
        return self._flows.add_revision(flo_id, data, now_s)

    async def create_execution(
        self,
        flo_id: str,
        *,
        data: Any,
        entry_node_id: str | None,
        owner_id: str,
        now_s: float,
    ) -> tuple[str, DispatchTarget] | None:
        """A ``created``/``pending`` execution (T1); None for an unknown flow."""
        return self._executions.create_execution(
            flo_id,
            data=data,
            entry_node_id=entry_node_id,
            owner_id=owner_id,
            now_s=now_s,
        )

    async def claim_next(self, runner_id: str, now_s: float) -> ClaimedExecution | None:
        """Claim the oldest eligible execution for this runner in one transaction (§8.1 A2).

        Executions whose flow has no revision are failed with a reason and skipped. Callers
        register for wake-ups before claiming, so an execution committed just after a claim
        that found nothing is not missed.
        """
        return self._claims.claim_next(runner_id, now_s)

    async def release_claim(self, execution_id: str, runner_id: str, now_s: float) -> bool:
        """Undo a claim whose 200 could not be delivered (guarded: still allocated to us)."""
        return self._claims.release_claim(execution_id, runner_id, now_s)

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        """The execution with this id."""
        return self._executions.get_execution(execution_id)

    async def execution_call(self, execution_id: str) -> ExecutionCall | None:
        """The execution's status and assigned runner, in one read (None when unknown)."""
        return self._executions.execution_call(execution_id)

    async def dispatch_target(self, execution_id: str) -> DispatchTarget | None:
        """Which runners may take this execution."""
        return self._claims.dispatch_target(execution_id)

    async def claimable_targets_since(self, since_s: float) -> set[DispatchTarget]:
        """Targets of ``created``/``pending`` executions created, resumed or released since."""
        return self._claims.claimable_targets_since(since_s)

    async def list_executions(self, where: ExecutionFilter) -> list[ExecutionRecord]:
        """Executions matching the filter, newest first."""
        return await self._run(self._readers, self._executions.list_executions, where)

    async def touch_execution(
        self,
        execution_id: str,
        runner_id: str,
        now_s: float,
        nonce: SignatureNonce | None = None,
    ) -> tuple[str, str] | None:
        """Record runner contact on the runner and, while it is assigned to that runner, on the
        execution (§8.1), and the request's ``nonce``; ReplayedNonceError, without a touch, for
        a nonce seen before. Returns the execution's (execution_status, completion_status) while
        it is assigned to ``runner_id``, None otherwise."""
        return self._executions.touch_execution(execution_id, runner_id, now_s, nonce)

    async def append_logs(
        self,
        execution_id: str,
        runner_id: str,
        batch: LogBatch,
        max_log_bytes: int,
        now_s: float,
        nonce: SignatureNonce | None = None,
    ) -> bool:
        """Append a batch under the per-execution cap (§8.3); True when any line was stored.

        When the cap is reached one marker line is stored and later lines are discarded. The
        request's ``nonce`` is recorded with it (ReplayedNonceError for one seen before).
        NotAssignedError when the execution is not assigned to ``runner_id``.
        """
        return self._logs.append_logs(execution_id, runner_id, batch, max_log_bytes, now_s, nonce)

    async def read_logs(
        self, execution_id: str, after_seq: int, limit: int
    ) -> list[tuple[int, str]]:
        """Persisted log lines with ``seq > after_seq``, in order."""
        return await self._run(self._readers, self._logs.read_logs, execution_id, after_seq, limit)

    async def store_result(
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
        """Apply a runner's result with the guards of 8.2 (T6/T7); idempotent. The request's
        ``nonce`` is recorded with it (ReplayedNonceError for one seen before).
        NotAssignedError when the execution is not assigned to ``runner_id``."""
        return self._executions.store_result(
            execution_id,
            runner_id,
            has_errored=has_errored,
            cancelled=cancelled,
            suspended=suspended,
            state=state,
            now_s=now_s,
            nonce=nonce,
        )

    async def cancel(
        self, execution_id: str, reason: str, now_s: float
    ) -> tuple[CancelOutcome, ExecutionRecord | None]:
        """Operator cancel (T8); a terminal execution is left alone."""
        return self._executions.cancel(execution_id, reason, now_s)

    async def resume(
        self, execution_id: str, resume_data: Any, has_resume_data: bool, now_s: float
    ) -> tuple[ResumeOutcome, ExecutionRecord | None]:
        """Operator resume (T9): back to ``created``/``pending`` with the checkpoint kept.

        ``resume_data`` is stored as the checkpoint's ``resume_data`` (what the executor reads).
        """
        return self._executions.resume(execution_id, resume_data, has_resume_data, now_s)

    async def reap(
        self, now_s: float, runner_lost_after_s: float, execution_timeout_s: float
    ) -> list[ReapedExecution]:
        """Fail executions whose runner went silent; time out those running too long (§8.2)."""
        return self._executions.reap(now_s, runner_lost_after_s, execution_timeout_s)

    # ---------------------------------------- delivery guarantees (§11, store/delivery.py)

    async def expire_claim_leases(self, now_s: float, lease_s: float) -> list[LapsedClaim]:
        """Offer again the executions whose runner did not confirm them within ``lease_s``."""
        return self._delivery.expire_claim_leases(now_s, lease_s)

    async def lapsed_claimants(self, execution_id: str) -> list[RunnerRecord]:
        """The runners this execution was handed to before its lease expired."""
        return self._delivery.lapsed_claimants(execution_id)

    async def confirm_claim(
        self,
        execution_id: str,
        runner_id: str,
        now_s: float,
        nonce: SignatureNonce | None = None,
    ) -> ConfirmOutcome:
        """The runner's ``state running``: ``allocated`` -> ``running`` if still its own. The
        request's ``nonce`` is recorded with it (ReplayedNonceError for one seen before)."""
        return self._delivery.confirm_claim(execution_id, runner_id, now_s, nonce)

    async def fill_log_tail(
        self, execution_id: str, result_logs: str, max_log_bytes: int, now_s: float
    ) -> int:
        """Complete the live log from the result's output and seal it; lines filled in."""
        return self._delivery.fill_log_tail(execution_id, result_logs, max_log_bytes, now_s)

    async def remember_nonce(self, key_id: str, nonce: str, now_s: float) -> bool:
        """Record a v2 nonce for a key; False when it was already seen (a replay)."""
        return self._nonces.remember_nonce(key_id, nonce, now_s)

    async def forget_nonces_before(self, cutoff_s: float) -> int:
        """Drop nonces older than the retention window; returns how many."""
        return await self._maintain(self._nonces.forget_nonces_before, cutoff_s)

    # ------------------------------------------- dashboard sessions (store/sessions.py)

    async def create_session(self, session_id: str, csrf: str, now_s: float) -> None:
        """Record a new dashboard session (the database keeps only the id's hash)."""
        self._sessions.create_session(session_id, csrf, now_s)

    async def use_session(self, session_id: str, now_s: float, idle_s: float) -> str | None:
        """The CSRF token of the live dashboard session (its idle clock restarts), else None."""
        return self._sessions.use_session(session_id, now_s, idle_s)

    async def end_session(self, session_id: str) -> None:
        """Sign a dashboard session out, on every server."""
        self._sessions.end_session(session_id)

    async def forget_sessions_idle_since(self, cutoff_s: float) -> int:
        """Delete the dashboard sessions unused since ``cutoff_s``; how many."""
        return await self._maintain(self._sessions.forget_sessions_idle_since, cutoff_s)

    async def pending_per_queue(self) -> dict[str, int]:
        """Per queue name, how many ``created``/``pending`` executions it could serve."""
        return await self._run(self._readers, self._claims.pending_per_queue)

    async def read(self, query: Callable[[Connection], _T]) -> _T:
        """Run ``query`` on a reader thread's connection: the dashboard's many-row reads, whose
        statements live in ``flomation.server.dashboard.queries`` over ``store.schema``."""

        def run() -> _T:
            with self._db.read() as conn:
                return query(conn)

        return await self._run(self._readers, run)

    async def _maintain(
        self, operation: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """Run a retention batch: on the maintenance thread on PostgreSQL, else on the loop."""
        if self.backend == "postgresql":
            return await self._run(self._maintenance, operation, *args, **kwargs)
        return operation(*args, **kwargs)

    async def prune_finished_before(self, cutoff_s: float, max_lines: int) -> PruneBatch:
        """One small transaction of retention by age (see store/retention.py)."""
        return await self._maintain(self._retention.prune_finished_before, cutoff_s, max_lines)

    async def total_log_bytes(self) -> int:
        """Bytes of log stored over every execution."""
        return await self._run(self._readers, self._retention.total_log_bytes)

    async def drop_oldest_logs(self, max_lines: int) -> PruneBatch:
        """One small transaction of retention by total log size (see store/retention.py)."""
        return await self._maintain(self._retention.drop_oldest_logs, max_lines)
