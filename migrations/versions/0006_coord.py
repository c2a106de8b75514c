"""coordinator authority: who introduced each organisation and membership; organisations awaiting approval

Revision ID: 0006_coord
Revises: 0005_console
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_coord"
down_revision = "0006_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.add_column(sa.Column("introduced_by_org_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("pending_approval", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("memberships") as batch_op:
        batch_op.add_column(sa.Column("added_by_org_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch_op:
        batch_op.drop_column("added_by_org_id")
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.drop_column("pending_approval")
        batch_op.drop_column("introduced_by_org_id")
