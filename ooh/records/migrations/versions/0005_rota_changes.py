"""Live rotas: shifts staff add to an organisation's rota for a period (``rota_changes``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``rota_changes``."""
    op.create_table(
        "rota_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("po", sa.String(64), nullable=False),
        sa.Column("service_option", sa.String(100), nullable=False),
        sa.Column("sub_category", sa.String(100)),
        sa.Column("days", sa.JSON, nullable=False),
        sa.Column("start_time", sa.String(5), nullable=False),
        sa.Column("end_time", sa.String(5), nullable=False),
        sa.Column("stage1", sa.String(64), nullable=False),
        sa.Column("stage2", sa.String(64), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime()),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("made_by", sa.Integer, sa.ForeignKey("staff_users.id"), nullable=False),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime()),
        sa.Column("withdrawn_by", sa.Integer, sa.ForeignKey("staff_users.id")),
        sa.Column("withdrawn_reason", sa.String(500)),
    )
    op.create_index("ix_rota_changes_po_starts", "rota_changes", ["po", "starts_at"])


def downgrade() -> None:
    """Drop it."""
    op.drop_table("rota_changes")
