"""The dashboard's reads: SQLAlchemy Core over the store's tables (``store.schema``), run on
the store's reader threads by ``Store.read``.

Every function takes a connection and returns plain dataclasses, so pages render from values
and never from rows. Listings are keyset-paginated on ``(created_at, id)`` newest first, with
the indexes of the store's migration 4 behind each filter.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.engine import Connection

from flomation.server.store import schema

__all__ = [
    "STATUS_CHOICES",
    "Activity",
    "Cursor",
    "EnvironmentItemRow",
    "EnvironmentRow",
    "ExecutionFilters",
    "ExecutionRow",
    "FlowRow",
    "Option",
    "QueueLoad",
    "activity",
    "changed_executions",
    "display_status",
    "environments",
    "execution_page",
    "filter_options",
    "flow_detail",
    "flows",
    "in_progress_by_runner",
    "latest_revision",
    "log_before",
    "log_search",
    "log_tail",
    "node_lines",
    "queue_load",
]

_E = schema.executions
_F = schema.flos
_Q = schema.queues
_R = schema.runners
_L = schema.execution_logs
# An execution id in a cursor: what the store makes (UUIDs), bounded.
_ID_TEXT = re.compile(r"[0-9A-Za-z-]{1,64}")

# The statuses a person filters by, and the columns each one means.
STATUS_CHOICES = (
    "queued",
    "allocated",
    "running",
    "suspended",
    "success",
    "fail",
    "cancel",
    "timeout",
)


def display_status(execution_status: str, completion_status: str) -> str:
    """One word for an execution's state: queued/allocated/running/suspended or its outcome."""
    if completion_status == "pending":
        return "queued" if execution_status == "created" else execution_status
    return completion_status


