"""The outbox (``jobs``), with a job for every referral that was still waiting to be sent.

Before this, unsent referrals were found by a retry loop that only started with the next new
referral; a database from then may hold pending or failed referrals, and each gets its job here so
the worker sends it at once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``jobs`` and queue the referrals that were never sent."""
    jobs = op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.DateTime()),
        sa.Column("last_error", sa.String(300)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime()),
        sa.UniqueConstraint("kind", "key", name="uq_jobs_kind_key"),
    )
    op.create_index("ix_jobs_done_due", "jobs", ["done_at", "due_at"])
    requests = sa.table(
        "service_requests",
        sa.column("reference", sa.String),
        sa.column("referral_status", sa.String),
        sa.column("status", sa.String),
    )
    unsent = op.get_bind().execute(
        sa.select(requests.c.reference).where(
            requests.c.referral_status.in_(("pending", "failed")), requests.c.status == "open"
        )
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [{"kind": "referral", "key": r.reference, "due_at": now, "attempts": 0, "created_at": now} for r in unsent]
    if rows:
        op.bulk_insert(jobs, rows)


def downgrade() -> None:
    """Drop the outbox."""
    op.drop_table("jobs")
