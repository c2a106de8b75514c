"""What coordinators read about their groups: the audit log and group statistics.

A coordinator reads the events of the groups it coordinates (and of its own organisation's keys); a
platform admin reads all. An event's count of objects is shown only where it tells the reader nothing
above its clearance (`AuditEntry`). Statistics count only what the caller could read over TAXII:
collections it may read, objects within its clearance there, and its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hub.errors import Unprocessable
from hub.policy.tlp import Tlp
from hub.store import audit as audit_store
from hub.store.models import AuditEvent, ObjectCount
from hub.store.reads import Reader as StoreReader
from hub.store.reads import counts_visible
from hub.trust.access import list_collections, read_clearances
from hub.trust.manage import coordinated_groups, find_group, find_organisation, tlp_name
from hub.trust.models import Collection, Membership, Organisation, TrustGroup
from hub.trust.service import Principal

MAX_AUDIT_PAGE = 1000
DAY_US = 86_400_000_000


def _us(dt: datetime | None) -> int | None:
    if dt is None:
        return None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1_000_000)


@dataclass
class AuditQuery:
    """Filters of the audit log, as the surfaces receive them."""

    group: str | None = None
    organisation: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _scope(session: Session, actor: Principal, q: AuditQuery) -> dict[str, Any]:
    args: dict[str, Any] = {
        "within_groups": None if actor.is_admin else coordinated_groups(actor),
        "own_org_id": None if actor.is_admin else actor.org_id,
        "action": q.action or None,
        "since_us": _us(q.since),
        "until_us": _us(q.until),
    }
    if q.group:
        args["group_id"] = find_group(session, actor, q.group).id
    if q.organisation:
        args["org_id"] = find_organisation(session, actor, q.organisation).id
    return args


@dataclass(frozen=True)
class AuditEntry:
    """An audit event as a reader sees it: detached from the session, its count None where withheld.

    The count of an event in a collection (objects pushed, refused, pulled, downloaded, deleted, imported
    by a feed or sent out) may include objects above the reader's clearance: "cert-b pulled 50" tells an
    AMBER reader how many RED objects there are. It is shown only for the reader's own organisation's
    events, to a platform admin, or where the reader reads the collection with clearance RED (it could
    read every object there). Admin changes count nothing (their count is always 0) and events outside a
    collection (failed authentications, sign-ins) count no objects: both keep theirs. Where the count
    is withheld so is the detail, which carries counts too ("17 already stored, 3 refused"), a deleted
    object's id or the reasons objects were refused.
    """

    id: int
    at_us: int
    action: str
    organisation_id: int | None
    account_id: int | None
    group_id: int | None
    collection_id: str | None
    count: int | None
    detail: str | None
    target: str | None
    target_org_id: int | None
    before: str | None
    after: str | None


_ENTRY_FIELDS = [f.name for f in fields(AuditEntry)]


def counts_readable(session: Session, actor: Principal, collection_ids: Iterable[str]) -> dict[str, bool]:
    """Per collection: may the actor see counts of objects there (the audit log's and feed runs' rule)?

    A count of objects in a collection may include objects above the reader's clearance ("cert-b pulled
    50" tells an AMBER reader how many RED objects there are): it is shown to a platform admin, and to
    an organisation that reads the collection with clearance RED (it could read every object there).
    Callers add their own organisation's exception (its own events, the feeds it publishes as).
    """
    ids = set(collection_ids)
    if actor.is_admin:
        return dict.fromkeys(ids, True)
    clear = read_clearances(session, org_id=actor.org_id, collection_ids=ids)
    return {cid: clear.get(cid) == Tlp.RED for cid in ids}


class _CountPolicy:
    """Decides, per collection and once per collection, whether a reader may see events' counts there."""

    def __init__(self, session: Session, actor: Principal):
        self.session = session
        self.actor = actor
        self.full: dict[str, bool] = {}

    def entries(self, rows: list[AuditEvent]) -> list[AuditEntry]:
        if not self.actor.is_admin:
            unknown = {
                e.collection_id
                for e in rows
                if e.collection_id is not None and e.collection_id not in self.full
            }
            if unknown:
                self.full |= counts_readable(self.session, self.actor, unknown)
        return [self._entry(e) for e in rows]

    def _shown(self, e: AuditEvent) -> bool:
        return (
            self.actor.is_admin
            or e.collection_id is None
            or (e.target is not None and not e.count)  # an admin change (manage.change) counts nothing
            or (e.organisation_id is not None and e.organisation_id == self.actor.org_id)
            or self.full.get(e.collection_id, False)
        )

    def _entry(self, e: AuditEvent) -> AuditEntry:
        values = {name: getattr(e, name) for name in _ENTRY_FIELDS}
        shown = self._shown(e)
        values["count"] = (e.count or 0) if shown else None
        values["detail"] = (e.detail or "") if shown else None
        return AuditEntry(**values)


