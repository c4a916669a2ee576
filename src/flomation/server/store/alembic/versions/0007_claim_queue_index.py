"""Index the claim queue: ``created``/``pending`` executions in claim order, and only those.

Without it a claim on PostgreSQL read every queued execution, joined each to its flow and sorted
them to take the oldest (docs/benchmarks.md, "the claim queue's index"); with it the claim reads
the queue in order and stops at the first execution the runner may take. Partial, so that
executions leave the index when claimed and it stays the size of the queue.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_QUEUED = sa.text("execution_status = 'created' AND completion_status = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_executions_claim_queue",
        "executions",
        ["created_at", "id"],
        postgresql_where=_QUEUED,
        sqlite_where=_QUEUED,
    )
