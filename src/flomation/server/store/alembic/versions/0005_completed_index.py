"""Index ``completed_at`` for the dashboard overview's "finished in the last N minutes"."""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_executions_completed", "executions", ["completed_at"])
