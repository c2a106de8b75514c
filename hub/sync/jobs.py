"""Running one feed: a pull through the import path, or a push through the outbound path.

A run holds no transaction of its own: the import commits batch by batch and the push reads in one
snapshot, so a claimed feed's row is never locked while the network is slow.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors import FeedSettings
from hub.db import end_read
from hub.lookup.benign import DEFAULT_GUARD
from hub.net import OutboundGuard
from hub.policy.rules import Destination
from hub.stix import timestamp_us
from hub.sync.feedback import post_back
from hub.sync.feeds import connector_options, seen_at
from hub.sync.fetch import Access, Conditional, RunInterrupted, is_url
from hub.sync.importer import ImportReport, Target, producer_of, resolve_submission, run_import
from hub.sync.models import Feed
from hub.sync.outbound import OutboundReport, destination_for, push_to_peer, source_collection
from hub.sync.snapshot import flagged, listed, revoke_unlisted
from hub.sync.sources import TAXII_FORMATS, PullCursor, feed_results, valid_cursor
from hub.sync.upstream import upstream_screen
from hub.trust.benign import guard_for
from hub.trust.models import TrustGroup
from hub.vocab.time import format_us

log = logging.getLogger(__name__)


class CredentialError(RuntimeError):
    """The environment variable a feed names for its password is not set."""


@dataclass
class RunControl:
    """What a run checks between pages, batches and envelopes: a stop request, and its lease.

    `renew()` extends the lease and answers False when another worker took the feed over; it is called
    at most every `renew_every_s`, so a run that lives longer than its lease keeps the feed.
    """

    stop: threading.Event | None = None
    renew: Callable[[], bool] | None = None
    renew_every_s: float = 60.0
    # saves a cursor (and an audit event) mid-run; answers False when the feed's cursor moved meanwhile
    save: Callable[[str | None, str, Audit | None], bool] | None = None
    saved_cursor: str | None = None  # the last cursor `save` stored
    _last: float = field(default_factory=time.monotonic)

    def progress(self, expected: str | None, cursor: str, audit: Audit | None) -> None:
        """Store the run's progress so far (a no-op without `save`)."""
        if self.save is not None and self.save(self.saved_cursor or expected, cursor, audit):
            self.saved_cursor = cursor

    def checkpoint(self) -> None:
        """Raise RunInterrupted when the run should stop; renew the lease when it is time."""
        if self.stop is not None and self.stop.is_set():
            raise RunInterrupted("interrupted: the worker was asked to stop (SIGTERM or SIGINT)")
        if self.renew is not None and time.monotonic() - self._last >= self.renew_every_s:
            self._last = time.monotonic()
            if not self.renew():
                raise RunInterrupted("interrupted: the lease expired and another worker took the feed")


@dataclass(frozen=True)
class FeedJob:
    """A claimed feed's definition and cursor, detached from any session so the run needs none."""

    id: int
    name: str
    direction: str
    format: str
    url: str
    group: str
    collection: str
    publish_as: str | None
    peer_community: str | None
    tlp: str
    tlp_version: int
    options: dict[str, Any]
    username: str | None
    password_env: str | None
    cursor: str | None
    interval_s: int
    public: bool = False
    upstream_default_tlp: str | None = None
    auth_header: str | None = None
    timeout_s: float | None = None
    enabled: bool = True
    etag: str | None = None
    last_modified: str | None = None
    guarded: bool = True  # a coordinator's feed: public addresses only, errors that never echo the source
    two_way: bool = False  # a TAXII pull: the feedback on what it brought in goes back upstream
    feedback_cursor: str | None = None

    @classmethod
    def of(cls, feed: Feed) -> FeedJob:
        """Snapshot a feed row."""
        return cls(
            id=feed.id,
            name=feed.name,
            direction=feed.direction,
            format=feed.format,
            url=feed.url,
            group=feed.group_slug,
            collection=feed.collection,
            publish_as=feed.publish_as,
            peer_community=feed.peer_community,
            tlp=feed.tlp,
            tlp_version=feed.tlp_version,
            options=connector_options(feed),
            username=feed.username,
            password_env=feed.password_env,
            cursor=feed.cursor,
            interval_s=feed.interval_s,
            public=bool(feed.public),
            upstream_default_tlp=feed.upstream_default_tlp,
            auth_header=feed.auth_header,
            timeout_s=feed.timeout_s,
            enabled=feed.enabled,
            etag=feed.etag,
            last_modified=feed.last_modified,
            guarded=feed.declared_by != "operator",
            two_way=bool(feed.two_way),
            feedback_cursor=feed.feedback_cursor,
        )


