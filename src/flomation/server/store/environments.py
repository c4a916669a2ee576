"""Environments and their properties, secrets and credentials."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError

from flomation.server.records import (
    EnvironmentItemRecord,
    EnvironmentRecord,
)
from flomation.server.store import schema
from flomation.server.store.database import Database
from flomation.server.store.rows import (
    dump,
    item_from,
    new_id,
    plain_record,
)
from flomation.server.store.types import (
    ConflictError,
    StoreNotFoundError,
)

__all__ = ["EnvironmentQueries"]


class EnvironmentQueries:
    """Environments and their items: properties, secrets and credentials."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_environment(
        self, name: str, owner_id: str, organisation_id: str | None, now_s: float
    ) -> EnvironmentRecord:
        """A new environment; ConflictError for a duplicate name within the organisation."""
        record = EnvironmentRecord(new_id(), name, owner_id, organisation_id, now_s)
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(schema.environments).values(
                        id=record.id,
                        name=name,
                        owner_id=owner_id,
                        organisation_id=organisation_id,
                        organisation_key=organisation_id or "",
                        created_at=now_s,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(
                f"an environment named {name!r} already exists in this organisation"
            ) from exc
        return record

    def resolve_environment(
        self, id_or_name: str, organisation_id: str | None
    ) -> EnvironmentRecord | None:
        """An environment by UUID, else by name within the organisation (§4.7)."""
        with self._db.read() as conn:
            row = (
                conn.execute(
                    select(schema.environments)
                    .where(
                        or_(
                            schema.environments.c.id == id_or_name,
                            and_(
                                schema.environments.c.name == id_or_name,
                                schema.environments.c.organisation_key == (organisation_id or ""),
                            ),
                        )
                    )
                    .order_by((schema.environments.c.id == id_or_name).desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else plain_record(EnvironmentRecord, row)

    def put_environment_item(
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
        with self._db.write() as conn:
            exists = (
                conn.execute(
                    select(schema.environments.c.id).where(
                        schema.environments.c.id == environment_id
                    )
                )
            ).first()
            if exists is None:
                raise StoreNotFoundError(f"environment {environment_id!r} not found")
            conn.execute(
                delete(schema.environment_items).where(
                    schema.environment_items.c.environment_id == environment_id,
                    schema.environment_items.c.kind == kind,
                    schema.environment_items.c.name == name,
                )
            )
            record = EnvironmentItemRecord(
                id=new_id(),
                environment_id=environment_id,
                kind=kind,
                name=name,
                value=value,
                sealed=sealed,
                provider=provider,
                expires_at=expires_at,
                metadata=metadata,
                created_at=now_s,
            )
            conn.execute(
                insert(schema.environment_items).values(
                    id=record.id,
                    environment_id=environment_id,
                    kind=kind,
                    name=name,
                    value=value,
                    sealed=sealed,
                    provider=provider,
                    expires_at=expires_at,
                    metadata=dump(metadata),
                    created_at=now_s,
                )
            )
        return record

    def get_environment_item(
        self, environment_id: str, kind: str, name: str
    ) -> EnvironmentItemRecord | None:
        """One property / secret / credential of an environment."""
        with self._db.read() as conn:
            row = (
                conn.execute(
                    select(schema.environment_items).where(
                        schema.environment_items.c.environment_id == environment_id,
                        schema.environment_items.c.kind == kind,
                        schema.environment_items.c.name == name,
                    )
                )
            ).first()
        return None if row is None else item_from(row)
