"""API keys: scopes, rotation state, SHA-256 digests; per-group suspensions of a key by a coordinator

Revision ID: 0006_keys
Revises: 0005_console
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_keys"
down_revision = "0005_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        # keys issued before scopes existed could do everything a key does: they keep all four
        batch_op.add_column(
            sa.Column("scopes", sa.String(64), nullable=False, server_default="download,manage,read,write")
        )
        batch_op.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replaced_by", sa.String(32), nullable=True))
    op.create_table(
        "key_group_suspensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_key_group_suspensions_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["trust_groups.id"],
            name=op.f("fk_key_group_suspensions_group_id_trust_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_group_suspensions")),
        sa.UniqueConstraint("api_key_id", "group_id", name=op.f("uq_key_group_suspensions_api_key_id_group_id")),
    )


def downgrade() -> None:
    op.drop_table("key_group_suspensions")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("rotated_at")
        batch_op.drop_column("scopes")
