"""feedback to the originator: report rows' audience, the report index, device-list holds and the
groups' feedback settings

Revision ID: 0008_feedback
Revises: 0008_watch
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_feedback"
down_revision = "0008_watch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("object_versions") as batch_op:
        batch_op.add_column(sa.Column("audience", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("trust_groups") as batch_op:
        batch_op.add_column(
            sa.Column("feedback_visibility", sa.String(24), server_default="publisher", nullable=False)
        )
        batch_op.add_column(
            sa.Column("false_positive_threshold", sa.SmallInteger(), server_default="2", nullable=False)
        )
    op.create_table(
        "feedback_reports",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collection_id", sa.String(36), nullable=False),
        sa.Column("object_id", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("first_seen_us", sa.BigInteger(), nullable=True),
        sa.Column("last_seen_us", sa.BigInteger(), nullable=True),
        sa.Column("date_added_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_feedback_reports")),
    )
    op.create_index("ix_feedback_reports_object", "feedback_reports", ["collection_id", "object_id"])
    op.create_table(
        "feedback_holds",
        sa.Column("collection_id", sa.String(36), nullable=False),
        sa.Column("object_id", sa.String(300), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("since_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("collection_id", "object_id", name=op.f("pk_feedback_holds")),
    )


def downgrade() -> None:
    op.drop_table("feedback_holds")
    op.drop_index("ix_feedback_reports_object", table_name="feedback_reports")
    op.drop_table("feedback_reports")
    with op.batch_alter_table("trust_groups") as batch_op:
        batch_op.drop_column("false_positive_threshold")
        batch_op.drop_column("feedback_visibility")
    with op.batch_alter_table("object_versions") as batch_op:
        batch_op.drop_column("audience")
