"""Queues, runners and their enrolment (a runner's heartbeat comes with its poll: polls.py)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from flomation.server.records import (
    QueueRecord,
    RunnerIdentity,
    RunnerRecord,
)
from flomation.server.store import schema
from flomation.server.store.database import Database
from flomation.server.store.rows import (
    columns,
    dump,
    new_id,
    plain_record,
    runner_from,
)
from flomation.server.store.types import (
    ConflictError,
    NewRunner,
    RegistrationOutcome,
)

__all__ = ["RunnerQueries"]

_SQL_RUNNER_BY_IDENTIFIER = (
    f"SELECT {columns(schema.RUNNER_RECORD_COLUMNS, 'r')} FROM runners r WHERE r.identifier = ?"
)

_SQL_RUNNER_IDENTITY = "SELECT id, identifier, public_key FROM runners WHERE identifier = ?"

# Runner identities one process remembers (a bound on memory, not a working set: beyond it the
# cache starts again).
_IDENTITY_CACHE_LIMIT = 10_000

_SQL_QUEUE_BY_CODE = "SELECT 1 FROM queues WHERE registration_code = ?"


class RunnerQueries:
    """Queues and runners: enrolment, re-registration, pausing."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._identities: dict[str, RunnerIdentity] = {}

    def create_queue(self, name: str, organisation_id: str | None, now_s: float) -> QueueRecord:
        """A new queue with a fresh 32-hex registration code; ConflictError for a duplicate name."""
        record = QueueRecord(new_id(), name, secrets.token_hex(16), organisation_id, now_s)
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(schema.queues).values(
                        id=record.id,
                        name=name,
                        registration_code=record.registration_code,
                        organisation_id=organisation_id,
                        created_at=now_s,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"a queue named {name!r} already exists") from exc
        return record

    def list_queues(self) -> list[QueueRecord]:
        """All queues, newest first."""
        with self._db.read() as conn:
            rows = conn.execute(select(schema.queues).order_by(schema.queues.c.created_at.desc()))
            return [plain_record(QueueRecord, row) for row in rows]

    def find_runner(self, identifier: str) -> RunnerRecord | None:
        """The runner enrolled under ``identifier`` (the 16-letter one, not the UUID)."""
        row = self._db.raw().execute(_SQL_RUNNER_BY_IDENTIFIER, (identifier,)).fetchone()
        return None if row is None else runner_from(row)

    def runner_identity(self, identifier: str) -> RunnerIdentity | None:
        """The id and key of the runner enrolled under ``identifier``, read once per process:
        runners are never deleted and their key never changes (§8.1 A5), so only an identifier
        not enrolled yet is looked up again (a claim's first statement, otherwise)."""
        identity = self._identities.get(identifier)
        if identity is None:
            row = self._db.raw().execute(_SQL_RUNNER_IDENTITY, (identifier,)).fetchone()
            if row is None:
                return None
            if len(self._identities) >= _IDENTITY_CACHE_LIMIT:
                self._identities.clear()
            identity = self._identities[identifier] = RunnerIdentity(*row)
        return identity

    def registration_code_exists(self, code: str) -> bool:
        """True when a queue has this registration code."""
        row = self._db.raw().execute(_SQL_QUEUE_BY_CODE, (code,)).fetchone()
        return row is not None

    def register_runner(self, new: NewRunner, now_s: float) -> RegistrationOutcome:
        """Enrol a new identifier into the queue of its code, all or nothing.

        A concurrent enrolment of the same identifier is reported as ``known`` (§8.1 A7).
        """
        try:
            with self._db.write() as conn:
                queue_id = (
                    conn.execute(
                        select(schema.queues.c.id).where(
                            schema.queues.c.registration_code == new.registration_code
                        )
                    )
                ).scalar()
                if queue_id is None:
                    return RegistrationOutcome(None, known=False, unknown_code=True)
                runner = RunnerRecord(
                    id=new_id(),
                    identifier=new.identifier,
                    name=new.name,
                    enrolled_at=now_s,
                    last_contact_at=now_s,
                    ip_address=new.ip_address,
                    active=True,
                    version=new.version,
                    executor_version=new.executor_version,
                    public_key=new.public_key,
                    queue_ids=(queue_id,),
                )
                conn.execute(
                    insert(schema.runners).values(
                        id=runner.id,
                        identifier=runner.identifier,
                        name=runner.name,
                        enrolled_at=now_s,
                        last_contact_at=now_s,
                        ip_address=runner.ip_address,
                        active=True,
                        version=runner.version,
                        executor_version=runner.executor_version,
                        manifest=dump(new.manifest),
                        public_key=runner.public_key,
                    )
                )
                conn.execute(
                    insert(schema.queue_members).values(queue_id=queue_id, runner_id=runner.id)
                )
        except IntegrityError:
            return RegistrationOutcome(None, known=True, unknown_code=False)
        return RegistrationOutcome(runner, known=False, unknown_code=False)

    def refresh_runner(
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
        values: dict[str, Any] = {
            "version": version,
            "executor_version": executor_version,
            "ip_address": ip_address,
            "last_contact_at": now_s,
        }
        if signed:
            if signed_name is not None:
                values["name"] = signed_name
            values["manifest"] = dump(signed_manifest)
        with self._db.write() as conn:
            conn.execute(
                update(schema.runners).where(schema.runners.c.id == runner_id).values(**values)
            )

    def list_runners(self) -> list[RunnerRecord]:
        """All runners with their queue ids, newest first."""
        with self._db.read() as conn:
            members: dict[str, list[str]] = {}
            for row in conn.execute(select(schema.queue_members)):
                members.setdefault(row.runner_id, []).append(row.queue_id)
            rows = conn.execute(
                select(*schema.RUNNER_RECORD_COLUMNS).order_by(schema.runners.c.enrolled_at.desc())
            )
            return [runner_from(row, members.get(row.id, ())) for row in rows]

    def set_runner_active(self, runner_id: str, active: bool) -> RunnerRecord | None:
        """Pause (False) or resume (True) a runner; None when it does not exist."""
        with self._db.write() as conn:
            result = conn.execute(
                update(schema.runners).where(schema.runners.c.id == runner_id).values(active=active)
            )
            if result.rowcount == 0:
                return None
            row = conn.execute(
                select(*schema.RUNNER_RECORD_COLUMNS).where(schema.runners.c.id == runner_id)
            ).one()
            queue_ids = (
                conn.execute(
                    select(schema.queue_members.c.queue_id).where(
                        schema.queue_members.c.runner_id == runner_id
                    )
                )
            ).scalars()
            return runner_from(row, list(queue_ids))
