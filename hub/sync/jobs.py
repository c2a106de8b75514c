"""Running one feed: a pull through the import path, or a push through the outbound path.

A run holds no transaction of its own: the import commits batch by batch and the push reads in one
snapshot, so a claimed feed's row is never locked while the network is slow.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from connectors import FeedSettings
from hub.stix import format_us, timestamp_us
from hub.sync.feeds import connector_options
from hub.sync.importer import Target, producer_of, run_import
from hub.sync.models import Feed
from hub.sync.outbound import destination_for, push_to_peer, source_collection
from hub.sync.sources import TAXII_FORMATS, PullCursor, feed_results

log = logging.getLogger(__name__)


class CredentialError(RuntimeError):
    """The environment variable a feed names for its password is not set."""


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
    """What one run did, and where the next run starts."""

    ok: bool = True
    read: int = 0
    created: int = 0
    new_versions: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    refused: int = 0
    sent: int = 0
    cursor_after: str | None = None
    error: str | None = None
    reasons: list[str] = field(default_factory=list)
    audit: Audit | None = None

    def summary(self, direction: str) -> str:
        """The counts as a person reads them."""
        if direction == "push":
            return f"sent {self.sent}, refused by the peer {self.refused}"
        return (
            f"read {self.read}, new {self.created}, new versions {self.new_versions}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}, skipped {self.skipped}, "
            f"refused {self.refused}"
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
    sm: sessionmaker[Session], job: FeedJob, *, environ: Mapping[str, str] | None = None
) -> RunOutcome:
    """Run a feed once; every failure becomes a failed outcome with a message, never an exception."""
    try:
        password = password_of(job, os.environ if environ is None else environ)
        if job.direction == "push":
            return run_push(sm, job, password=password)
        return run_pull(sm, job, password=password)
    except Exception as exc:  # a worker outlives any one feed's failure; the run records why
        known = exc.__class__.__module__.startswith("hub.") or isinstance(exc, ValueError)
        if not known:
            log.exception("feed %s failed", job.name)
        message = str(exc) if known else f"{type(exc).__name__}: {exc}"
        return RunOutcome(ok=False, cursor_after=job.cursor, error=message[:4000])


def run_pull(sm: sessionmaker[Session], job: FeedJob, *, password: str | None) -> RunOutcome:
    """Import the feed into its collection; TAXII sources pull only what was added after the cursor."""
    if job.publish_as is None:
        raise ValueError(f"feed {job.name!r} has no publish_as organisation")
    producer_id, producer_name = producer_of(sm, job.publish_as)
    options = dict(job.options)
    settings = FeedSettings(
        producer_id=producer_id,
        producer_name=producer_name,
        feed_name=options.pop("feed_name", "") or job.url,
        tlp=job.tlp,
        tlp_version=job.tlp_version,
        **options,
    )
    taxii = job.format in TAXII_FORMATS
    cursor = PullCursor(job.cursor)
    results = feed_results(
        job.format,
        job.url,
        settings,
        user=job.username,
        password=password,
        added_after=job.cursor if taxii else None,
        cursor=cursor,
    )
    report = run_import(sm, target=Target(job.group, job.collection, job.publish_as), results=results)
    return RunOutcome(
        read=report.read,
        created=report.created,
        new_versions=report.new_versions,
        unchanged=report.unchanged,
        rejected=report.rejected,
        skipped=report.skipped,
        refused=report.refused,
        cursor_after=cursor.last if taxii else None,
        reasons=report.reasons[:5],
    )


def run_push(sm: sessionmaker[Session], job: FeedJob, *, password: str | None) -> RunOutcome:
    """Post what may leave the collection for the peer, added after the cursor, in envelopes of 1,000."""
    with sm() as session, session.begin():  # one read snapshot for the whole push
        coll, grp = source_collection(session, group=job.group, collection=job.collection)
        dest = destination_for(session, to_group=None, peer_community=job.peer_community, name=job.url)
        after = timestamp_us(job.cursor, "cursor") if job.cursor else None
        report = push_to_peer(
            session, collection=coll, group=grp, destination=dest, url=job.url, user=job.username,
            password=password, added_after_us=after,
        )  # fmt: skip
    return RunOutcome(
        read=report.sent + report.refused_by_peer,
        sent=report.sent,
        refused=report.refused_by_peer,
        cursor_after=format_us(report.last_added_us) if report.last_added_us else job.cursor,
        reasons=(report.reasons or [])[:5],
        audit=Audit(
            action="push-out",
            group_id=grp.id,
            collection_id=coll.id,
            count=report.sent,
            detail=f"feed {job.name} to {job.url} ({dest.display})",
        ),
    )