def _status_condition(status: str) -> ColumnElement[bool]:
    if status == "queued":
        return and_(_E.c.execution_status == "created", _E.c.completion_status == "pending")
    if status in ("allocated", "running"):
        return and_(_E.c.execution_status == status, _E.c.completion_status == "pending")
    return _E.c.completion_status == status


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's ``created_at`` and id (which breaks ties)."""

    created_at: float
    id: str

    def text(self) -> str:
        """The cursor as a URL parameter."""
        return f"{self.created_at!r}_{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """The cursor of a URL parameter; None when malformed."""
        created_text, _, execution_id = text.partition("_")
        try:
            created = float(created_text)
        except ValueError:
            return None
        if not math.isfinite(created) or not _ID_TEXT.fullmatch(execution_id):
            return None
        return cls(created, execution_id)


@dataclass(frozen=True)
class ExecutionFilters:
    """What the executions list is narrowed to; None means any."""

    status: str | None = None
    flo_id: str | None = None
    queue_id: str | None = None
    runner_id: str | None = None
    since_s: float | None = None


@dataclass(frozen=True)
class ExecutionRow:
    """One line of the executions list."""

    id: str
    flo_id: str
    name: str
    sequence: int
    status: str
    runner_id: str | None
    runner_name: str | None
    queue_name: str | None
    created_at: float
    updated_at: float | None
    started_at: float | None
    completed_at: float | None


_ROW_COLUMNS = (
    _E.c.id,
    _E.c.flo_id,
    _E.c.name,
    _E.c.sequence,
    _E.c.execution_status,
    _E.c.completion_status,
    _E.c.runner_id,
    _R.c.name.label("runner_name"),
    _Q.c.name.label("queue_name"),
    _E.c.created_at,
    _E.c.updated_at,
    _E.c.started_at,
    _E.c.completed_at,
)


def _row_select() -> Select[Any]:
    return select(*_ROW_COLUMNS).select_from(
        _E.outerjoin(_R, _R.c.id == _E.c.runner_id)
        .outerjoin(_F, _F.c.id == _E.c.flo_id)
        .outerjoin(_Q, _Q.c.id == _F.c.queue_id)
    )


def _filtered(query: Select[Any], filters: ExecutionFilters) -> Select[Any]:
    if filters.status is not None:
        query = query.where(_status_condition(filters.status))
    if filters.flo_id is not None:
        query = query.where(_E.c.flo_id == filters.flo_id)
    if filters.queue_id is not None:
        query = query.where(
            _E.c.flo_id.in_(select(_F.c.id).where(_F.c.queue_id == filters.queue_id))
        )
    if filters.runner_id is not None:
        query = query.where(_E.c.runner_id == filters.runner_id)
    if filters.since_s is not None:
        query = query.where(_E.c.created_at >= filters.since_s)
    return query


def _row_from(row: Any) -> ExecutionRow:
    return ExecutionRow(
        id=row.id,
        flo_id=row.flo_id,
        name=row.name,
        sequence=row.sequence,
        status=display_status(row.execution_status, row.completion_status),
        runner_id=row.runner_id,
        runner_name=row.runner_name,
        queue_name=row.queue_name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
    )


def execution_page(
    conn: Connection, filters: ExecutionFilters, after: Cursor | None, limit: int
) -> tuple[list[ExecutionRow], Cursor | None]:
    """Up to ``limit`` executions older than ``after``, newest first, and the next cursor."""
    query = _filtered(_row_select(), filters)
    if after is not None:
        # The plain range term lets the database seek the index; the OR breaks ties on id.
        query = query.where(
            _E.c.created_at <= after.created_at,
            or_(
                _E.c.created_at < after.created_at,
                and_(_E.c.created_at == after.created_at, _E.c.id < after.id),
            ),
        )
    query = query.order_by(_E.c.created_at.desc(), _E.c.id.desc()).limit(limit + 1)
    rows = [_row_from(row) for row in conn.execute(query)]
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], Cursor(last.created_at, last.id)


def changed_executions(
    conn: Connection, filters: ExecutionFilters, since_s: float, limit: int
) -> list[ExecutionRow]:
    """Executions matching ``filters`` updated at or after ``since_s``, oldest change first."""
    query = _filtered(_row_select(), filters).where(_E.c.updated_at >= since_s)
    return [_row_from(row) for row in conn.execute(query.order_by(_E.c.updated_at).limit(limit))]


@dataclass(frozen=True)
class Option:
    """A choice of a filter: its value and what is shown."""

    value: str
    label: str


def filter_options(conn: Connection) -> dict[str, list[Option]]:
    """The flows, queues and runners to filter by."""
    return {
        "flows": [
            Option(row.id, row.name)
            for row in conn.execute(select(_F.c.id, _F.c.name).order_by(_F.c.name).limit(1000))
        ],
        "queues": [
            Option(row.id, row.name)
            for row in conn.execute(select(_Q.c.id, _Q.c.name).order_by(_Q.c.name))
        ],
        "runners": [
            Option(row.id, row.name)
            for row in conn.execute(select(_R.c.id, _R.c.name).order_by(_R.c.name))
        ],
    }


def in_progress_by_runner(conn: Connection) -> dict[str, int]:
    """How many executions each runner holds (allocated or running): its busy slots."""
    query = (
        select(_E.c.runner_id, func.count())
        .where(
            _E.c.execution_status.in_(("allocated", "running")),
            _E.c.completion_status == "pending",
            _E.c.runner_id.is_not(None),
        )
        .group_by(_E.c.runner_id)
    )
    return {row[0]: int(row[1]) for row in conn.execute(query)}


@dataclass(frozen=True)
class QueueLoad:
    """A queue and the executions waiting for it and running from it."""

    id: str
    name: str
    pending: int
    running: int


def queue_load(conn: Connection) -> list[QueueLoad]:
    """Pending and running executions per queue: a flow pinned to a queue counts there, an
    unpinned one in every queue of its organisation (the dispatch rule, docs/protocol.md §8.1).

    Only unfinished executions are read (three short ranges of the status index), counted per
    flow queue, organisation and status; the matching to queues happens here.
    """
    counts = conn.execute(
        select(_F.c.queue_id, _E.c.organisation_id, _E.c.execution_status, func.count())
        .select_from(_E.join(_F, _F.c.id == _E.c.flo_id))
        .where(
            _E.c.execution_status.in_(("created", "allocated", "running")),
            _E.c.completion_status == "pending",
        )
        .group_by(_F.c.queue_id, _E.c.organisation_id, _E.c.execution_status)
    ).all()
    loads = []
    for queue in conn.execute(select(_Q.c.id, _Q.c.name, _Q.c.organisation_id).order_by(_Q.c.name)):
        pending = running = 0
        for queue_id, organisation_id, status, count in counts:
            pinned_here = queue_id == queue.id
            by_organisation = queue_id is None and (organisation_id or "") == (
                queue.organisation_id or ""
            )
            if pinned_here or by_organisation:
                if status == "created":
                    pending += int(count)
                else:
                    running += int(count)
        loads.append(QueueLoad(queue.id, queue.name, pending, running))
    return loads


@dataclass(frozen=True)
class Activity:
    """Throughput figures of the overview."""

    created_last_10_min: int
    finished_last_10_min: int
    failures_last_hour: int


def activity(conn: Connection, now_s: float) -> Activity:
    """Executions created and finished in the last 10 minutes, failures in the last hour."""
    created = conn.execute(select(func.count()).where(_E.c.created_at >= now_s - 600)).scalar_one()
    # Read by the completed_at index (a short range); the status is wrapped in a function so
    # that SQLite does not prefer the status index, which would walk every finished execution.
    outcome = func.coalesce(_E.c.completion_status, "")
    finished = conn.execute(
        select(func.count()).where(
            _E.c.completed_at >= now_s - 600,
            outcome.in_(("success", "fail", "cancel", "timeout")),
        )
    ).scalar_one()
    failures = conn.execute(
        select(func.count()).where(
            _E.c.completed_at >= now_s - 3600, outcome.in_(("fail", "timeout"))
        )
    ).scalar_one()
    return Activity(int(created), int(finished), int(failures))


def log_tail(conn: Connection, execution_id: str, limit: int) -> list[tuple[int, str]]:
    """The last ``limit`` log lines, in order (the primary key makes this a short seek)."""
    return log_before(conn, execution_id, None, limit)


def log_before(
    conn: Connection, execution_id: str, before_seq: int | None, limit: int
) -> list[tuple[int, str]]:
    """Up to ``limit`` log lines just before ``before_seq`` (None: the end), in order."""
    query = select(_L.c.seq, _L.c.line).where(_L.c.execution_id == execution_id)
    if before_seq is not None:
        query = query.where(_L.c.seq < before_seq)
    rows = conn.execute(query.order_by(_L.c.seq.desc()).limit(limit))
    return [(row.seq, row.line) for row in reversed(list(rows))]


def log_search(
    conn: Connection, execution_id: str, needle: str, limit: int
) -> list[tuple[int, str]]:
    """Up to ``limit`` log lines holding ``needle`` (any case), the latest ones, in order.

    Walks the execution's lines newest first on the primary key and stops at ``limit`` matches.
    """
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (
        select(_L.c.seq, _L.c.line)
        .where(_L.c.execution_id == execution_id, _L.c.line.ilike(f"%{escaped}%", escape="\\"))
        .order_by(_L.c.seq.desc())
        .limit(limit)
    )
    return [(row.seq, row.line) for row in reversed(list(conn.execute(query)))]


def node_lines(conn: Connection, execution_id: str, window: int) -> list[str]:
    """The node event lines (``__NODE__:``) among the last ``window`` log lines."""
    last = conn.execute(
        select(func.max(_L.c.seq)).where(_L.c.execution_id == execution_id)
    ).scalar_one()
    if last is None:
        return []
    query = (
        select(_L.c.line)
        .where(
            _L.c.execution_id == execution_id,
            _L.c.seq > last - window,
            _L.c.line.startswith("__NODE__:"),
        )
        .order_by(_L.c.seq)
    )
    return [row.line for row in conn.execute(query)]


@dataclass(frozen=True)
class FlowRow:
    """A flow in the flows list."""

    id: str
    name: str
    queue_name: str | None
    environment_name: str | None
    revision: int | None
    execution_count: int
    last_run: float | None


def _flow_select() -> Select[Any]:
    latest = (
        select(func.max(schema.revisions.c.number))
        .where(schema.revisions.c.flo_id == _F.c.id)
        .scalar_subquery()
    )
    env = schema.environments
    return select(
        _F.c.id,
        _F.c.name,
        _Q.c.name.label("queue_name"),
        env.c.name.label("environment_name"),
        latest.label("revision"),
        _F.c.execution_count,
        _F.c.last_run,
    ).select_from(
        _F.outerjoin(_Q, _Q.c.id == _F.c.queue_id).outerjoin(env, env.c.id == _F.c.environment_id)
    )


def _flow_from(row: Any) -> FlowRow:
    return FlowRow(
        row.id,
        row.name,
        row.queue_name,
        row.environment_name,
        row.revision,
        int(row.execution_count),
        row.last_run,
    )


def flows(conn: Connection, limit: int) -> list[FlowRow]:
    """Flows, most recently run first (never run: newest first)."""
    query = _flow_select().order_by(
        _F.c.last_run.is_(None), _F.c.last_run.desc(), _F.c.created_at.desc()
    )
    return [_flow_from(row) for row in conn.execute(query.limit(limit))]


def flow_detail(conn: Connection, flo_id: str) -> FlowRow | None:
    """One flow, or None."""
    row = conn.execute(_flow_select().where(_F.c.id == flo_id)).first()
    return None if row is None else _flow_from(row)


def latest_revision(conn: Connection, flo_id: str) -> Any:
    """The flow document of the newest revision (parsed JSON), or None."""
    revisions = schema.revisions
    data = conn.execute(
        select(revisions.c.data)
        .where(revisions.c.flo_id == flo_id)
        .order_by(revisions.c.number.desc())
        .limit(1)
    ).scalar()
    return None if data is None else json.loads(data)


@dataclass(frozen=True)
class EnvironmentItemRow:
    """A property (with its value) or a secret/credential (never with one)."""

    kind: str
    name: str
    value: str | None
    provider: str | None
    expires_at: str | None
    created_at: float


@dataclass(frozen=True)
class EnvironmentRow:
    """An environment and its items."""

    id: str
    name: str
    organisation_id: str | None
    created_at: float
    items: Sequence[EnvironmentItemRow]


def environments(conn: Connection) -> list[EnvironmentRow]:
    """Every environment with its items; the sealed values of secrets are never selected."""
    env, items = schema.environments, schema.environment_items
    by_environment: dict[str, list[EnvironmentItemRow]] = {}
    item_rows = conn.execute(
        select(
            items.c.environment_id,
            items.c.kind,
            items.c.name,
            items.c.value,
            items.c.provider,
            items.c.expires_at,
            items.c.created_at,
        ).order_by(items.c.kind, items.c.name)
    )
    for row in item_rows:
        value = row.value if row.kind == "property" else None
        by_environment.setdefault(row.environment_id, []).append(
            EnvironmentItemRow(
                row.kind, row.name, value, row.provider, row.expires_at, row.created_at
            )
        )
    return [
        EnvironmentRow(
            row.id, row.name, row.organisation_id, row.created_at, by_environment.get(row.id, [])
        )
        for row in conn.execute(select(env).order_by(env.c.name))
    ]
