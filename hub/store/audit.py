"""Audit events: who did what, when, where and how many."""

from __future__ import annotations

import time

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
) -> None:
    """Add an audit event to the current transaction (it commits or rolls back with the work)."""
    session.add(
        AuditEvent(
            at_us=time.time_ns() // 1000,
            action=action,
            organisation_id=organisation_id,
            account_id=account_id,
            group_id=group_id,
            collection_id=collection_id,
            count=count,
            detail=detail,
        )
    )
