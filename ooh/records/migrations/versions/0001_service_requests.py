"""Service requests, their updates and the reference counters (the schema before Alembic).

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(32), nullable=False, unique=True),
        sa.Column("po", sa.String(64), nullable=False),
        sa.Column("service_option", sa.String(100), nullable=False),
        sa.Column("sub_category", sa.String(100)),
        sa.Column("priority", sa.String(32)),
        sa.Column("call_outcome", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("caller_name", sa.String(200)),
        sa.Column("contact_number", sa.String(64)),
        sa.Column("address", sa.Text()),
        sa.Column("uprn", sa.String(32)),
        sa.Column("address_verified", sa.Boolean(), nullable=False),
        sa.Column("address_key", sa.String(500)),
        sa.Column("address_postcode", sa.String(10)),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("sender_id", sa.String(200)),
        sa.Column("started_at", sa.DateTime()),
        sa.Column("ended_at", sa.DateTime()),
        sa.Column("referral_dispatched_at", sa.DateTime()),
        sa.Column("referral_status", sa.String(16), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_requests_dup_uprn", "service_requests", ["po", "service_option", "status", "uprn"])
    op.create_index("ix_requests_dup_address", "service_requests", ["po", "service_option", "status", "address_key"])
    op.create_index("ix_requests_po_created", "service_requests", ["po", "created_at"])
    op.create_index("ix_requests_caller_name", "service_requests", ["po", "caller_name"])
    op.create_index("ix_requests_referral", "service_requests", ["referral_status"])
    op.create_table(
        "request_updates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("service_requests.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON()),
    )
    op.create_index("ix_request_updates_request_id", "request_updates", ["request_id"])
    op.create_table(
        "reference_counters",
        sa.Column("prefix", sa.String(8), primary_key=True),
        sa.Column("day", sa.String(8), primary_key=True),
        sa.Column("last", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    """Drop everything (data included): only for a throw-away database."""
    op.drop_table("reference_counters")
    op.drop_index("ix_request_updates_request_id", "request_updates")
    op.drop_table("request_updates")
    for name in ("ix_requests_referral", "ix_requests_caller_name", "ix_requests_po_created",
                 "ix_requests_dup_address", "ix_requests_dup_uprn"):  # fmt: skip
        op.drop_index(name, "service_requests")
    op.drop_table("service_requests")
