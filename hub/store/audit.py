"""Audit events: who did what, when, where and how many."""

from __future__ import annotations

import time
from collections.abc import Collection

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from hub.store.models import AuditEvent


def record(
    session: Session,
    *,
    action: str,
    organisation_id: int | None,
    account_id: int | None = None,
    group_id: int | None = None,
    collection_id: str | None = None,
    count: int = 0,
    detail: str = "",
    target: str | None = None,
    target_org_id: int | None = None,
    before: str | None = None,
    after: str | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (it commits or rolls back with the work)."""
    event = AuditEvent(
        at_us=time.time_ns() // 1000,
        action=action,
        organisation_id=organisation_id,
        account_id=account_id,
        group_id=group_id,
        collection_id=collection_id,
        count=count,
        detail=detail,
        target=target,
        target_org_id=target_org_id,
        before=before,
        after=after,
    )
    session.add(event)
    return event


def events(
    session: Session,
    *,
    within_groups: Collection[int] | None,
    own_org_id: int | None = None,
    group_id: int | None = None,
    org_id: int | None = None,
    action: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Audit events newest first, keyset-paginated on id (`before_id` is the last id of the page before).

    `within_groups` None reads every event (platform admin); otherwise only events of those groups, and
    the group-less events done by or to `own_org_id` (its own keys and organisation record).
    """
    stmt = select(AuditEvent)
    if within_groups is not None:
        scope: ColumnElement[bool] = AuditEvent.group_id.in_(list(within_groups))
        if own_org_id is not None:
            scope = or_(
                scope,
                and_(
                    AuditEvent.group_id.is_(None),
                    or_(AuditEvent.organisation_id == own_org_id, AuditEvent.target_org_id == own_org_id),
                ),
            )
        stmt = stmt.where(scope)
    if group_id is not None:
        stmt = stmt.where(AuditEvent.group_id == group_id)
    if org_id is not None:
        stmt = stmt.where(or_(AuditEvent.organisation_id == org_id, AuditEvent.target_org_id == org_id))
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if since_us is not None:
        stmt = stmt.where(AuditEvent.at_us >= since_us)
    if until_us is not None:
        stmt = stmt.where(AuditEvent.at_us < until_us)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    return list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))
