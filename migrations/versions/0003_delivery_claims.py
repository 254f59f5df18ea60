"""deliveries: claimed by the process sending them, so two processes never send the same one

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claim_owner", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("claim_until", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("claim_until")
        batch.drop_column("claim_owner")
