"""object_values: the value index (each value a stored version carries, canonical, IPs as byte ranges),
filled from the versions already stored

Revision ID: 0008_values
Revises: 0007_benign
Create Date: 2026-12-07
"""

import orjson
import sqlalchemy as sa
from alembic import op

from hub.vocab.values import INDEXED_TYPES, index_entries

revision = "0008_values"
down_revision = "0007_benign"
branch_labels = None
depends_on = None

BATCH = 2000  # versions read per batch: the backfill holds one batch at a time, whatever is stored


def upgrade() -> None:
    op.create_table(
        "object_values",
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
        sa.PrimaryKeyConstraint("seq", "ord", name=op.f("pk_object_values")),
    )
    op.create_index("ix_object_values_key", "object_values", ["key", "seq"])
    op.create_index("ix_object_values_range", "object_values", ["lo", "hi"])
    op.create_index("ix_object_values_host", "object_values", ["host"])
    _backfill(op.get_bind())


def _lifecycle(obj: dict[str, object]) -> tuple[bool, int | None]:
    from hub.stix import timestamp_us

    revoked = obj.get("revoked") is True
    until = obj.get("valid_until")
    if until is None:
        return revoked, None
    try:
        return revoked, timestamp_us(until, "valid_until")
    except ValueError:
        return revoked, 0


def _backfill(conn: sa.Connection) -> None:
    """Index the stored versions a batch at a time, in sequence order."""
    values = sa.table(
        "object_values",
        *(sa.column(c) for c in ("seq", "ord", "kind", "stix_type", "value", "algorithm", "port")),
        *(sa.column(c, sa.Boolean()) for c in ("in_pattern", "simple", "revoked")),
        sa.column("valid_until_us", sa.BigInteger()),
        *(sa.column(c, sa.LargeBinary()) for c in ("key", "lo", "hi", "host")),
    )
    select = sa.text(
        "SELECT seq, body FROM object_versions WHERE seq > :after AND type IN :types ORDER BY seq LIMIT :n"
    ).bindparams(sa.bindparam("types", expanding=True))
    after = 0
    while True:
        page = conn.execute(select, {"after": after, "types": sorted(INDEXED_TYPES), "n": BATCH}).all()
        if not page:
            return
        rows = []
        for seq, body in page:
            try:
                obj = orjson.loads(body)
            except orjson.JSONDecodeError:
                continue
            revoked, until = _lifecycle(obj)
            for i, e in enumerate(index_entries(obj)):
                rows.append(
                    {"seq": seq, "ord": i, "kind": e.kind, "stix_type": e.stix_type, "value": e.value,
                     "key": e.key, "lo": e.lo, "hi": e.hi, "host": e.host, "algorithm": e.algorithm,
                     "port": e.port, "in_pattern": e.in_pattern, "simple": e.simple, "revoked": revoked,
                     "valid_until_us": until}
                )  # fmt: skip
        if rows:
            conn.execute(sa.insert(values), rows)
        after = page[-1][0]


def downgrade() -> None:
    op.drop_index("ix_object_values_host", table_name="object_values")
    op.drop_index("ix_object_values_range", table_name="object_values")
    op.drop_index("ix_object_values_key", table_name="object_values")
    op.drop_table("object_values")
