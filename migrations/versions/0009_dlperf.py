"""the value index by kind and key: device blocklists page through one kind's values in key order

Revision ID: 0009_dlperf
Revises: 0008_watch
Create Date: 2026-12-07
"""

from alembic import op

revision = "0009_dlperf"
down_revision = "0008_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_object_values_kind_key", "object_values", ["kind", "key", "seq", "ord"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_object_values_kind_key", table_name="object_values")
