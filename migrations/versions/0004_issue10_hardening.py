"""daily audit roll-up and the generated page-token secret

Revision ID: 0004_issue10
Revises: 0004_issue9
Create Date: 2026-12-01
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004_issue10"
down_revision = "0004_issue9"
branch_labels = None
depends_on = None

SeqType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_daily",
        sa.Column("id", SeqType, primary_key=True, autoincrement=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("collection_id", sa.String(36), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_daily")),
    )
    op.create_index(op.f("ix_audit_daily_day"), "audit_daily", ["day"])
    secrets_table = op.create_table(
        "hub_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_hub_secrets")),
    )
    # generated here, once, so that every replica of this database signs page tokens alike
    op.bulk_insert(secrets_table, [{"name": "page-token", "value": secrets.token_urlsafe(32)}])


def downgrade() -> None:
    op.drop_table("hub_secrets")
    op.drop_index(op.f("ix_audit_daily_day"), table_name="audit_daily")
    op.drop_table("audit_daily")
