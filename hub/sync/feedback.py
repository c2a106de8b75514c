"""Feedback back to where an object came from: a two-way pull feed posts the reports on what it
brought in to the upstream hub's collection, as the organisation that pulls there.

A TAXII pull feed from another hub publishes what it brings in as its `publish_as` organisation, the
organisation that stands for that hub here. The feedback of our members on those objects (sightings,
false positives, notes: hub.feedback) is addressed to that publisher, so with `two_way: true` the
feed posts it to the collection it pulls from, with the account it pulls with. That account reads
there: the upstream hub takes what it posts as its member's feedback (hub.feedback.add_reports on the
other side), so the object's real publisher reads it, under the upstream group's policy.

What goes is read through the read door (`hub.store.reads`, `back_to`): only reports on objects the
feed's organisation published, within the redistribution ceiling towards the upstream (GREEN in a
shared community, else CLEAR) in every part, their audience that organisation or everyone. Each goes
as our hub's organisation's report: its reporter (`created_by_ref`, `where_sighted_refs`) and its
references to anything but the object it is about are left out, and it is marked with its highest
TLP level. The upstream answers a report on an object the account cannot read there as on an absent
one: counted as refused, never retried. An account that may write in the upstream collection posts
nothing (what a writer posts there is ordinary content, read by every member).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.net import OutboundGuard
from hub.policy.rules import Destination, redistribution_ceiling
from hub.policy.tlp import Tlp, marking_ids
from hub.store.reads import REPORT_TYPES, Filters, stream_versions
from hub.sync.fetch import PeerError, RunInterrupted
from hub.sync.outbound import Outbound, OutboundReport, push_envelopes
from hub.sync.peer import PeerCollection
from hub.trust.access import group_policy
from hub.trust.models import Collection, Organisation, TrustGroup

PAGE = 500
# what a report carries besides itself: its reporter and references to other objects stay here
LEFT_OUT = ("created_by_ref", "where_sighted_refs", "observed_data_refs", "granular_markings")


def upstream_ceiling(group: TrustGroup, *, peer_community: str | None, public: bool, name: str) -> Tlp:
    """The highest TLP a report may go back at: what may leave the group for the upstream hub."""
    dest = Destination(kind="peer", name=name, community=None if public else peer_community)
    return redistribution_ceiling(group_policy(group), dest)


def as_ours(obj: dict[str, Any], level: Tlp, tlp_version: int = 2) -> dict[str, Any]:
    """A report as it goes back: unattributed (the upstream attributes it to the account posting it,
    our hub's organisation), about the one object it reports on, marked with `level` alone."""
    out = {k: v for k, v in obj.items() if k not in LEFT_OUT}
    if out.get("type") != "sighting":
        refs = out.get("object_refs")
        if isinstance(refs, list) and refs:
            out["object_refs"] = refs[:1]
    out["object_marking_refs"] = [marking_ids(level, 1 if tlp_version == 1 else 2)]
    return out


def reports_back(
    session: Session,
    *,
    collection: Collection,
    origin_org_id: int,
    ceiling: Tlp,
    added_after_us: int | None = None,
    tlp_version: int = 2,
    page: int = PAGE,
) -> Iterator[Outbound]:
    """The reports going back to the hub whose objects are published here as `origin_org_id`, in
    date-added order, each page read in a transaction of its own."""

    def with_page(rows: list[Any]) -> list[Outbound]:
        out = []
        for r in rows:
            level = Tlp(max(r.tlp, r.redact_tlp if r.redact_tlp is not None else r.tlp))
            obj = as_ours(orjson.loads(r.body), level, tlp_version)
            out.append(Outbound(orjson.dumps(obj), r.date_added_us))
        return out

    pages = stream_versions(
        session, reader=None, collections=[collection.id], ceiling=int(ceiling), back_to=origin_org_id,
        columns=("seq", "date_added_us", "body", "tlp", "redact_tlp"), page=page, snapshot=False,
        filters=Filters(added_after_us=added_after_us, types=REPORT_TYPES, versions=("all",)),
        with_page=with_page,
    )  # fmt: skip
    for items in pages:
        yield from items


def origin_of(session: Session, org_slug: str) -> int:
    """The id of the organisation a feed publishes as (the upstream hub's stand-in here)."""
    oid = session.scalar(select(Organisation.id).where(Organisation.slug == org_slug))
    if oid is None:
        raise ValueError(f"no organisation {org_slug!r}")
    return oid


def post_back(
    session: Session,
    *,
    collection: Collection,
    group: TrustGroup,
    origin: str,
    url: str,
    user: str | None,
    password: str | None,
    peer_community: str | None,
    public: bool,
    added_after_us: int | None = None,
    timeout: float | None = None,
    tlp_version: int = 2,
    on_envelope: Callable[[OutboundReport], None] | None = None,
    guard: OutboundGuard | None = None,
) -> OutboundReport:
    """Post the feedback on what the feed brought in to the upstream collection at `url`, in
    envelopes that fit its `max_content_length`. Failures end up in `report.error`, never raised."""
    report = OutboundReport(reasons=[])
    ceiling = upstream_ceiling(group, peer_community=peer_community, public=public, name=url)
    try:
        origin_id = origin_of(session, origin)
    except ValueError as exc:  # the feed's organisation is gone: nothing is ours to send
        report.error = f"{exc}: the feed publishes as no organisation of this hub"
        return report
    peer = PeerCollection.open(url, user=user, password=password, timeout=timeout, guard=guard)
    try:
        items = reports_back(
            session, collection=collection, origin_org_id=origin_id, ceiling=ceiling,
            added_after_us=added_after_us, tlp_version=tlp_version,
        )  # fmt: skip
        first = next(items, None)
        if first is None:
            return report  # nothing to post: the upstream is not asked anything
        if peer.can_write():
            report.error = (
                f"the account {user or '(anonymous)'} may write in the upstream collection, where what it "
                "posts is ordinary content every member reads, not feedback for the publisher: no report "
                "was posted; give the feed an account that only reads there"
            )
            return report
        max_bytes = peer.max_content_length()
        push_envelopes(
            itertools.chain([first], items), peer.add_objects, max_bytes=max_bytes, report=report,
            on_envelope=on_envelope,
        )  # fmt: skip
    except (PeerError, RunInterrupted) as exc:
        report.error = str(exc)
    finally:
        peer.close()
    return report
