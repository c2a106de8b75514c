"""Which feed runs next and who runs it: claims with leases, backoff, and the record of each run.

Workers coordinate through the feeds table alone. A claim is a short write transaction that picks the
most overdue feed nobody holds and writes a lease on it: on PostgreSQL the row is selected `FOR UPDATE
SKIP LOCKED`, so concurrent claimers pass over each other's rows instead of queueing; SQLite has no row
locks, and the claim's `BEGIN IMMEDIATE` makes claimers take turns on the one write lock. The run then
happens outside any transaction, and its record (a `FeedRun`, the feed's new cursor and next run, the
lease cleared) is one more transaction. A worker that dies leaves a lease that expires, and the feed is
claimable again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from hub.db import begin_write
from hub.store.audit import record
from hub.sync.models import Feed, FeedRun

if TYPE_CHECKING:
    from hub.sync.jobs import RunOutcome

LEASE_S = 1800  # longer than any run should take; a run that outlives its lease may be run twice
BACKOFF_BASE_S = 60
US = 1_000_000


class ClaimError(LookupError):
    """A named feed cannot be claimed: it does not exist, or another worker holds it."""


def now_us() -> int:
    """The current time in microseconds since the epoch."""
    return time.time_ns() // 1000


def backoff_s(interval_s: int, failures: int) -> int:
    """Seconds to wait after the n-th consecutive failure: 60, 120, 240, ... capped at the interval."""
    exponent = min(max(failures - 1, 0), 30)
    return min(interval_s, BACKOFF_BASE_S * (1 << exponent))


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _unleased(now: int) -> ColumnElement[bool]:
    return or_(Feed.lease_until_us.is_(None), Feed.lease_until_us < now)


def due_query(*, now_us: int, due_by_us: int | None = None) -> Select[Feed]:
    """The most overdue enabled feed that is due by `due_by_us` (default now) and not leased at `now_us`."""
    due = now_us if due_by_us is None else due_by_us
    return (
        select(Feed)
        .where(Feed.enabled.is_(True), Feed.next_run_at_us <= due, _unleased(now_us))
        .order_by(Feed.next_run_at_us, Feed.id)
        .limit(1)
    )


def lock_due(session: Session, *, now_us: int, due_by_us: int | None = None) -> Feed | None:
    """Select the next due feed inside the caller's write transaction, row-locked where the database can.

    PostgreSQL skips rows other claimers have locked; on SQLite the caller's BEGIN IMMEDIATE already
    excludes every other writer.
    """
    stmt = due_query(now_us=now_us, due_by_us=due_by_us)
    if _is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalar(stmt)


def lease(feed: Feed, *, worker_id: str, now_us: int, lease_s: int) -> None:
    """Mark the feed as held by `worker_id` until `now_us + lease_s`."""
    feed.lease_until_us = now_us + lease_s * US
    feed.leased_by = worker_id


def claim_due(
    session: Session, *, worker_id: str, now_us: int, lease_s: int = LEASE_S, due_by_us: int | None = None
) -> Feed | None:
    """Claim the next due feed, or None; commits at once so that other workers see the lease.

    This is a job boundary like a request: it owns its (short) transaction. The session should not
    expire on commit (`hub.db.make_sessionmaker`), so the returned feed is readable afterwards.
    `due_by_us` lets one pass over due feeds (`hub sync run-once`) ignore feeds that fall due meanwhile.
    """
    with session.begin():
        begin_write(session)
        feed = lock_due(session, now_us=now_us, due_by_us=due_by_us)
        if feed is not None:
            lease(feed, worker_id=worker_id, now_us=now_us, lease_s=lease_s)
    return feed


def claim_named(session: Session, *, name: str, worker_id: str, now_us: int, lease_s: int = LEASE_S) -> Feed:
    """Claim one feed by name whether due or not (a manual run); refused while another worker holds it."""
    with session.begin():
        begin_write(session)
        stmt = select(Feed).where(Feed.name == name)
        if _is_postgres(session):
            stmt = stmt.with_for_update()  # wait for a claimer mid-transaction: claims are short
        feed = session.scalar(stmt)
        if feed is None:
            raise ClaimError(f"no feed {name!r} (`hub sync list` shows the loaded feeds)")
        if feed.lease_until_us is not None and feed.lease_until_us >= now_us:
            raise ClaimError(
                f"feed {name!r} is running on worker {feed.leased_by} (lease for another "
                f"{(feed.lease_until_us - now_us) // US} s)"
            )
        lease(feed, worker_id=worker_id, now_us=now_us, lease_s=lease_s)
    return feed


def record_run(
    session: Session,
    *,
    feed_id: int,
    worker_id: str,
    outcome: RunOutcome,
    cursor_before: str | None,
    started_us: int,
    finished_us: int,
) -> FeedRun:
    """Add the run to the history and move the feed on: cursor, next run, failures, lease released.

    The feed's state changes only while the lease is still this worker's: a worker whose lease lapsed and
    was taken over leaves the feed to its new holder, and its run is history only.
    """
    run = FeedRun(
        feed_id=feed_id,
        worker_id=worker_id,
        started_us=started_us,
        finished_us=finished_us,
        status="ok" if outcome.ok else "failed",
        read=outcome.read,
        created=outcome.created,
        new_versions=outcome.new_versions,
        unchanged=outcome.unchanged,
        rejected=outcome.rejected,
        skipped=outcome.skipped,
        refused=outcome.refused,
        sent=outcome.sent,
        cursor_before=cursor_before,
        cursor_after=outcome.cursor_after,
        error=outcome.error,
    )
    session.add(run)
    feed = session.get(Feed, feed_id, with_for_update=True)
    if feed is not None and feed.leased_by == worker_id:
        if outcome.ok:
            feed.failures = 0
            feed.last_error = None
            if feed.cursor == cursor_before:  # else `hub sync load` moved the feed elsewhere meanwhile
                feed.cursor = outcome.cursor_after
            feed.next_run_at_us = finished_us + feed.interval_s * US
        else:
            feed.failures += 1
            feed.last_error = outcome.error
            feed.next_run_at_us = finished_us + backoff_s(feed.interval_s, feed.failures) * US
        feed.lease_until_us = None
        feed.leased_by = None
    if outcome.audit is not None:
        a = outcome.audit
        record(
            session,
            action=a.action,
            organisation_id=None,
            group_id=a.group_id,
            collection_id=a.collection_id,
            count=a.count,
            detail=a.detail[:2000],
        )
    session.flush()
    return run
