"""per-group device-list settings (IP prefix minimums, known-benign mode), groups' own benign lists,
and the known-benign values each feed run flagged

Revision ID: 0007_benign
Revises: 0006_load
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_benign"
down_revision = "0006_load"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trust_groups") as batch_op:
        batch_op.add_column(sa.Column("min_ipv4_prefix", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("min_ipv6_prefix", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("benign_mode", sa.String(8), server_default="flag", nullable=False))
    with op.batch_alter_table("feed_runs") as batch_op:
        batch_op.add_column(sa.Column("benign", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "group_benign_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(2048), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("note", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["trust_groups.id"],
            name=op.f("fk_group_benign_entries_group_id_trust_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_benign_entries")),
        sa.UniqueConstraint("group_id", "value", name=op.f("uq_group_benign_entries_group_id_value")),
    )
    with op.batch_alter_table("group_benign_entries") as batch_op:
        batch_op.create_index(batch_op.f("ix_group_benign_entries_group_id"), ["group_id"], unique=False)


def downgrade() -> None:
    op.drop_table("group_benign_entries")
    with op.batch_alter_table("feed_runs") as batch_op:
        batch_op.drop_column("benign")
    with op.batch_alter_table("trust_groups") as batch_op:
        batch_op.drop_column("benign_mode")
        batch_op.drop_column("min_ipv6_prefix")
        batch_op.drop_column("min_ipv4_prefix")
