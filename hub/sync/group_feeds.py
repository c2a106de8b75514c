"""A group's feeds as its coordinators manage them: thin wrappers over `hub.sync.feeds`' declarations.

Declarations are validated by the same `FeedConfig` as `hub sync load` and stored by the same
`apply_feeds`. Coordinators get less than the operator, because a feed runs on the hub's own machine:
pull feeds only, from http(s) URLs only (never a file of the hub), published as the coordinator's own
organisation, without credentials from the hub's environment (`user`, `password_env`). Push feeds, which
send a group's objects out, and two-way pulls, which send its feedback out, stay the operator's (a
platform admin's). "Run now" makes a feed due at once;
the workers run it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import Conflict, Forbidden, NotFound, Unprocessable
from hub.net import OutboundGuard
from hub.sync.feeds import FeedConfig, FeedsConfig, apply_feeds
from hub.sync.fetch import is_url
from hub.sync.scheduler import now_us
from hub.sync.sources import TAXII_FORMATS
from hub.trust.feed_models import Feed, FeedRun
from hub.trust.manage import audit, find_group
from hub.trust.models import Membership, Organisation, TrustGroup
from hub.trust.reports import feed_counts_shown
from hub.trust.service import Principal

# the declaration's fields, as FeedConfig names them, and the feeds-table column each is stored in
FIELDS = {
    "direction": "direction",
    "format": "format",
    "url": "url",
    "collection": "collection",
    "publish_as": "publish_as",
    "peer_community": "peer_community",
    "tlp": "tlp",
    "tlp_version": "tlp_version",
    "two_way": "two_way",
    "user": "username",
    "password_env": "password_env",
    "interval": "interval_s",
    "enabled": "enabled",
}


def declared(feed: Feed) -> dict[str, Any]:
    """A stored feed as the declaration that made it (its connector options included)."""
    out: dict[str, Any] = {"name": feed.name, "group": feed.group_slug}
    out |= {name: getattr(feed, column) for name, column in FIELDS.items()}
    if feed.direction == "pull":
        out["connector"] = dict(feed.options or {})
        if feed.format in TAXII_FORMATS:  # a TAXII pull has upstream_default_tlp, not tlp
            out.pop("tlp")
    else:
        for k in ("publish_as", "tlp", "tlp_version"):
            out.pop(k)
    if not out.get("two_way"):
        out.pop("two_way")
    return {k: v for k, v in out.items() if v is not None}


def _validate(data: dict[str, Any]) -> FeedConfig:
    try:
        return FeedConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "feed"
        raise Unprocessable(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None


def _check_rights(session: Session, actor: Principal, group: TrustGroup, fc: FeedConfig) -> None:
    if fc.direction == "pull" and fc.publish_as:
        member = session.scalar(
            select(Organisation.id)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(Organisation.slug == fc.publish_as, Membership.group_id == group.id)
        )
        if member is None:
            raise Unprocessable(f"publish_as: '{fc.publish_as}' is not a member of '{group.slug}'")
    if actor.is_admin:
        return
    if fc.direction != "pull":
        raise Forbidden("Push feeds send a group's objects out of the hub; the operator declares them.")
    if fc.two_way:
        raise Forbidden("A two-way feed sends the group's feedback out of the hub; the operator declares it.")
    if not is_url(fc.url):
        raise Forbidden("A coordinator's feed pulls from an http(s) URL, never from a file of the hub.")
    why = OutboundGuard.from_environ(os.environ).check_url(fc.url)
    if why is not None:
        raise Unprocessable(
            f"url: {why}: a coordinator's feed reaches only the public internet and the upstreams "
            "the operator allows (HUB_OUTBOUND_ALLOW)"
        )
    if fc.publish_as != actor.org_slug:
        raise Forbidden(f"A coordinator's feed publishes as its own organisation, '{actor.org_slug}'.")
    if fc.user or fc.password_env:
        raise Forbidden(
            "Feed credentials come from the hub's environment; the operator declares those feeds."
        )


def _feed(session: Session, group: TrustGroup, name: str) -> Feed:
    feed = session.scalar(select(Feed).where(Feed.name == name[:128], Feed.group_slug == group.slug))
    if feed is None:
        raise NotFound(f"'{group.slug}' has no feed '{name[:128]}'.")
    return feed


def list_feeds(session: Session, actor: Principal, group_slug: str) -> list[Feed]:
    """The feeds of a group the caller coordinates, by name."""
    g = find_group(session, actor, group_slug)
    return list(session.scalars(select(Feed).where(Feed.group_slug == g.slug).order_by(Feed.name)))


def get_feed(session: Session, actor: Principal, group_slug: str, name: str) -> Feed:
    """One feed of a group the caller coordinates."""
    return _feed(session, find_group(session, actor, group_slug), name)


def declare_feed(session: Session, actor: Principal, group_slug: str, body: dict[str, Any]) -> Feed:
    """Declare a new feed of the group (validated as `hub sync load` validates a file's)."""
    g = find_group(session, actor, group_slug)
    fc = _validate({**body, "group": g.slug})
    _check_rights(session, actor, g, fc)
    exists = select(Feed.id).where(Feed.name == fc.name, Feed.group_slug == g.slug)
    if session.scalar(exists) is not None:  # another group's feed of that name is none of its business
        raise Conflict(f"'{g.slug}' already has a feed '{fc.name}' (feed names are unique in a group).")
    by = "operator" if actor.is_admin else "coordinator"
    apply_feeds(session, FeedsConfig(feeds=[fc]), now_us=now_us(), declared_by=by)
    feed = _feed(session, g, fc.name)
    audit(session, actor, "feed.create", target=f"feed {fc.name}", group_id=g.id, after=declared(feed))
    return feed


def change_feed(
    session: Session, actor: Principal, group_slug: str, name: str, changes: dict[str, Any]
) -> Feed:
    """Change a feed's declaration; a change of source, format or collection resets its cursor."""
    g = find_group(session, actor, group_slug)
    feed = _feed(session, g, name)
    before = declared(feed)
    if not actor.is_admin and (feed.direction != "pull" or feed.username or feed.password_env):
        raise Forbidden("This feed was declared by the operator; change it in the feeds file.")
    fc = _validate({**before, **changes, "name": feed.name, "group": g.slug})
    _check_rights(session, actor, g, fc)
    # a platform admin's change keeps who declared the feed; a coordinator's makes the feed its own
    by = feed.declared_by if actor.is_admin else "coordinator"
    apply_feeds(session, FeedsConfig(feeds=[fc]), now_us=now_us(), declared_by=by)
    after = declared(feed)
    if after != before:
        action = "feed.update"
        if set(changes) == {"enabled"}:
            action = "feed.enable" if feed.enabled else "feed.disable"
        audit(session, actor, action, target=f"feed {feed.name}", group_id=g.id, before=before, after=after)
    return feed


def run_now(session: Session, actor: Principal, group_slug: str, name: str) -> Feed:
    """Make an enabled feed due at once: the next free worker runs it."""
    g = find_group(session, actor, group_slug)
    feed = _feed(session, g, name)
    if not feed.enabled:
        raise Conflict(f"The feed '{feed.name}' is disabled; enable it first.")
    feed.next_run_at_us = now_us()
    session.flush()
    audit(session, actor, "feed.run", target=f"feed {feed.name}", group_id=g.id)
    return feed


COUNTS = ("read", "created", "new_versions", "unchanged", "rejected", "skipped", "refused", "sent")


@dataclass(frozen=True)
class FeedRunEntry:
    """A feed run as a reader sees it: its counts and error None where withheld (as the audit log's)."""

    id: int
    started_us: int
    finished_us: int
    worker_id: str
    status: str
    read: int | None
    created: int | None
    new_versions: int | None
    unchanged: int | None
    rejected: int | None
    skipped: int | None
    refused: int | None
    sent: int | None
    cursor_before: str | None
    cursor_after: str | None
    error: str | None

    @classmethod
    def of(cls, run: FeedRun, *, shown: bool) -> FeedRunEntry:
        values = {f.name: getattr(run, f.name) for f in fields(cls)}
        if not shown:
            values |= dict.fromkeys((*COUNTS, "error"))
        return cls(**values)


def feed_runs(
    session: Session, actor: Principal, group_slug: str, name: str, *, limit: int = 50
) -> list[FeedRunEntry]:
    """A feed's run history, newest first; counts withheld where the caller may not see them
    (a feed into a collection it does not read with clearance RED, and that it does not publish as)."""
    feed = get_feed(session, actor, group_slug, name)
    shown = feed_counts_shown(session, actor, [feed])[feed.id]
    rows = session.scalars(
        select(FeedRun)
        .where(FeedRun.feed_id == feed.id)
        .order_by(FeedRun.started_us.desc(), FeedRun.id.desc())
        .limit(limit)
    )
    return [FeedRunEntry.of(r, shown=shown) for r in rows]
