"""The indexes behind the dashboard's listings: keyset pages newest first, per filter, and the
live list's "changed since" reads (flomation.server.dashboard.queries)."""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_executions_created", "executions", ["created_at"])
    op.create_index(
        "ix_executions_completion_created", "executions", ["completion_status", "created_at"]
    )
    op.create_index("ix_executions_runner_created", "executions", ["runner_id", "created_at"])
    op.create_index("ix_executions_updated", "executions", ["updated_at"])
