"""feeds: a two-way pull feed posts the feedback on what it brought in back to its upstream hub

Revision ID: 0010_fbsync
Revises: 0009_dlperf
Create Date: 2026-12-07

`two_way` is part of a pull feed's declaration; `feedback_cursor` is its run state: the date added
of the last report posted back (TAXII keyset position, as a push feed's cursor).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_fbsync"
down_revision = "0009_dlperf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("two_way", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("feedback_cursor", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("feedback_cursor")
        batch_op.drop_column("two_way")
