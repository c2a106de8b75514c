"""object_counts: shared object versions per collection, day added, TLP, type and publisher

Statistics sum these rows instead of counting object_versions (issue 22); the store keeps them in the
transactions that insert and delete versions. The backfill counts what is stored already.

Revision ID: 0006_load
Revises: 0005_console
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_load"
down_revision = "0006_feeds"
branch_labels = None
depends_on = None

DAY_US = 86_400_000_000


def upgrade() -> None:
    op.create_table(
        "object_counts",
        sa.Column("collection_id", sa.String(36), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("tlp", sa.SmallInteger(), nullable=False),
        sa.Column("type", sa.String(250), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("last_added_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "collection_id", "day", "tlp", "type", "producer_id", name=op.f("pk_object_counts")
        ),
    )
    # dates added are positive, so integer division is the UTC day on both databases
    op.execute(
        "INSERT INTO object_counts (collection_id, day, tlp, type, producer_id, n, last_added_us) "
        f"SELECT collection_id, CAST(date_added_us / {DAY_US} AS INTEGER), tlp, type, producer_id, "
        "count(*), max(date_added_us) FROM object_versions WHERE private_to = 0 "
        f"GROUP BY collection_id, CAST(date_added_us / {DAY_US} AS INTEGER), tlp, type, producer_id"
    )


def downgrade() -> None:
    op.drop_table("object_counts")
