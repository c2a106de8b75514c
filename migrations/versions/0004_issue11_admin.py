"""the admin API: organisations can be deactivated, collections archived, invitations, audited changes

Revision ID: 0004_issue11
Revises: 0004_integrity
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_issue11"
down_revision = "0004_integrity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("collections") as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("target", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("target_org_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("before", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("after", sa.Text(), nullable=True))
    op.create_index("ix_audit_events_group", "audit_events", ["group_id", "id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("organisation_slug", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("organisation_name", sa.String(length=255), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("clearance", sa.SmallInteger(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["trust_groups.id"], name=op.f("fk_invitations_group_id_trust_groups"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_invitations_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_id", name=op.f("uq_invitations_token_id")),
    )
    op.create_index("ix_invitations_group_id", "invitations", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_invitations_group_id", table_name="invitations")
    op.drop_table("invitations")
    op.drop_index("ix_audit_events_group", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch_op:
        for name in ("after", "before", "target_org_id", "target"):
            batch_op.drop_column(name)
    with op.batch_alter_table("collections") as batch_op:
        batch_op.drop_column("archived_at")
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.drop_column("active")
