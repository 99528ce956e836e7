"""Lone-worker support: officers' visits (``lone_worker_visits``) and their steps (``lone_worker_events``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create both tables."""
    op.create_table(
        "lone_worker_visits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("po", sa.String(64), nullable=False),
        sa.Column("contact_key", sa.String(64), nullable=False),
        sa.Column("place", sa.String(300), nullable=False),
        sa.Column("reference", sa.String(32)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("checked_in_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("checked_out_at", sa.DateTime()),
        sa.Column("acknowledged_at", sa.DateTime()),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("alarms", sa.Integer, nullable=False),
        sa.Column("managers", sa.JSON, nullable=False),
    )
    op.create_index("ix_lone_worker_visits_contact", "lone_worker_visits", ["po", "contact_key", "checked_out_at"])
    op.create_table(
        "lone_worker_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("visit_id", sa.Integer, sa.ForeignKey("lone_worker_visits.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("data", sa.JSON),
    )
    op.create_index("ix_lone_worker_events_visit_id", "lone_worker_events", ["visit_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_table("lone_worker_events")
    op.drop_table("lone_worker_visits")