def audit_page(
    session: Session, actor: Principal, q: AuditQuery, *, limit: int = 100, cursor: str | None = None
) -> tuple[list[AuditEntry], str | None]:
    """One page of the audit log, newest first, and the cursor of the next page (None on the last)."""
    if not 1 <= limit <= MAX_AUDIT_PAGE:
        raise Unprocessable(f"limit is between 1 and {MAX_AUDIT_PAGE}")
    before = None
    if cursor:
        if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19:
            raise Unprocessable(f"cursor {cursor[:40]!r} is not a cursor this hub returned")
        before = int(cursor)
    rows = audit_store.events(session, **_scope(session, actor, q), before_id=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return _CountPolicy(session, actor).entries(rows), (str(rows[-1].id) if more else None)


def audit_export(
    session: Session, actor: Principal, q: AuditQuery, *, batch: int = 500
) -> Iterator[AuditEntry]:
    """Every matching event, newest first, read in keyset batches (for JSON lines export)."""
    scope = _scope(session, actor, q)
    counts = _CountPolicy(session, actor)
    before = None
    while True:
        rows = audit_store.events(session, **scope, before_id=before, limit=batch)
        yield from counts.entries(rows)
        if len(rows) < batch:
            return
        before = rows[-1].id


# ---------------------------------------------------------------- statistics


@dataclass
class GroupStats:
    """Counts of a group's stored object versions that the caller may read."""

    group: str
    total: int = 0
    by_tlp: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    per_day: dict[str, int] = field(default_factory=dict)
    per_day_by_tlp: dict[str, dict[str, int]] = field(default_factory=dict)
    per_day_by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    last_push: dict[str, str | None] = field(default_factory=dict)
    feeds: list[dict[str, Any]] = field(default_factory=list)
    # known-benign values the group's feeds flagged over the window, of the feeds whose counts the
    # caller may see (withheld feeds count nothing here: the number could tell of what it cannot read)
    benign_flagged: int = 0


def _readable(session: Session, actor: Principal, group_id: int, group_slug: str) -> ColumnElement[bool]:
    """The counts of the group's shared record the actor may read: the policy's own visibility predicate
    on the rolled-up counts (hub.store.counts), which keep the TLP and publisher of what they count.

    Private versions (hub.ingest) are never part of the shared record, so the counts never hold them,
    not even for the platform admin or their own publisher.
    """
    if actor.is_admin:
        ids = session.scalars(select(Collection.id).where(Collection.group_id == group_id))
        return counts_visible(dict.fromkeys(ids))
    grp = find_group(session, actor, group_slug)
    return counts_visible(
        {
            acc.collection.id: StoreReader(org_id=actor.org_id, clearance=int(acc.clearance))
            for acc in list_collections(session, actor, grp)
        }
    )


def _iso_day(day: int) -> str:
    return datetime.fromtimestamp(int(day) * 86400, UTC).date().isoformat()


def feed_counts_shown(session: Session, actor: Principal, group_feeds: list[Any]) -> dict[int, bool]:
    """Per feed (by id): may the actor see its runs' counts and errors? Those of a feed the actor's own
    organisation publishes as, and those of feeds into collections it may see counts of
    (`counts_readable`); a feed whose collection is gone shows none."""
    if not group_feeds:
        return {}
    slug = group_feeds[0].group_slug
    colls = list(
        session.scalars(
            select(Collection)
            .join(TrustGroup, TrustGroup.id == Collection.group_id)
            .where(TrustGroup.slug == slug)
        )
    )
    by_ref = {c.id: c.id for c in colls} | {c.alias: c.id for c in colls if c.alias}
    readable = counts_readable(session, actor, by_ref.values())
    own = None if actor.is_admin else actor.org_slug
    return {
        f.id: actor.is_admin
        or (f.direction == "pull" and own is not None and f.publish_as == own)
        or readable.get(by_ref.get(f.collection, ""), False)
        for f in group_feeds
    }


def group_stats(session: Session, actor: Principal, group_slug: str, *, days: int = 30) -> GroupStats:
    """A group's objects by TLP, by type and per day (by TLP and type), last push per member, feeds.

    Read from the counts kept as versions are stored (hub.store.counts): the same answers as counting
    the versions, in time that grows with days, types and members rather than with objects.
    """
    from hub.trust.feed_models import Feed, FeedRun

    if not 1 <= days <= 366:
        raise Unprocessable("days is between 1 and 366")
    g = find_group(session, actor, group_slug)
    where = _readable(session, actor, g.id, g.slug)
    out = GroupStats(group=g.slug)
    oc = ObjectCount
    total = func.sum(oc.n)
    # one pass over the readable counts for the totals by TLP, by type and the last push per member, and
    # one over the window's days for both per-day breakdowns (each scan reads every row of the group's
    # collections, a year of days x TLPs x types x publishers: five scans took 460 ms on a busy machine)
    by_tlp: dict[int, int] = {}
    last: dict[int, int] = {}
    for level, typ, producer, n, latest in session.execute(
        select(oc.tlp, oc.type, oc.producer_id, total, func.max(oc.last_added_us))
        .where(where)
        .group_by(oc.tlp, oc.type, oc.producer_id)
    ):
        by_tlp[level] = by_tlp.get(level, 0) + int(n)
        out.by_type[typ] = out.by_type.get(typ, 0) + int(n)
        if latest is not None and int(latest) > last.get(producer, 0):
            last[producer] = int(latest)
    for level in sorted(by_tlp):
        out.by_tlp[tlp_name(level)] = by_tlp[level]
        out.total += by_tlp[level]
    out.by_type = dict(sorted(out.by_type.items()))
    start_day = (time.time_ns() // 1000) // DAY_US - days + 1
    for d, level, typ, n in session.execute(
        select(oc.day, oc.tlp, oc.type, total)
        .where(where, oc.day >= start_day)
        .group_by(oc.day, oc.tlp, oc.type)
        .order_by(oc.day, oc.tlp, oc.type)
    ):
        iso = _iso_day(d)
        tlps = out.per_day_by_tlp.setdefault(iso, {})
        tlps[tlp_name(level)] = tlps.get(tlp_name(level), 0) + int(n)
        types = out.per_day_by_type.setdefault(iso, {})
        types[typ] = types.get(typ, 0) + int(n)
        out.per_day[iso] = out.per_day.get(iso, 0) + int(n)
    out.per_day_by_type = {d: dict(sorted(t.items())) for d, t in out.per_day_by_type.items()}
    for oid, slug in session.execute(
        select(Organisation.id, Organisation.slug)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(Membership.group_id == g.id)
        .order_by(Organisation.slug)
    ):
        us = last.get(oid)
        out.last_push[slug] = datetime.fromtimestamp(us / 1e6, UTC).isoformat() if us else None
    group_feeds = list(session.scalars(select(Feed).where(Feed.group_slug == g.slug).order_by(Feed.name)))
    shown = feed_counts_shown(session, actor, group_feeds)
    visible_feeds = [f.id for f in group_feeds if shown[f.id]]
    if visible_feeds:
        out.benign_flagged = int(
            session.scalar(
                select(func.coalesce(func.sum(FeedRun.benign), 0)).where(
                    FeedRun.feed_id.in_(visible_feeds), FeedRun.started_us >= start_day * DAY_US
                )
            )
            or 0
        )
    for f in group_feeds:
        run = session.scalar(
            select(FeedRun).where(FeedRun.feed_id == f.id).order_by(FeedRun.started_us.desc()).limit(1)
        )
        out.feeds.append(
            {
                "name": f.name,
                "direction": f.direction,
                "enabled": f.enabled,
                "failures": f.failures,
                # an error carries counts ("3 rejected", "sent 40"): withheld as the counts are
                "last_error": f.last_error if shown[f.id] else None,
                "last_run": datetime.fromtimestamp(run.started_us / 1e6, UTC).isoformat() if run else None,
                "last_status": run.status if run else None,
                **feed_health(f, run, shown=shown[f.id]),
            }
        )
    return out


# a push run whose peer refused more than this share of what it was given is not healthy
PUSH_REFUSED_UNHEALTHY = 0.1


def feed_health(feed: Any, run: Any, *, shown: bool) -> dict[str, Any]:
    """A feed's health from its failures and its last run: `healthy`, `state` (healthy, failing, or, for a
    push feed whose peer refused more than PUSH_REFUSED_UNHEALTHY of what it was given, refused by peer),
    and the last run's counts (None where they are withheld, or before a run).

    A pull feed's records the connector rejects (malformed lines of a source) do not make it unhealthy;
    they are shown as rejected, apart from objects refused by validation or policy.
    """
    counts = None
    if run is not None and shown:
        counts = {k: getattr(run, k) for k in ("read", "sent", "unchanged", "rejected", "refused")}
        counts["new"] = run.created + run.new_versions
    failing = feed.failures > 0 or (run is not None and run.status != "ok")
    refused_by_peer = (
        feed.direction == "push"
        and counts is not None
        and counts["refused"] > PUSH_REFUSED_UNHEALTHY * max(counts["read"], 1)
    )
    state = "failing" if failing else "refused by peer" if refused_by_peer else "healthy"
    return {"healthy": state == "healthy", "state": state, "counts": counts}
