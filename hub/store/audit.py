"""Audit events: who did what, when, where and how many; writing them off the read path; roll-up, pruning."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, delete, false, func, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub.db import begin_write
from hub.store.models import AuditDaily, AuditEvent

log = logging.getLogger("hub.audit")
DAY_US = 86_400 * 1_000_000
# reads that roll up: TAXII pulls, and the downloads devices fetch on a schedule
PULL_ACTIONS = (
    "pull-objects", "pull-object", "pull-manifest", "pull-versions",
    "download-txt", "download-csv", "download-bundle", "lookup-search",
    "download-suricata", "download-zeek", "download-rpz", "download-misp",
)  # fmt: skip


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
    the group-less events done by or to `own_org_id` (its own keys and organisation record) and the
    changes to the collections it owns.
    """
    stmt = select(AuditEvent)
    if within_groups is not None and group_id is not None:
        # one group asked for: the scope reduces to a plain condition, which lets the database use the
        # (group_id, action, id) index (an OR of scopes made it walk the group's events back instead)
        if group_id not in within_groups:  # only the changes to a collection its organisation owns
            owned: ColumnElement[bool] = (
                and_(AuditEvent.target_org_id == own_org_id, AuditEvent.action.like("collection.%"))
                if own_org_id is not None
                else false()
            )
            stmt = stmt.where(owned)
        within_groups = None
    if within_groups is not None:
        scope: ColumnElement[bool] = AuditEvent.group_id.in_(list(within_groups))
        if own_org_id is not None:
            scope = or_(
                scope,
                and_(
                    AuditEvent.group_id.is_(None),
                    or_(AuditEvent.organisation_id == own_org_id, AuditEvent.target_org_id == own_org_id),
                ),
                # the owner of a named-recipient collection sees every change made to it
                and_(AuditEvent.target_org_id == own_org_id, AuditEvent.action.like("collection.%")),
            )
        stmt = stmt.where(scope)
    if group_id is not None:
        stmt = stmt.where(AuditEvent.group_id == group_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if since_us is not None:
        stmt = stmt.where(AuditEvent.at_us >= since_us)
    if until_us is not None:
        stmt = stmt.where(AuditEvent.at_us < until_us)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    newest = AuditEvent.id.desc()
    if org_id is None:
        return list(session.scalars(stmt.order_by(newest).limit(limit)))
    # events done by the organisation, and those done to it by others: each newest first on an index of
    # its own ((organisation_id, id), (target_org_id, id)), merged; an OR of the two walked the whole
    # log back for an organisation with few events
    ids = stmt.with_only_columns(AuditEvent.id).order_by(newest).limit(limit)
    by = session.scalars(ids.where(AuditEvent.organisation_id == org_id)).all()
    to = session.scalars(
        ids.where(
            AuditEvent.target_org_id == org_id,
            or_(AuditEvent.organisation_id.is_(None), AuditEvent.organisation_id != org_id),
        )
    ).all()
    merged = sorted({*by, *to}, reverse=True)[:limit]
    if not merged:
        return []
    return list(session.scalars(select(AuditEvent).where(AuditEvent.id.in_(merged)).order_by(newest)))


@dataclass(frozen=True)
class PullEvent:
    """A read to audit once its answer is sent (`AuditWriter`); `at_us` is when the read happened."""

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


class AuditWriter:
    """Writes reads' audit events in a thread of its own, many to a transaction.

    A read only appends its event to a queue: no database work, no thread hop, and nothing for the
    next request on a keep-alive connection to wait for (a commit per read cost PostgreSQL about a
    third of a page's time). The writer waits `linger` seconds after an event for others to join it,
    then writes whatever has queued up, at most `batch` events, in one transaction. A busy database
    (SQLite's write lock held past busy_timeout, a PostgreSQL restart) delays the rows, never a read:
    a failed write is retried with growing pauses,
    and events that still cannot be written are logged in full at ERROR level, so that they can be
    replayed from the log rather than lost; so is an event offered while `limit` events wait.

    `flush` waits until every event submitted before it is written (the admin API's audit log calls it,
    so a coordinator always reads the reads this process answered); `close` flushes and stops.
    `inline` writes each event at once in the caller's thread instead: for a session factory bound to
    one shared connection, which no second thread may use (the test suite's transactional fixtures).
    """

    def __init__(
        self,
        sessionmaker: Callable[[], Any],
        *,
        batch: int = 1000,
        limit: int = 100_000,
        attempts: int = 8,
        pause: float = 1.0,
        linger: float = 0.1,
        inline: bool = False,
    ):
        self._sessionmaker = sessionmaker
        self.inline = inline
        self.linger = linger
        self._flushing = 0
        self.batch = batch
        self.limit = limit
        self.attempts = attempts
        self.pause = pause
        self._cv = threading.Condition()
        self._queue: deque[PullEvent] = deque()
        self._submitted = 0
        self._done = 0
        self._thread: threading.Thread | None = None
        self._closing = False

    def submit(self, event: PullEvent) -> None:
        """Queue an event for writing; returns at once."""
        if self.inline:
            self._write([event])
            return
        with self._cv:
            if len(self._queue) >= self.limit:
                log.error("audit queue full, event not written, replay it: %s", asdict(event))
                return
            self._queue.append(event)
            self._submitted += 1
            if self._thread is None or not self._thread.is_alive():
                self._closing = False
                self._thread = threading.Thread(target=self._run, name="hub-audit-writer", daemon=True)
                self._thread.start()
            self._cv.notify_all()

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until the events submitted so far are written (or given up and logged); False on timeout."""
        with self._cv:
            target = self._submitted
            self._flushing += 1
            self._cv.notify_all()
            try:
                return self._cv.wait_for(lambda: self._done >= target, timeout)
            finally:
                self._flushing -= 1

    def close(self, timeout: float | None = 30.0) -> None:
        """Write what is queued, then stop the thread (a later `submit` starts it again)."""
        self.flush(timeout)
        with self._cv:
            self._closing = True
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: bool(self._queue) or self._closing)
                if not self._queue:
                    return
                # a moment's wait gathers the reads of a busy hub into one transaction; a flush or a
                # full batch cuts it short
                self._cv.wait_for(
                    lambda: len(self._queue) >= self.batch or self._flushing > 0 or self._closing,
                    self.linger,
                )
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.batch))]
            try:
                self._write(batch)
            finally:
                with self._cv:
                    self._done += len(batch)
                    self._cv.notify_all()

    def _write(self, batch: list[PullEvent]) -> None:
        for attempt in range(self.attempts):
            try:
                with self._sessionmaker() as session, session.begin():
                    begin_write(session)
                    if session.get_bind().dialect.name == "postgresql":
                        # an audit row need not wait for its WAL flush; a crash loses at most ~0.6 s of them
                        session.execute(func.set_config("synchronous_commit", "off", True).select())
                    for event in batch:
                        record(session, **asdict(event))
                return
            except OperationalError as exc:
                log.warning("audit write failed (attempt %d of %d): %s", attempt + 1, self.attempts, exc.orig)
                if attempt + 1 < self.attempts:
                    time.sleep(min(self.pause * 2**attempt, 60.0))
            except Exception:  # the writer thread must outlive any one batch
                log.exception("audit write failed")
                break
        for event in batch:
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
