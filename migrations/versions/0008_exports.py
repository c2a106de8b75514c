"""SOA serials of the response-policy zones devices download (changed only when a zone's records are)

Revision ID: 0008_exports
Revises: 0007_benign
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_exports"
down_revision = "0008_load"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zone_serials",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_zone_serials")),
    )


def downgrade() -> None:
    op.drop_table("zone_serials")
