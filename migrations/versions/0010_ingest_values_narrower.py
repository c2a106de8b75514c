"""object_values with fewer B-trees to write: no separate value-key index (the (kind, key) index answers
every lookup by key), the IP-range and host indexes partial (only rows that have one), and on SQLite a
WITHOUT ROWID table clustered on its primary key (seq, ord), so no rowid B-tree beside it

Revision ID: 0010_ingest
Revises: 0010_fbsync
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_ingest"
down_revision = "0010_fbsync"
branch_labels = None
depends_on = None

_COLUMNS = (
    "seq, ord, kind, stix_type, value, key, lo, hi, host, algorithm, port, in_pattern, simple, revoked, "
    "valid_until_us"
)


def _table(name: str, *, rowid: bool) -> None:
    """object_values' columns (as migration 0008 made them) under `name`."""
    op.create_table(
        name,
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ord", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("stix_type", sa.String(32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("key", sa.LargeBinary(16), nullable=False),
        sa.Column("lo", sa.LargeBinary(16), nullable=True),
        sa.Column("hi", sa.LargeBinary(16), nullable=True),
        sa.Column("host", sa.LargeBinary(260), nullable=True),
        sa.Column("algorithm", sa.String(8), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("in_pattern", sa.Boolean(), nullable=False),
        sa.Column("simple", sa.Boolean(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("valid_until_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("seq", "ord", name="pk_object_values"),
        sqlite_with_rowid=rowid,
    )


def _rebuild_sqlite(*, rowid: bool) -> None:
    """SQLite cannot change a table's rowid in place: copy the rows into a new table and swap it in
    (the indexes go with the old table and are made again by the caller)."""
    _table("object_values_new", rowid=rowid)
    # the column list is the constant above, nothing from outside
    op.execute(f"INSERT INTO object_values_new ({_COLUMNS}) SELECT {_COLUMNS} FROM object_values")  # noqa: S608
    op.drop_table("object_values")
    op.rename_table("object_values_new", "object_values")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _rebuild_sqlite(rowid=False)
        op.create_index("ix_object_values_kind_key", "object_values", ["kind", "key", "seq", "ord"])
    else:
        op.drop_index("ix_object_values_key", table_name="object_values")
        op.drop_index("ix_object_values_range", table_name="object_values")
        op.drop_index("ix_object_values_host", table_name="object_values")
    op.create_index(
        "ix_object_values_range", "object_values", ["lo", "hi"],
        sqlite_where=sa.text("lo IS NOT NULL"), postgresql_where=sa.text("lo IS NOT NULL"),
    )  # fmt: skip
    op.create_index(
        "ix_object_values_host", "object_values", ["host"],
        sqlite_where=sa.text("host IS NOT NULL"), postgresql_where=sa.text("host IS NOT NULL"),
    )  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(rowid=True)
        op.create_index("ix_object_values_kind_key", "object_values", ["kind", "key", "seq", "ord"])
    else:
        op.drop_index("ix_object_values_range", table_name="object_values")
        op.drop_index("ix_object_values_host", table_name="object_values")
    op.create_index("ix_object_values_key", "object_values", ["key", "seq"])
    op.create_index("ix_object_values_range", "object_values", ["lo", "hi"])
    op.create_index("ix_object_values_host", "object_values", ["host"])
