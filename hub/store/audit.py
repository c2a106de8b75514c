"""Audit events: who did what, when, where and how many; their deferred writing, roll-up and pruning."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, delete, func, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub.db import begin_write
from hub.store.models import AuditDaily, AuditEvent

log = logging.getLogger("hub.audit")
DAY_US = 86_400 * 1_000_000
PULL_ACTIONS = ("pull-objects", "pull-object", "pull-manifest", "pull-versions")


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
    at_us: int | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (it commits or rolls back with the work)."""
    event = AuditEvent(
        at_us=at_us if at_us is not None else time.time_ns() // 1000,
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


@dataclass(frozen=True)
class PullEvent:
    """A read to audit after its answer is sent; `at_us` is when the read happened."""

    action: str
    organisation_id: int
    account_id: int | None
    group_id: int
    collection_id: str
    count: int
    at_us: int = 0

    def __post_init__(self) -> None:
        if not self.at_us:
            object.__setattr__(self, "at_us", time.time_ns() // 1000)


def record_later(sessionmaker: Any, event: PullEvent, *, attempts: int = 8, pause: float = 1.0) -> None:
    """Write a read's audit event in a transaction of its own, after the read has been answered.

    A busy database (SQLite's write lock held past busy_timeout, a PostgreSQL restart) delays the row,
    never the read: the write is retried with growing pauses, and an event that still cannot be written
    is logged in full at ERROR level, so that it can be replayed from the log rather than lost.
    """
    for attempt in range(attempts):
        try:
            with sessionmaker() as session, session.begin():
                begin_write(session)
                if session.get_bind().dialect.name == "postgresql":
                    # an audit row need not wait for its WAL flush; a crash loses at most ~0.6 s of them
                    session.execute(func.set_config("synchronous_commit", "off", True).select())
                record(session, **asdict(event))
            return
        except OperationalError as exc:
            log.warning("audit write failed (attempt %d of %d): %s", attempt + 1, attempts, exc.orig)
            time.sleep(min(pause * 2**attempt, 60.0))
    log.error("audit event not written, replay it: %s", asdict(event))


def rollup(session: Session, *, before_us: int, actions: tuple[str, ...] = PULL_ACTIONS) -> tuple[int, int]:
    """Fold events of `actions` older than `before_us` into per-day counts; return (events, day rows).

    Each (UTC day, action, organisation, group, collection) becomes one `audit_daily` row holding how
    many events it stands for and the sum of their counts; the folded events are deleted.
    """
    day = (AuditEvent.at_us // DAY_US).label("day")
    where = (AuditEvent.at_us < before_us, AuditEvent.action.in_(actions))
    groups = session.execute(
        select(
            day,
            AuditEvent.action,
            AuditEvent.organisation_id,
            AuditEvent.group_id,
            AuditEvent.collection_id,
            func.count(),
            func.coalesce(func.sum(AuditEvent.count), 0),
        )
        .where(*where)
        .group_by(
            day, AuditEvent.action, AuditEvent.organisation_id, AuditEvent.group_id, AuditEvent.collection_id
        )
    ).all()
    if not groups:
        return 0, 0
    days = {_day_text(int(g[0])) for g in groups}
    existing = {
        (r.day, r.action, r.organisation_id, r.group_id, r.collection_id): r
        for r in session.scalars(select(AuditDaily).where(AuditDaily.day.in_(days)))
    }
    folded = 0
    for day_no, action, org, group, coll, events, total in groups:
        key = (_day_text(int(day_no)), action, org, group, coll)
        row = existing.get(key)
        if row is None:
            row = AuditDaily(
                day=key[0],
                action=action,
                organisation_id=org,
                group_id=group,
                collection_id=coll,
                events=0,
                count=0,
            )
            session.add(row)
            existing[key] = row
        row.events += int(events)
        row.count += int(total)
        folded += int(events)
    session.execute(delete(AuditEvent).where(*where))
    session.flush()
    return folded, len(groups)


def prune(session: Session, *, before_us: int) -> tuple[int, int]:
    """Delete audit events and daily rows older than `before_us`; return how many of each."""
    events = cast(CursorResult[Any], session.execute(delete(AuditEvent).where(AuditEvent.at_us < before_us)))
    cutoff_day = _day_text(before_us // DAY_US)
    days = cast(CursorResult[Any], session.execute(delete(AuditDaily).where(AuditDaily.day < cutoff_day)))
    session.flush()
    return int(events.rowcount or 0), int(days.rowcount or 0)


def _day_text(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * 86_400, tz=UTC).strftime("%Y-%m-%d")
