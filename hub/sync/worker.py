"""The sync worker: claim a due feed, run it, record the run; once, for every due feed, or in a loop."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub import metrics
from hub.db import begin_write
from hub.sync.fetch import RunInterrupted
from hub.sync.jobs import Audit, FeedJob, RunControl, RunOutcome, run_feed
from hub.sync.models import Feed, FeedRun
from hub.sync.notify import NotifyConfig
from hub.sync.notify import run_once as run_notify
from hub.sync.scheduler import (
    LEASE_S,
    claim_due,
    claim_named,
    now_us,
    record_run,
    renew_lease,
    save_progress,
)

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    """host:pid, unique enough among the workers sharing one database."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Completed:
    """A run that was recorded: the feed as claimed, what the run did, and its history row."""

    job: FeedJob
    outcome: RunOutcome
    run: FeedRun


def _renewer(sm: sessionmaker[Session], feed_id: int, worker_id: str, lease_s: int) -> Callable[[], bool]:
    def renew() -> bool:
        with sm() as session, session.begin():
            begin_write(session)
            return renew_lease(
                session, feed_id=feed_id, worker_id=worker_id, now_us=now_us(), lease_s=lease_s
            )

    return renew


def _saver(
    sm: sessionmaker[Session], feed_id: int, worker_id: str
) -> Callable[[str | None, str, Audit | None], bool]:
    def save(expected: str | None, cursor: str, audit: Audit | None) -> bool:
        with sm() as session, session.begin():
            begin_write(session)
            return save_progress(
                session, feed_id=feed_id, worker_id=worker_id, expected=expected, cursor=cursor, audit=audit
            )

    return save


def _record(
    sm: sessionmaker[Session],
    job: FeedJob,
    outcome: RunOutcome,
    worker_id: str,
    started: int,
    progress_cursor: str | None = None,
) -> FeedRun:
    with sm() as session, session.begin():
        begin_write(session)
        return record_run(
            session,
            feed_id=job.id,
            worker_id=worker_id,
            outcome=outcome,
            cursor_before=job.cursor,
            started_us=started,
            finished_us=now_us(),
            progress_cursor=progress_cursor,
        )


def run_claimed(
    sm: sessionmaker[Session],
    feed: Feed,
    *,
    worker_id: str,
    environ: Mapping[str, str] | None = None,
    lease_s: int = LEASE_S,
    stop: threading.Event | None = None,
) -> Completed:
    """Run a feed this worker holds (outside any transaction), then record it in one transaction.

    The run renews its lease as it goes (every third of `lease_s`) and stops at its next checkpoint once
    `stop` is set. Should recording the run fail, a failed run saying why is recorded instead, so the
    feed's lease is always released and no feed is left held by a worker that moved on.
    """
    job = FeedJob.of(feed)
    started = now_us()
    control = RunControl(
        stop=stop,
        renew=_renewer(sm, job.id, worker_id, lease_s),
        renew_every_s=max(lease_s / 3, 0.5),
        save=_saver(sm, job.id, worker_id),
    )
    try:
        outcome = run_feed(sm, job, environ=environ, control=control)
    except RunInterrupted as exc:  # raised by a signal handler just as the run ended
        outcome = RunOutcome(ok=False, cursor_after=control.saved_cursor or job.cursor, error=str(exc))
    metrics.feed_run(job.direction, outcome.ok, (now_us() - started) / 1e6)
    try:
        run = _record(sm, job, outcome, worker_id, started, control.saved_cursor)
    except OperationalError:
        raise  # the database is away: nothing can be recorded; the lease expires and the feed is retried
    except Exception as exc:  # e.g. a value the database refuses: record that, never leave the feed held
        log.exception("recording the run of feed %s failed", job.name)
        outcome = RunOutcome(
            ok=False,
            cursor_after=control.saved_cursor or job.cursor,
            error=(
                f"recording the run failed: {type(exc).__name__}: {str(exc)[:2000]} "
                f"(the run had: {outcome.summary(job.direction)[:500]})"
            ),
        )
        run = _record(sm, job, outcome, worker_id, started, control.saved_cursor)
    return Completed(job, outcome, run)