@dataclass
class Audit:
    """An audit event the run's record writes in its own transaction."""

    action: str
    group_id: int
    collection_id: str
    count: int
    detail: str


@dataclass
class RunOutcome:
    """What one run did, and where the next run starts.

    For a push, `sent` counts what the peer stored new, `unchanged` what it already had, `withdrawn`
    the reclassified objects deleted at the peer, `refused` what it refused or could not be sent. For a
    two-way pull, `sent` counts the reports the upstream took back (its refusals are in `reasons`).
    """

    ok: bool = True
    read: int = 0
    created: int = 0
    new_versions: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    refused: int = 0
    sent: int = 0
    withdrawn: int = 0
    benign: int = 0  # values on a known-benign list: stored, flagged, left off device lists
    cursor_after: str | None = None
    error: str | None = None
    reasons: list[str] = field(default_factory=list)
    audit: Audit | None = None
    validators: tuple[str | None, str | None] | None = None  # URL feeds: (ETag, Last-Modified) to keep
    # a two-way pull's reports posted back: (feedback cursor before, after); None when none were read
    feedback: tuple[str | None, str | None] | None = None

    def summary(self, direction: str) -> str:
        """The counts as a person reads them."""
        if direction == "push":
            return (
                f"sent {self.sent} new, {self.unchanged} already at the peer, refused by the peer "
                f"{self.refused}, withdrawn {self.withdrawn}"
            )
        back = f", feedback sent back {self.sent}" if self.feedback is not None else ""
        return (
            f"read {self.read}, new {self.created}, new versions {self.new_versions}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}, skipped {self.skipped}, "
            f"refused {self.refused}{back}"
        )


def password_of(job: FeedJob, environ: Mapping[str, str]) -> str | None:
    """The feed's password, read from the environment variable it names (never from the database)."""
    if not job.password_env:
        return None
    value = environ.get(job.password_env)
    if value is None:
        raise CredentialError(
            f"environment variable {job.password_env} (password_env of feed {job.name!r}) is not set"
        )
    return value


def run_feed(
    sm: sessionmaker[Session],
    job: FeedJob,
    *,
    environ: Mapping[str, str] | None = None,
    control: RunControl | None = None,
) -> RunOutcome:
    """Run a feed once; every failure becomes a failed outcome with a message, never an exception.

    While it runs, `in_run()` is true: a signal handler may then raise RunInterrupted, which ends a
    request blocked on a silent upstream at once instead of after its timeout.
    """
    control = control or RunControl()
    try:
        _running.active = True
        env = os.environ if environ is None else environ
        password = password_of(job, env)
        if job.direction == "push":
            return run_push(sm, job, password=password, control=control)
        guard = OutboundGuard.from_environ(env) if job.guarded else None
        return run_pull(sm, job, password=password, control=control, guard=guard)
    except Exception as exc:  # a worker outlives any one feed's failure; the run records why
        _running.active = False
        known = exc.__class__.__module__.startswith("hub.") or isinstance(exc, ValueError)
        if not known:
            log.exception("feed %s failed", job.name)
        message = str(exc) if known else f"{type(exc).__name__}: {exc}"
        if job.guarded and not known:  # what an unknown error says may quote the source
            message = f"{type(exc).__name__} (details in the hub's log)"
        # a push that saved progress before failing keeps it
        return RunOutcome(ok=False, cursor_after=control.saved_cursor or job.cursor, error=message[:4000])
    finally:
        _running.active = False


class _Running(threading.local):
    active = False


_running = _Running()


def in_run() -> bool:
    """True while this thread is inside `run_feed` (so interrupting it is recorded as a failed run)."""
    return _running.active


