"""audit_events: indexes for a group's events of one action, and for one organisation's, newest first

The dashboard shows a group's last refusals (action push-refused); with only (group_id, id) the query
walked the group's events back to the oldest when refusals were rare: 1.1 s at 3M events (issue 22).
The audit log filtered to an organisation (what it did, what was done to it) walked the log back the
same way: 4.9 s at 3M events for a member with no events.

Revision ID: 0008_load
Revises: 0008_values
Create Date: 2026-12-07
"""

from alembic import op

revision = "0008_load"
down_revision = "0008_values"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_group_action", "audit_events", ["group_id", "action", "id"])
    op.create_index("ix_audit_events_organisation", "audit_events", ["organisation_id", "id"])
    op.create_index("ix_audit_events_target_org", "audit_events", ["target_org_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_target_org", table_name="audit_events")
    op.drop_index("ix_audit_events_organisation", table_name="audit_events")
    op.drop_index("ix_audit_events_group_action", table_name="audit_events")
