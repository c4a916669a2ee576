"""Flows and their revisions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from flomation.server.records import (
    FloRecord,
)
from flomation.server.store import schema
from flomation.server.store.database import Database
from flomation.server.store.rows import (
    FLO_SELECT,
    dump,
    flo_from,
    new_id,
)
from flomation.server.store.types import (
    StoreNotFoundError,
)

__all__ = ["FlowQueries"]


class FlowQueries:
    """Flows and their revisions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_flo(
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
        with self._db.write() as conn:
            environment_name: str | None = None
            if environment_id is not None:
                environment_name = (
                    conn.execute(
                        select(schema.environments.c.name).where(
                            schema.environments.c.id == environment_id
                        )
                    )
                ).scalar()
                if environment_name is None:
                    raise StoreNotFoundError(f"environment {environment_id!r} not found")
            if queue_id is not None:
                found = (
                    conn.execute(select(schema.queues.c.id).where(schema.queues.c.id == queue_id))
                ).first()
                if found is None:
                    raise StoreNotFoundError(f"queue {queue_id!r} not found")
            flo = FloRecord(
                id=new_id(),
                name=name,
                organisation_id=organisation_id,
                author_id=author_id,
                environment_id=environment_id,
                environment_name=environment_name,
                queue_id=queue_id,
                created_at=now_s,
                execution_count=0,
                last_run=None,
            )
            conn.execute(
                insert(schema.flos).values(
                    id=flo.id,
                    name=name,
                    organisation_id=organisation_id,
                    author_id=author_id,
                    environment_id=environment_id,
                    queue_id=queue_id,
                    created_at=now_s,
                    execution_count=0,
                )
            )
            conn.execute(
                insert(schema.revisions).values(
                    id=new_id(), flo_id=flo.id, number=1, data=dump(data), created_at=now_s
                )
            )
        return flo

    def get_flo(self, flo_id: str) -> FloRecord | None:
        """The flow with this UUID."""
        with self._db.read() as conn:
            row = (conn.execute(FLO_SELECT.where(schema.flos.c.id == flo_id))).first()
        return None if row is None else flo_from(row)

    def add_revision(self, flo_id: str, data: Any, now_s: float) -> dict[str, Any] | None:
        """Append a revision (dispatched from now on); None for an unknown flow."""
        with self._db.write() as conn:
            exists = (
                conn.execute(select(schema.flos.c.id).where(schema.flos.c.id == flo_id))
            ).first()
            if exists is None:
                return None
            number = (
                conn.execute(
                    select(func.coalesce(func.max(schema.revisions.c.number), 0)).where(
                        schema.revisions.c.flo_id == flo_id
                    )
                )
            ).scalar_one()
            revision_id = new_id()
            conn.execute(
                insert(schema.revisions).values(
                    id=revision_id,
                    flo_id=flo_id,
                    number=number + 1,
                    data=dump(data),
                    created_at=now_s,
                )
            )
        return {"id": revision_id, "flo_id": flo_id, "created_at": now_s}
