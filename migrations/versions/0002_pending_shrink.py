"""sources: remember a much shorter text until it has been seen enough times to be accepted

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("pending_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("pending_count", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("pending_count")
        batch.drop_column("pending_key")
