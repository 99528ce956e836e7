"""A call's recording is found by a server-issued id stored on its request, not by the call id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``service_requests.recording_id``."""
    with op.batch_alter_table("service_requests") as batch:
        batch.add_column(sa.Column("recording_id", sa.String(32)))


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("service_requests") as batch:
        batch.drop_column("recording_id")
