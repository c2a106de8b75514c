"""the two ingest tables check their references in code, not by foreign keys

PostgreSQL checks each inserted row's foreign keys with a locking lookup of the referenced row: two
per object version and two per ownership claim, 4,000 for an envelope of 1,000 new objects, which cost
more than the inserts themselves. The hub never deletes a collection or an organisation, and every row
of these tables takes its references from the authorised collection and caller, so the constraints
guarded nothing the code does not. On SQLite, object_versions is rebuilt with AUTOINCREMENT again
(lost in 0004_integrity's rebuild), so a deleted newest row's seq is never handed out twice.

Revision ID: 0005_ingest
Revises: 0004_issue10
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_ingest"
down_revision = "0004_issue10"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    ("object_versions", "fk_object_versions_collection_id_collections", "collections", "collection_id", "CASCADE"),
    ("object_versions", "fk_object_versions_producer_id_organisations", "organisations", "producer_id", None),
    ("object_owners", "fk_object_owners_organisation_id_organisations", "organisations", "organisation_id", None),
    ("object_owners", "fk_object_owners_collection_id_collections", "collections", "collection_id", "CASCADE"),
)


def _kwargs(table: str) -> dict[str, object]:
    return {"table_kwargs": {"sqlite_autoincrement": True}} if table == "object_versions" else {}


def upgrade() -> None:
    for table in ("object_versions", "object_owners"):
        with op.batch_alter_table(table, recreate="auto", **_kwargs(table)) as batch:  # type: ignore[arg-type]
            for t, name, _referred, _column, _ondelete in FOREIGN_KEYS:
                if t == table:
                    batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table in ("object_versions", "object_owners"):
        with op.batch_alter_table(table, recreate="auto", **_kwargs(table)) as batch:  # type: ignore[arg-type]
            for t, name, referred, column, ondelete in FOREIGN_KEYS:
                if t == table:
                    batch.create_foreign_key(name, referred, [column], ["id"], ondelete=ondelete)
