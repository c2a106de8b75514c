"""the console's language per account (console_credentials.language; empty: the browser's choice)

Revision ID: 0008_i18n
Revises: 0007_benign
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_i18n"
down_revision = "0008_exports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("console_credentials") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("console_credentials") as batch_op:
        batch_op.drop_column("language")
