"""Rows to records and values to columns: the conversions every area of the store shares."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import Column, Row, select

from flomation.server.records import (
    EnvironmentItemRecord,
    EnvironmentRecord,
    ExecutionRecord,
    FloRecord,
    QueueRecord,
    RunnerRecord,
)
from flomation.server.store import schema

__all__ = [
    "FLO_COLUMNS",
    "FLO_SELECT",
    "columns",
    "dump",
    "execution_from",
    "flo_from",
    "item_from",
    "load",
    "new_id",
    "plain_record",
    "runner_from",
]


def dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def load(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def new_id() -> str:
    return str(uuid.uuid4())


def runner_from(row: Sequence[Any], queue_ids: Sequence[str] = ()) -> RunnerRecord:
    """A runner from ``schema.RUNNER_RECORD_COLUMNS`` (a SQLAlchemy or sqlite3 row)."""
    values = dict(zip(schema.RUNNER_RECORD_NAMES, row, strict=True))
    return RunnerRecord(
        **values | {"active": bool(values["active"]), "queue_ids": tuple(queue_ids)}
    )


def execution_from(row: Sequence[Any]) -> ExecutionRecord:
    """An execution from the columns of ``executions`` in table order."""
    values = dict(zip(schema.EXECUTION_NAMES, row, strict=True))
    del values["log_seq"]  # the server's own counter, not part of the record
    for column in ("data", "result", "checkpoint"):
        values[column] = load(values[column])
    values["log_truncated"] = bool(values["log_truncated"])
    return ExecutionRecord(**values)


_Plain = TypeVar("_Plain", QueueRecord, EnvironmentRecord)


def plain_record(record_type: type[_Plain], row: Row[Any]) -> _Plain:
    """A record whose fields are columns of the same name, taken as they are."""
    return record_type(**{field.name: getattr(row, field.name) for field in fields(record_type)})


def item_from(row: Row[Any]) -> EnvironmentItemRecord:
    return EnvironmentItemRecord(
        id=row.id,
        environment_id=row.environment_id,
        kind=row.kind,
        name=row.name,
        value=row.value,
        sealed=row.sealed,
        provider=row.provider,
        expires_at=row.expires_at,
        metadata=load(row.metadata),
        created_at=row.created_at,
    )


FLO_COLUMNS = (
    schema.flos.c.id,
    schema.flos.c.name,
    schema.flos.c.organisation_id,
    schema.flos.c.author_id,
    schema.flos.c.environment_id,
    schema.environments.c.name.label("environment_name"),
    schema.flos.c.queue_id,
    schema.flos.c.created_at,
    schema.flos.c.execution_count,
    schema.flos.c.last_run,
)


FLO_SELECT = select(*FLO_COLUMNS).select_from(
    schema.flos.outerjoin(
        schema.environments, schema.environments.c.id == schema.flos.c.environment_id
    )
)


def flo_from(row: Sequence[Any]) -> FloRecord:
    """A flow from the columns of ``FLO_COLUMNS`` (the order of FloRecord's fields)."""
    return FloRecord(*row)


def columns(columns: Iterable[Column[Any]], alias: str) -> str:
    """The named columns, in order, qualified by ``alias`` (for the row builders)."""
    return ", ".join(f"{alias}.{column.name}" for column in columns)