def run_pull(
    sm: sessionmaker[Session],
    job: FeedJob,
    *,
    password: str | None,
    control: RunControl,
    guard: OutboundGuard | None = None,
) -> RunOutcome:
    """Import the feed into its collection; TAXII sources pull only what was added after the cursor.

    A source that yields no valid record at all is a failed run; so is an upstream cursor that does
    not parse (what was imported stays, and the cursor stays where it was). With a `guard` (a
    coordinator's feed) the source is reached only at addresses the guard allows, and the run's error
    and notes never quote what the source served (the reasons go to the hub's log instead).
    """
    if job.publish_as is None:
        raise ValueError(f"feed {job.name!r} has no publish_as organisation")
    taxii = job.format in TAXII_FORMATS
    if taxii and job.cursor:
        try:
            valid_cursor(job.cursor)
        except ValueError as exc:
            raise ValueError(
                f"the stored cursor is unusable ({exc}): `hub sync reset-cursor {job.name}` clears it"
            ) from None
    producer_id, producer_name = producer_of(sm, job.publish_as)
    options = dict(job.options)
    snapshot = bool(options.pop("snapshot", False)) and not taxii
    if options.get("lifetime"):
        options["seen_at"] = seen_at(int(options["lifetime"]), time.time())
    settings = FeedSettings(
        producer_id=producer_id,
        producer_name=producer_name,
        feed_name=options.pop("feed_name", "") or job.url,
        tlp=(job.upstream_default_tlp or "amber") if taxii else job.tlp,
        tlp_version=job.tlp_version,
        **options,
    )
    target = Target(job.group, job.collection, job.publish_as)
    screen = None
    if taxii:
        with sm() as session:
            submission, _org = resolve_submission(session, target)
        screen = upstream_screen(
            submission,
            source=job.url,
            org=job.publish_as,
            peer_community=job.peer_community,
            public=job.public,
            upstream_default_tlp=job.upstream_default_tlp,
            tlp_version=job.tlp_version,
        )
    conditional = (
        Conditional(job.etag, job.last_modified)
        if is_url(job.url) and job.format not in TAXII_FORMATS
        else None
    )
    access = Access(
        user=job.username,
        password=password,
        auth_header=job.auth_header,
        timeout=job.timeout_s,
        conditional=conditional,
        guard=guard,
    )
    cursor = PullCursor(job.cursor)
    results = feed_results(
        job.format,
        job.url,
        settings,
        added_after=job.cursor if taxii else None,
        cursor=cursor,
        access=access,
    )
    report = ImportReport()
    error = None
    ids: set[str] = set()
    hits: dict[str, int] = {}
    with sm() as session:
        group = session.scalar(select(TrustGroup).where(TrustGroup.slug == job.group))
        values_guard = guard_for(session, group) if group is not None else DEFAULT_GUARD
    try:
        run_import(
            sm,
            target=target,
            results=flagged(listed(results, ids) if snapshot else results, hits, values_guard.listed),
            screen=screen,
            progress=lambda _n: control.checkpoint(),
            report=report,
        )
    except RunInterrupted as exc:
        error = str(exc)
    outcome = RunOutcome(
        read=report.read,
        created=report.created,
        new_versions=report.new_versions,
        unchanged=report.unchanged,
        rejected=report.rejected,
        skipped=report.skipped,
        refused=report.refused,
        cursor_after=cursor.last if taxii and error is None else job.cursor,
        reasons=report.reasons[:10] if guard is None else _counted(job, report),
    )
    if conditional is not None:
        if conditional.not_modified:
            outcome.reasons.append("not modified since the last download (conditional GET)")
        outcome.validators = (conditional.etag, conditional.last_modified)
    if error is None and report.normalised == 0 and report.rejected > 0:
        first = report.reasons[0] if report.reasons and guard is None else "(reasons in the hub's log)"
        error = (
            f"no valid record in what the source served ({report.rejected} rejected, none normalised): "
            f"{first}"
        )
        outcome.validators = None  # so the next run downloads it again rather than getting a 304
    if error is None and cursor.bad is not None:
        bad = repr(cursor.bad) if guard is None else "(a value)"
        error = (
            f"the upstream sent X-TAXII-Date-Added-Last {bad}, which is not a timestamp: "
            f"what was read is stored, the cursor stays at {job.cursor or '(start)'}"
        )
        outcome.cursor_after = job.cursor
    if hits:
        outcome.benign = sum(hits.values())
        outcome.reasons.append(
            f"known-benign: {sum(hits.values())} value(s) flagged, left off device lists ("
            + ", ".join(f"{name}: {n}" for name, n in sorted(hits.items()))
            + ")"
        )
    if error is None and snapshot and report.normalised > 0:
        # only after a full download that held records: a 304, an empty or a failed one revokes nothing
        revoked = revoke_unlisted(
            sm, target=target, producer_id=producer_id, ids=ids, now_us=time.time_ns() // 1000
        )
        if revoked:
            outcome.reasons.append(f"snapshot: {revoked} indicator(s) no longer listed by the source revoked")
    if error is None and job.two_way:
        error = _post_back(sm, job, password, outcome, guard)
    if error is not None:
        outcome.ok, outcome.error = False, error[:4000]
    return outcome


