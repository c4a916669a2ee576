"""The tables as the newest migration leaves them (``migrations.py``), for the queries.

A change here needs a new revision under ``alembic/versions``; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)

__all__ = [
    "EXECUTION_NAMES",
    "RUNNER_RECORD_COLUMNS",
    "RUNNER_RECORD_NAMES",
    "claim_lapses",
    "dashboard_sessions",
    "environment_items",
    "environments",
    "execution_logs",
    "executions",
    "flos",
    "log_batch_keys",
    "metadata",
    "nonces",
    "queue_members",
    "queues",
    "revisions",
    "runners",
    "sealed_logs",
]

metadata = MetaData()


queues = Table(
    "queues",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("registration_code", Text, nullable=False, unique=True),
    Column("organisation_id", Text),
    Column("created_at", Float, nullable=False),
)


runners = Table(
    "runners",
    metadata,
    Column("id", Text, primary_key=True),
    Column("identifier", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("enrolled_at", Float, nullable=False),
    Column("last_contact_at", Float),
    Column("ip_address", Text),
    Column("active", Boolean, nullable=False),
    Column("version", Text),
    Column("executor_version", Text),
    Column("manifest", Text),
    Column("public_key", Text, nullable=False),
)


# The columns a RunnerRecord carries, in its field order: the manifest (which can be large) is
# stored but never read back on a request.
RUNNER_RECORD_COLUMNS = tuple(column for column in runners.c if column.name != "manifest")


RUNNER_RECORD_NAMES = tuple(column.name for column in RUNNER_RECORD_COLUMNS)


queue_members = Table(
    "queue_members",
    metadata,
    Column("queue_id", Text, ForeignKey("queues.id"), primary_key=True),
    Column("runner_id", Text, ForeignKey("runners.id"), primary_key=True),
    Index("ix_queue_members_runner", "runner_id"),
)


environments = Table(
    "environments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("owner_id", Text, nullable=False),
    Column("organisation_id", Text),
    # organisation_id or "" so that uniqueness also holds for public environments.
    Column("organisation_key", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("organisation_key", "name"),
)


environment_items = Table(
    "environment_items",
    metadata,
    Column("id", Text, primary_key=True),
    Column("environment_id", Text, ForeignKey("environments.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("value", Text),
    Column("sealed", LargeBinary),
    Column("provider", Text),
    Column("expires_at", Text),
    Column("metadata", Text),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("environment_id", "kind", "name"),
)


flos = Table(
    "flos",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("organisation_id", Text),
    Column("author_id", Text),
    Column("environment_id", Text, ForeignKey("environments.id")),
    Column("queue_id", Text, ForeignKey("queues.id")),
    Column("created_at", Float, nullable=False),
    Column("execution_count", Integer, nullable=False, default=0),
    Column("last_run", Float),
)


revisions = Table(
    "revisions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("flo_id", Text, ForeignKey("flos.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("flo_id", "number"),
)


executions = Table(
    "executions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("flo_id", Text, ForeignKey("flos.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("owner_id", Text, nullable=False),
    Column("organisation_id", Text),
    Column("sequence", Integer, nullable=False),
    Column("trigger_type", Text),
    Column("entry_node_id", Text),
    Column("data", Text),
    Column("execution_status", Text, nullable=False),
    Column("completion_status", Text, nullable=False),
    Column("completion_reason", Text),
    Column("runner_id", Text),
    Column("result", Text),
    Column("checkpoint", Text),
    Column("suspend_count", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float),
    Column("allocated_at", Float),
    Column("started_at", Float),
    Column("completed_at", Float),
    Column("last_contact_at", Float),
    Column("log_bytes", Integer, nullable=False, default=0),
    Column("log_truncated", Boolean, nullable=False, default=False),
    Column("log_seq", Integer, nullable=False, default=0),
    Index("ix_executions_status_created", "execution_status", "created_at"),
    Index("ix_executions_flo", "flo_id", "created_at"),
)


EXECUTION_NAMES = tuple(column.name for column in executions.c)


execution_logs = Table(
    "execution_logs",
    metadata,
    Column("execution_id", Text, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("line", Text, nullable=False),
    # Stored in key order: an insert writes one b-tree, not a table and its key's index.
    sqlite_with_rowid=False,
)


nonces = Table(
    "nonces",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("nonce", Text, primary_key=True),
    Column("seen_at", Float, nullable=False),
    Index("ix_nonces_seen_at", "seen_at"),
)


# The tables of the delivery guarantees (docs/protocol.md §11, store/delivery.py).
claim_lapses = Table(
    "claim_lapses",
    metadata,
    Column("execution_id", Text, primary_key=True),
    Column("runner_id", Text, primary_key=True),
    Column("lapsed_at", Float, nullable=False),
    sqlite_with_rowid=False,
)


log_batch_keys = Table(
    "log_batch_keys",
    metadata,
    Column("execution_id", Text, primary_key=True),
    Column("batch_key", Text, primary_key=True),
    sqlite_with_rowid=False,
)


sealed_logs = Table(
    "sealed_logs",
    metadata,
    Column("execution_id", Text, primary_key=True),
    Column("sealed_at", Float, nullable=False),
    sqlite_with_rowid=False,
)


# Dashboard sign-ins (store/sessions.py), keyed by the SHA-256 of the cookie value.
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("id_hash", Text, primary_key=True),
    Column("csrf", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Index("ix_dashboard_sessions_last_seen", "last_seen_at"),
)


# The indexes behind the dashboard's listings (flomation.server.dashboard.queries): keyset pages
# newest first, per filter, and the live list's "changed since" reads. Without them each page
# sorts the whole executions table.
Index("ix_executions_created", executions.c.created_at)
Index("ix_executions_completion_created", executions.c.completion_status, executions.c.created_at)
Index("ix_executions_runner_created", executions.c.runner_id, executions.c.created_at)
Index("ix_executions_updated", executions.c.updated_at)
# The dashboard overview's "finished in the last N minutes".
Index("ix_executions_completed", executions.c.completed_at)
# The claim queue in claim order (store/executions.py): only ``created``/``pending`` executions.
_QUEUED = text("execution_status = 'created' AND completion_status = 'pending'")
Index(
    "ix_executions_claim_queue",
    executions.c.created_at,
    executions.c.id,
    postgresql_where=_QUEUED,
    sqlite_where=_QUEUED,
)