def run_next(
    sm: sessionmaker[Session],
    *,
    worker_id: str,
    lease_s: int = LEASE_S,
    due_by_us: int | None = None,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
) -> Completed | None:
    """Claim, run and record the next due feed; None when no feed is due."""
    with sm() as session:
        feed = claim_due(session, worker_id=worker_id, now_us=now_us(), lease_s=lease_s, due_by_us=due_by_us)
    if feed is None:
        return None
    return run_claimed(sm, feed, worker_id=worker_id, environ=environ, lease_s=lease_s, stop=stop)


def run_named(
    sm: sessionmaker[Session],
    name: str,
    *,
    worker_id: str,
    lease_s: int = LEASE_S,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
) -> Completed:
    """Run one feed now, due or not (ClaimError when unknown, disabled or held by another worker)."""
    with sm() as session:
        feed = claim_named(session, name=name, worker_id=worker_id, now_us=now_us(), lease_s=lease_s)
    return run_claimed(sm, feed, worker_id=worker_id, environ=environ, lease_s=lease_s, stop=stop)


def run_due(
    sm: sessionmaker[Session],
    *,
    worker_id: str,
    lease_s: int = LEASE_S,
    environ: Mapping[str, str] | None = None,
    on_run: Callable[[Completed], None] | None = None,
    stop: threading.Event | None = None,
) -> list[Completed]:
    """Run every feed due now, each once (feeds falling due during the pass wait for the next one)."""
    start = now_us()
    done: list[Completed] = []
    while (
        not (stop is not None and stop.is_set())
        and (
            c := run_next(
                sm, worker_id=worker_id, lease_s=lease_s, due_by_us=start, environ=environ, stop=stop
            )
        )
        is not None
    ):
        done.append(c)
        if on_run:
            on_run(c)
    return done


class Worker:
    """The `hub sync worker` loop: claim, run, record; sleep `poll_s` when nothing is due.

    `stop()` (the CLI calls it on SIGINT and SIGTERM) interrupts the current run at its next checkpoint
    (between pages, batches and envelopes; every request has a timeout), records it and returns. An
    error outside any run (the database away, a bug) is logged and the loop goes on.
    """

    def __init__(
        self,
        sm: sessionmaker[Session],
        *,
        worker_id: str,
        poll_s: float = 10.0,
        lease_s: int = LEASE_S,
        max_runs: int | None = None,
        environ: Mapping[str, str] | None = None,
        on_run: Callable[[Completed], None] | None = None,
        notify: NotifyConfig | None = None,
    ):
        self.sm, self.worker_id, self.poll_s, self.lease_s = sm, worker_id, poll_s, lease_s
        self.max_runs, self.environ, self.on_run = max_runs, environ, on_run
        self.stopping = threading.Event()
        # constituency watch rides on the same loop: one pass at most every poll_s, feeds due or not
        self.notify, self._next_notify = notify, 0.0

    def _watch(self) -> None:
        if self.notify is None or time.monotonic() < self._next_notify:
            return
        self._next_notify = time.monotonic() + self.poll_s
        try:
            run_notify(self.sm, worker_id=self.worker_id, config=self.notify)
        except Exception:  # the watch jobs' bad luck never stops the feeds
            log.exception("worker %s: a constituency watch pass failed; going on", self.worker_id)

    def stop(self) -> None:
        """Finish the current run, then return from `run()`."""
        self.stopping.set()

    def run(self) -> int:
        """Loop until stopped or `max_runs` runs are recorded; return how many were."""
        runs = 0
        while not self.stopping.is_set() and (self.max_runs is None or runs < self.max_runs):
            self._watch()
            try:
                c = run_next(
                    self.sm,
                    worker_id=self.worker_id,
                    lease_s=self.lease_s,
                    environ=self.environ,
                    stop=self.stopping,
                )
            except OperationalError as exc:  # the database restarting is no reason for the worker to die
                log.warning("worker %s: database unavailable, retrying: %s", self.worker_id, exc)
                self.stopping.wait(self.poll_s)
                continue
            except Exception:  # one feed's bad luck never stops the others
                log.exception("worker %s: a claim or record failed; going on", self.worker_id)
                self.stopping.wait(self.poll_s)
                continue
            if c is None:
                self.stopping.wait(self.poll_s)
                continue
            runs += 1
            if self.on_run:
                self.on_run(c)
        return runs