def _post_back(
    sm: sessionmaker[Session],
    job: FeedJob,
    password: str | None,
    outcome: RunOutcome,
    guard: OutboundGuard | None = None,
) -> str | None:
    """A two-way pull, after its import: post the feedback on what it brought in back upstream
    (hub.sync.feedback). The feedback cursor moves past what the upstream acknowledged, refused
    reports included; the error, when posting stopped."""
    after = timestamp_us(job.feedback_cursor, "feedback cursor") if job.feedback_cursor else None
    with sm() as session:
        coll, grp = source_collection(session, group=job.group, collection=job.collection)
        report = post_back(
            session, collection=coll, group=grp, origin=job.publish_as or "", url=job.url,
            user=job.username, password=password, peer_community=job.peer_community, public=job.public,
            added_after_us=after, timeout=job.timeout_s, tlp_version=job.tlp_version, guard=guard,
        )  # fmt: skip
        end_read(session)
    cursor = format_us(report.last_added_us) if report.last_added_us else job.feedback_cursor
    outcome.feedback = (job.feedback_cursor, cursor)
    outcome.sent = report.sent
    if report.sent or report.already_there or report.refused_by_peer:
        outcome.reasons.append(
            f"feedback back upstream: {report.sent} sent, {report.already_there} already there, "
            f"{report.refused_by_peer} refused by the upstream"
        )
        outcome.reasons.extend((report.reasons or [])[:5])
    if report.sent:
        outcome.audit = Audit(
            action="feedback-out", group_id=grp.id, collection_id=coll.id, count=report.sent,
            detail=f"feed {job.name}: feedback on what it brought in posted back to {job.url}",
        )  # fmt: skip
    return f"posting feedback back upstream: {report.error}" if report.error else None


def _counted(job: FeedJob, report: ImportReport) -> list[str]:
    """A coordinator's feed's notes: counts only (the reasons quote the source); the log keeps them."""
    if not report.reasons:
        return []
    for reason in report.reasons[:10]:
        log.info("coordinator feed %s: %s", job.name, reason[:500])
    return [
        f"{report.rejected} records rejected, {report.refused} objects refused "
        "(reasons quote the source: the operator finds them in the hub's log)"
    ]


def run_push(
    sm: sessionmaker[Session], job: FeedJob, *, password: str | None, control: RunControl
) -> RunOutcome:
    """Post what may leave the collection for the peer, added after the cursor, in envelopes that fit.

    Each acknowledged envelope moves the feed's cursor and is audited at once (`control.progress`), so
    even a worker killed mid-push leaves the peer's progress on record and the next run resumes after
    it. A push that stops part-way (the peer went away, SIGTERM) is a failed run that keeps what was
    acknowledged: its counts, its audit, and a cursor after the last acknowledged envelope.
    """
    if job.cursor:
        try:
            valid_cursor(job.cursor)
        except ValueError as exc:
            raise ValueError(
                f"the stored cursor is unusable ({exc}): `hub sync reset-cursor {job.name}` clears it"
            ) from None
    audited = 0

    def audit(count: int, dest: Destination, note: str = "") -> Audit:
        return Audit(
            action="push-out",
            group_id=grp.id,
            collection_id=coll.id,
            count=count,
            detail=f"feed {job.name} to {job.url} ({dest.display}){note}",
        )

    def on_envelope(r: OutboundReport) -> None:
        nonlocal audited
        if r.last_added_us is not None:
            control.progress(job.cursor, format_us(r.last_added_us), audit(r.sent - audited, dest))
            audited = r.sent
        control.checkpoint()

    # no session.begin(): outbound() reads each page in a transaction of its own, so a long push holds
    # no snapshot (a held one keeps SQLite's WAL from being reset)
    with sm() as session:
        coll, grp = source_collection(session, group=job.group, collection=job.collection)
        dest = destination_for(session, to_group=None, peer_community=job.peer_community, name=job.url)
        after = timestamp_us(job.cursor, "cursor") if job.cursor else None
        report = push_to_peer(
            session, collection=coll, group=grp, destination=dest, url=job.url, user=job.username,
            password=password, added_after_us=after, timeout=job.timeout_s, tlp_version=job.tlp_version,
            on_envelope=on_envelope,
        )  # fmt: skip
        # end the last read by committing it, not by close()'s rollback: a session joined to a shared
        # connection (the test suite's) would otherwise roll back the progress recorded meanwhile
        end_read(session)
    return RunOutcome(
        ok=report.error is None,
        error=report.error,
        read=report.sent + report.already_there + report.refused_by_peer,
        sent=report.sent,
        unchanged=report.already_there,
        refused=report.refused_by_peer,
        withdrawn=report.withdrawn,
        cursor_after=format_us(report.last_added_us) if report.last_added_us else job.cursor,
        reasons=(report.reasons or [])[:10],
        # what earlier envelopes of this run audited is not counted twice
        audit=audit(
            report.sent - audited,
            dest,
            f": run of {report.sent} sent, {report.already_there} already there, {report.withdrawn} "
            "withdrawn" + (f"; stopped: {report.error}" if report.error else ""),
        ),
    )
