"""provenance: who owns each STIX id, and versions private to their publisher

Revision ID: 0004_integrity
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_integrity"
down_revision = "0003"
branch_labels = None
depends_on = None

# SCOs and marking definitions have no hub-wide owner (hub.ingest); the rest belongs to its first publisher
UNOWNED_TYPES = (
    "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file",
    "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
    "user-account", "windows-registry-key", "x509-certificate", "marking-definition",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "object_owners",
        sa.Column("stix_id", sa.String(300), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column(
            "collection_id", sa.String(36), sa.ForeignKey("collections.id", ondelete="CASCADE"), nullable=False
        ),
    )
    with op.batch_alter_table("object_versions") as batch_op:
        batch_op.add_column(sa.Column("private_to", sa.Integer(), nullable=False, server_default="0"))
        batch_op.drop_constraint("uq_object_versions_version", type_="unique")
        batch_op.create_unique_constraint(
            "uq_object_versions_version", ["collection_id", "stix_id", "version_us", "private_to"]
        )
    # what is already stored belongs to whoever stored it first (ids compare case-insensitively)
    types = ", ".join(f"'{t}'" for t in UNOWNED_TYPES)
    op.execute(
        "INSERT INTO object_owners (stix_id, organisation_id, collection_id) "
        "SELECT lower(ov.stix_id), ov.producer_id, ov.collection_id FROM object_versions ov JOIN "
        f"(SELECT min(seq) AS seq FROM object_versions WHERE type NOT IN ({types}) "
        "GROUP BY lower(stix_id)) f0 ON f0.seq = ov.seq"
    )


def downgrade() -> None:
    op.execute("DELETE FROM object_versions WHERE private_to <> 0")
    with op.batch_alter_table("object_versions") as batch_op:
        batch_op.drop_constraint("uq_object_versions_version", type_="unique")
        batch_op.create_unique_constraint(
            "uq_object_versions_version", ["collection_id", "stix_id", "version_us"]
        )
        batch_op.drop_column("private_to")
    op.drop_table("object_owners")
