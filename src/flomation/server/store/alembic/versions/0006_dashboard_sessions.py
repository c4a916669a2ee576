"""Dashboard sessions in the database, so that every replica knows every sign-in."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.Text, primary_key=True),
        sa.Column("csrf", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_seen_at", sa.Float, nullable=False),
    )
    op.create_index("ix_dashboard_sessions_last_seen", "dashboard_sessions", ["last_seen_at"])
