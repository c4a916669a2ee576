"""Claim lapses, log batch keys and sealed live logs (docs/protocol.md §11)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Stored in key order on SQLite (WITHOUT ROWID), like the log lines.
    op.create_table(
        "claim_lapses",
        sa.Column("execution_id", sa.Text, primary_key=True),
        sa.Column("runner_id", sa.Text, primary_key=True),
        sa.Column("lapsed_at", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "log_batch_keys",
        sa.Column("execution_id", sa.Text, primary_key=True),
        sa.Column("batch_key", sa.Text, primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "sealed_logs",
        sa.Column("execution_id", sa.Text, primary_key=True),
        sa.Column("sealed_at", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )
