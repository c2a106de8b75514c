"""feeds: names unique per group, and who declared each feed (a coordinator's reaches public addresses only)

Revision ID: 0006_feeds
Revises: 0005_console
Create Date: 2026-12-07

Existing feeds that only the operator could have declared (push feeds, files, feeds with credentials)
are marked "operator"; every other existing feed is marked "coordinator", so after the upgrade it
reaches only public addresses and those in HUB_OUTBOUND_ALLOW until the operator's `hub sync load`
declares it again (which marks the feeds of the file "operator").
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_feeds"
down_revision = "0006_coord"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("declared_by", sa.String(16), server_default="coordinator", nullable=False)
        )
        batch_op.create_check_constraint("declared_by", "declared_by IN ('operator', 'coordinator')")
        batch_op.drop_constraint("uq_feeds_name", type_="unique")
        batch_op.create_unique_constraint(op.f("uq_feeds_group_slug_name"), ["group_slug", "name"])
    feeds = sa.table(
        "feeds",
        sa.column("declared_by", sa.String),
        sa.column("direction", sa.String),
        sa.column("url", sa.Text),
        sa.column("username", sa.String),
        sa.column("password_env", sa.String),
    )
    url = sa.func.lower(feeds.c.url)
    op.execute(
        feeds.update()
        .where(
            sa.or_(
                feeds.c.direction == "push",
                feeds.c.username.is_not(None),
                feeds.c.password_env.is_not(None),
                sa.and_(~url.like("http://%"), ~url.like("https://%")),
            )
        )
        .values(declared_by="operator")
    )


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_feeds_group_slug_name"), type_="unique")
        batch_op.create_unique_constraint("uq_feeds_name", ["name"])
        batch_op.drop_constraint(op.f("ck_feeds_declared_by"), type_="check")
        batch_op.drop_column("declared_by")
