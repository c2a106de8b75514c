"""The sync worker: claim a due feed, run it, record the run; once, for every due feed, or in a loop."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub import metrics
from hub.db import begin_write
from hub.sync.jobs import FeedJob, RunOutcome, run_feed
from hub.sync.models import Feed, FeedRun
from hub.sync.scheduler import LEASE_S, claim_due, claim_named, now_us, record_run

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


def run_claimed(
    sm: sessionmaker[Session], feed: Feed, *, worker_id: str, environ: Mapping[str, str] | None = None
) -> Completed:
    """Run a feed this worker holds (outside any transaction), then record it in one transaction."""
    job = FeedJob.of(feed)
    started = now_us()
    outcome = run_feed(sm, job, environ=environ)
    finished = now_us()
    metrics.feed_run(job.direction, outcome.ok, (finished - started) / 1e6)
    with sm() as session, session.begin():
        begin_write(session)
        run = record_run(
            session,
            feed_id=job.id,
            worker_id=worker_id,
            outcome=outcome,
            cursor_before=job.cursor,
            started_us=started,
            finished_us=finished,
        )
    return Completed(job, outcome, run)


def run_next(
    sm: sessionmaker[Session],
    *,
    worker_id: str,
    lease_s: int = LEASE_S,
    due_by_us: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Completed | None:
    """Claim, run and record the next due feed; None when no feed is due."""
    with sm() as session:
        feed = claim_due(session, worker_id=worker_id, now_us=now_us(), lease_s=lease_s, due_by_us=due_by_us)
    if feed is None:
        return None
    return run_claimed(sm, feed, worker_id=worker_id, environ=environ)


def run_named(
    sm: sessionmaker[Session],
    name: str,
    *,
    worker_id: str,
    lease_s: int = LEASE_S,
    environ: Mapping[str, str] | None = None,
) -> Completed:
    """Run one feed now, due or not (raises ClaimError when unknown or held by another worker)."""
    with sm() as session:
        feed = claim_named(session, name=name, worker_id=worker_id, now_us=now_us(), lease_s=lease_s)
    return run_claimed(sm, feed, worker_id=worker_id, environ=environ)


def run_due(
    sm: sessionmaker[Session],
    *,
    worker_id: str,
    lease_s: int = LEASE_S,
    environ: Mapping[str, str] | None = None,
    on_run: Callable[[Completed], None] | None = None,
) -> list[Completed]:
    """Run every feed due now, each once (feeds falling due during the pass wait for the next one)."""
    start = now_us()
    done: list[Completed] = []
    while (
        c := run_next(sm, worker_id=worker_id, lease_s=lease_s, due_by_us=start, environ=environ)
    ) is not None:
        done.append(c)
        if on_run:
            on_run(c)
    return done


class Worker:
    """The `hub sync worker` loop: claim, run, record; sleep `poll_s` when nothing is due.

    `stop()` (the CLI calls it on SIGINT and SIGTERM) lets the current run finish and be recorded.
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
    ):
        self.sm, self.worker_id, self.poll_s, self.lease_s = sm, worker_id, poll_s, lease_s
        self.max_runs, self.environ, self.on_run = max_runs, environ, on_run
        self.stopping = threading.Event()

    def stop(self) -> None:
        """Finish the current run, then return from `run()`."""
        self.stopping.set()

    def run(self) -> int:
        """Loop until stopped or `max_runs` runs are recorded; return how many were."""
        runs = 0
        while not self.stopping.is_set() and (self.max_runs is None or runs < self.max_runs):
            try:
                c = run_next(self.sm, worker_id=self.worker_id, lease_s=self.lease_s, environ=self.environ)
            except OperationalError as exc:  # the database restarting is no reason for the worker to die
                log.warning("worker %s: database unavailable, retrying: %s", self.worker_id, exc)
                self.stopping.wait(self.poll_s)
                continue
            if c is None:
                self.stopping.wait(self.poll_s)
                continue
            runs += 1
            if self.on_run:
                self.on_run(c)
        return runs
