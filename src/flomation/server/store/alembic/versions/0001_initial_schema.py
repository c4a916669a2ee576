"""The schema as the first server created it (a frozen copy: later revisions change it)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.Text, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "queues",
        _id(),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("registration_code", sa.Text, nullable=False, unique=True),
        sa.Column("organisation_id", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "runners",
        _id(),
        sa.Column("identifier", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("enrolled_at", sa.Float, nullable=False),
        sa.Column("last_contact_at", sa.Float),
        sa.Column("ip_address", sa.Text),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Text),
        sa.Column("executor_version", sa.Text),
        sa.Column("manifest", sa.Text),
        sa.Column("public_key", sa.Text, nullable=False),
    )
    op.create_table(
        "queue_members",
        sa.Column("queue_id", sa.Text, sa.ForeignKey("queues.id"), primary_key=True),
        sa.Column("runner_id", sa.Text, sa.ForeignKey("runners.id"), primary_key=True),
    )
    op.create_index("ix_queue_members_runner", "queue_members", ["runner_id"])
    op.create_table(
        "environments",
        _id(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("organisation_id", sa.Text),
        sa.Column("organisation_key", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("organisation_key", "name"),
    )
    op.create_table(
        "environment_items",
        _id(),
        sa.Column("environment_id", sa.Text, sa.ForeignKey("environments.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("sealed", sa.LargeBinary),
        sa.Column("provider", sa.Text),
        sa.Column("expires_at", sa.Text),
        sa.Column("metadata", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("environment_id", "kind", "name"),
    )
    op.create_table(
        "flos",
        _id(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("organisation_id", sa.Text),
        sa.Column("author_id", sa.Text),
        sa.Column("environment_id", sa.Text, sa.ForeignKey("environments.id")),
        sa.Column("queue_id", sa.Text, sa.ForeignKey("queues.id")),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("execution_count", sa.Integer, nullable=False),
        sa.Column("last_run", sa.Float),
    )
    op.create_table(
        "revisions",
        _id(),
        sa.Column("flo_id", sa.Text, sa.ForeignKey("flos.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("flo_id", "number"),
    )
    op.create_table(
        "executions",
        _id(),
        sa.Column("flo_id", sa.Text, sa.ForeignKey("flos.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("organisation_id", sa.Text),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("trigger_type", sa.Text),
        sa.Column("entry_node_id", sa.Text),
        sa.Column("data", sa.Text),
        sa.Column("execution_status", sa.Text, nullable=False),
        sa.Column("completion_status", sa.Text, nullable=False),
        sa.Column("completion_reason", sa.Text),
        sa.Column("runner_id", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("checkpoint", sa.Text),
        sa.Column("suspend_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float),
        sa.Column("allocated_at", sa.Float),
        sa.Column("started_at", sa.Float),
        sa.Column("completed_at", sa.Float),
        sa.Column("last_contact_at", sa.Float),
        sa.Column("log_bytes", sa.Integer, nullable=False),
        sa.Column("log_truncated", sa.Boolean, nullable=False),
        sa.Column("log_seq", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_executions_status_created", "executions", ["execution_status", "created_at"]
    )
    op.create_index("ix_executions_flo", "executions", ["flo_id", "created_at"])
    # Revision 0002 stores these lines in key order on SQLite.
    op.create_table(
        "execution_logs",
        sa.Column("execution_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("line", sa.Text, nullable=False),
    )
    op.create_table(
        "nonces",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("nonce", sa.Text, primary_key=True),
        sa.Column("seen_at", sa.Float, nullable=False),
    )
    op.create_index("ix_nonces_seen_at", "nonces", ["seen_at"])
