"""feeds: upstream relationship, timeouts, URL-feed auth header, cron schedule, conditional GET, health

Revision ID: 0004_issue9
Revises: 0004_issue11
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_issue9"
down_revision = "0004_issue11"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch_op:
        batch_op.add_column(sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("upstream_default_tlp", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("auth_header", sa.String(128), nullable=True))
        batch_op.add_column(sa.Column("timeout_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("schedule", sa.String(128), nullable=True))
        batch_op.add_column(sa.Column("unhealthy_after", sa.Integer(), server_default="3", nullable=False))
        batch_op.add_column(sa.Column("etag", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_modified", sa.String(64), nullable=True))
    with op.batch_alter_table("feed_runs") as batch_op:
        batch_op.add_column(sa.Column("withdrawn", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed_runs") as batch_op:
        batch_op.drop_column("notes")
        batch_op.drop_column("withdrawn")
    with op.batch_alter_table("feeds") as batch_op:
        for name in (
            "last_modified",
            "etag",
            "unhealthy_after",
            "schedule",
            "timeout_s",
            "auth_header",
            "upstream_default_tlp",
            "public",
        ):
            batch_op.drop_column(name)
