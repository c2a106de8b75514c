"""constituency watch: organisations' constituencies, the ASN prefix map, watch subscriptions, the
matches the matcher found and its cursor

Revision ID: 0008_watch
Revises: 0007_benign
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op


revision = "0008_watch"
down_revision = "0008_i18n"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asn_prefixes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asn", sa.BigInteger(), nullable=False),
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asn_prefixes")),
        sa.UniqueConstraint("asn", "prefix", name=op.f("uq_asn_prefixes_asn_prefix")),
    )
    with op.batch_alter_table("asn_prefixes", schema=None) as batch_op:
        batch_op.create_index("ix_asn_prefixes_asn", ["asn"], unique=False)

    op.create_table(
        "watch_matches",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("version_seq", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.Column("rule", sa.String(length=300), nullable=False),
        sa.Column("matched_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_matches")),
        sa.UniqueConstraint(
            "organisation_id",
            "version_seq",
            "value",
            name=op.f("uq_watch_matches_organisation_id_version_seq_value"),
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("watch_matches", schema=None) as batch_op:
        batch_op.create_index("ix_watch_matches_org", ["organisation_id", "id"], unique=False)

    op.create_table(
        "watch_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("cursor_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cursor_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("lease_until_us", sa.BigInteger(), nullable=True),
        sa.Column("leased_by", sa.String(length=128), nullable=True),
        sa.Column("updated_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_watch_state")),
    )
    op.create_table(
        "constituency_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("declared_at_us", sa.BigInteger(), nullable=False),
        sa.Column("declared_by", sa.Integer(), nullable=True),
        sa.Column("confirmed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("confirmed_by_org", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_constituency_entries_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constituency_entries")),
        sa.UniqueConstraint(
            "organisation_id",
            "kind",
            "value",
            name=op.f("uq_constituency_entries_organisation_id_kind_value"),
        ),
    )
    with op.batch_alter_table("constituency_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_constituency_entries_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "watch_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("secret", sa.String(length=255), nullable=True),
        sa.Column("to_addr", sa.String(length=320), nullable=True),
        sa.Column("events", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("cursor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_attempt_us", sa.BigInteger(), nullable=True),
        sa.Column("last_success_us", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("lease_until_us", sa.BigInteger(), nullable=True),
        sa.Column("leased_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_watch_subscriptions_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_subscriptions")),
    )
    with op.batch_alter_table("watch_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watch_subscriptions_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("watch_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watch_subscriptions_organisation_id"))

    op.drop_table("watch_subscriptions")
    with op.batch_alter_table("constituency_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_constituency_entries_organisation_id"))

    op.drop_table("constituency_entries")
    op.drop_table("watch_state")
    with op.batch_alter_table("watch_matches", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_matches_org")

    op.drop_table("watch_matches")
    with op.batch_alter_table("asn_prefixes", schema=None) as batch_op:
        batch_op.drop_index("ix_asn_prefixes_asn")

    op.drop_table("asn_prefixes")
