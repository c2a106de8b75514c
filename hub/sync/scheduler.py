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
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from hub.db import begin_write
from hub.store.audit import record
from hub.sync.models import Feed, FeedRun

if TYPE_CHECKING:
    from hub.sync.jobs import Audit, RunOutcome

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


def next_run_us(feed: Feed, after_us: int) -> int:
    """When a feed runs next after `after_us`: its cron schedule's next time, or after its interval."""
    if feed.schedule:
        from hub.sync.feeds import next_cron_us

        return next_cron_us(feed.schedule, after_us)
    return after_us + feed.interval_s * US


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
        stmt = named(name)
        if _is_postgres(session):
            stmt = stmt.with_for_update()  # wait for a claimer mid-transaction: claims are short
        feed = _one(session, stmt, name)
        if not feed.enabled:
            raise ClaimError(
                f"feed {name!r} is disabled (`enabled: false` in the feeds file): it never runs until "
                "enabled again"
            )
        if feed.lease_until_us is not None and feed.lease_until_us >= now_us:
            raise ClaimError(
                f"feed {name!r} is running on worker {feed.leased_by} (lease for another "
                f"{(feed.lease_until_us - now_us) // US} s); if that worker is dead, "
                f"`hub sync release {name}` frees it"
            )
        lease(feed, worker_id=worker_id, now_us=now_us, lease_s=lease_s)
    return feed


def named(name: str) -> Select[Any]:
    """The feed called `name`, or `group/name` (feed names are unique within a group only)."""
    group, sep, short = name.rpartition("/")
    stmt = select(Feed).where(Feed.name == short)
    return stmt.where(Feed.group_slug == group) if sep else stmt


def _one(session: Session, stmt: Select[Any], name: str) -> Feed:
    feeds: list[Feed] = list(session.scalars(stmt.limit(2)))
    if not feeds:
        raise ClaimError(f"no feed {name!r} (`hub sync list` shows the loaded feeds)")
    if len(feeds) > 1:
        raise ClaimError(f"feeds of several groups are called {name!r}: name one as GROUP/{name}")
    return feeds[0]


def _named(session: Session, name: str) -> Feed:
    return _one(session, named(name), name)


def renew_lease(session: Session, *, feed_id: int, worker_id: str, now_us: int, lease_s: int) -> bool:
    """Extend this worker's lease on a feed it is running; False when the lease is no longer its own."""
    feed = session.get(Feed, feed_id, with_for_update=True)
    if feed is None or feed.leased_by != worker_id:
        return False
    lease(feed, worker_id=worker_id, now_us=now_us, lease_s=lease_s)
    session.flush()
    return True


def save_progress(
    session: Session,
    *,
    feed_id: int,
    worker_id: str,
    expected: str | None,
    cursor: str,
    audit: Audit | None = None,
) -> bool:
    """Move a running feed's cursor (and audit what got there) while its run goes on.

    A push records each acknowledged envelope so, should its worker die, the next run resumes after it
    and the audit trail holds what reached the peer. Nothing changes unless this worker still holds the
    feed and the cursor is still `expected` (not reset or moved by a reload meanwhile).
    """
    feed = session.get(Feed, feed_id, with_for_update=True)
    if feed is None or feed.leased_by != worker_id or feed.cursor != expected:
        return False
    feed.cursor = cursor
    if audit is not None:
        _audit(session, audit)
    session.flush()
    return True


def _audit(session: Session, a: Audit) -> None:
    record(
        session,
        action=a.action,
        organisation_id=None,
        group_id=a.group_id,
        collection_id=a.collection_id,
        count=a.count,
        detail=a.detail[:2000],
    )


def release(session: Session, *, name: str) -> str | None:
    """Clear a feed's lease (a dead worker's); the worker that held it, or None when none did.

    A worker that is in fact alive finishes its run, and its record then only adds history (see
    `record_run`); the feed is claimable at once.
    """
    feed = _named(session, name)
    holder = feed.leased_by
    feed.lease_until_us = None
    feed.leased_by = None
    session.flush()
    return holder


def reset_cursor(session: Session, *, name: str, to: str | None = None) -> str | None:
    """Set a feed's cursor to `to` (a timestamp) or clear it; the cursor it had.

    Clearing makes the next run start from the beginning: a pull re-reads the upstream (what is stored
    counts as unchanged), a push re-sends what may go (what the peer has counts as already there).
    URL feeds also forget their ETag and Last-Modified, so the next run downloads in full.
    """
    from hub.sync.sources import valid_cursor

    feed = _named(session, name)
    before = feed.cursor
    feed.cursor = valid_cursor(to) if to is not None else None
    if to is None:  # from the beginning: a two-way pull posts its feedback back again (already there)
        feed.feedback_cursor = None
    feed.etag = None
    feed.last_modified = None
    session.flush()
    return before


def record_run(
    session: Session,
    *,
    feed_id: int,
    worker_id: str,
    outcome: RunOutcome,
    cursor_before: str | None,
    started_us: int,
    finished_us: int,
    progress_cursor: str | None = None,
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
        withdrawn=outcome.withdrawn,
        benign=outcome.benign,
        cursor_before=cursor_before,
        cursor_after=outcome.cursor_after,
        error=outcome.error,
    )
    notes = list(outcome.reasons)
    session.add(run)
    feed = session.get(Feed, feed_id, with_for_update=True)
    if feed is not None and feed.leased_by == worker_id:
        # a failed push keeps what was acknowledged before it stopped: its cursor moves too
        expected = progress_cursor if progress_cursor is not None else cursor_before
        if feed.cursor == expected:  # else `hub sync load` or reset-cursor moved it meanwhile
            feed.cursor = outcome.cursor_after
        if outcome.feedback is not None and feed.feedback_cursor == outcome.feedback[0]:
            feed.feedback_cursor = outcome.feedback[1]
        if outcome.validators is not None:
            feed.etag, feed.last_modified = outcome.validators
        elif not outcome.ok:
            feed.etag = feed.last_modified = None
        if outcome.ok:
            feed.failures = 0
            feed.last_error = None
            feed.next_run_at_us = next_run_us(feed, finished_us)
        else:
            feed.failures += 1
            feed.last_error = outcome.error
            feed.next_run_at_us = min(
                finished_us + backoff_s(feed.interval_s, feed.failures) * US,
                next_run_us(feed, finished_us),
            )
            if feed.unhealthy:
                notes.append(f"feed unhealthy: {feed.failures} consecutive failures")
        feed.lease_until_us = None
        feed.leased_by = None
    run.notes = "\n".join(n[:500] for n in notes)[:8000] or None
    if outcome.audit is not None:
        _audit(session, outcome.audit)
    session.flush()
    return run
