"""object ids long enough for the longest STIX type

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # STIX types may be 250 characters: with "--" and a UUID an id is up to 288 (255 refused them)
    with op.batch_alter_table("object_versions") as batch_op:
        batch_op.alter_column(
            "stix_id", existing_type=sa.String(255), type_=sa.String(300), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("object_versions") as batch_op:
        batch_op.alter_column(
            "stix_id", existing_type=sa.String(300), type_=sa.String(255), existing_nullable=False
        )
