"""The outbound read path: what may leave a collection for another group, a peer hub or an export.

Every object that leaves goes through here: the policy layer's redistribution ceiling is a SQL
predicate (so nothing above it is even read), then granular content above the ceiling is redacted.
The producer exception of the read rule does not apply: leaving is not reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from hub.policy.granular import redact
from hub.policy.rules import Destination, redistribution_ceiling
from hub.store.markings import marking_index, referenced
from hub.store.models import ObjectVersion as OV
from hub.trust.access import group_policy
from hub.trust.models import Collection, TrustGroup

PAGE = 1000


@dataclass(frozen=True)
class Outbound:
    """One object version on its way out (JSON bytes), with its position for the next incremental run."""

    body: bytes
    date_added_us: int


class OutboundError(ValueError):
    """The source or destination of an outbound run does not exist."""


def source_collection(session: Session, *, group: str, collection: str) -> tuple[Collection, TrustGroup]:
    """A collection by group slug and alias or id."""
    g = session.scalar(select(TrustGroup).where(TrustGroup.slug == group))
    if g is None:
        raise OutboundError(f"no trust group {group!r}")
    c = session.scalar(
        select(Collection).where(
            Collection.group_id == g.id, (Collection.alias == collection) | (Collection.id == collection)
        )
    )
    if c is None:
        raise OutboundError(f"no collection {collection!r} in trust group {group!r}")
    return c, g


def destination_for(
    session: Session, *, to_group: str | None, peer_community: str | None, name: str = ""
) -> Destination:
    """A Destination: a trust group of this hub, a peer hub serving a community, or a (public) export."""
    if to_group is not None:
        g = session.scalar(select(TrustGroup).where(TrustGroup.slug == to_group))
        if g is None:
            raise OutboundError(f"no trust group {to_group!r}")
        return Destination(kind="group", name=g.slug, community=g.community)
    if peer_community is not None:
        return Destination(
            kind="peer", name=name or f"peer hub of {peer_community}", community=peer_community
        )
    return Destination(kind="export", name=name or "export")


def outbound(
    session: Session,
    *,
    collection: Collection,
    group: TrustGroup,
    destination: Destination,
    added_after_us: int | None = None,
    page: int = PAGE,
) -> Iterator[Outbound]:
    """Every version in `collection` that may go to `destination`, redacted for it, in date-added order."""
    ceiling = int(redistribution_ceiling(group_policy(group), destination))
    position: tuple[int, int] | None = None
    while True:
        stmt = select(OV.seq, OV.date_added_us, OV.body, OV.redact_tlp).where(
            OV.collection_id == collection.id, OV.tlp <= ceiling
        )
        if added_after_us is not None:
            stmt = stmt.where(OV.date_added_us > added_after_us)
        if position is not None:
            stmt = stmt.where(tuple_(OV.date_added_us, OV.seq) > tuple_(*position))
        rows = list(session.execute(stmt.order_by(OV.date_added_us, OV.seq).limit(page)))
        if not rows:
            return
        needs = {
            r.seq: orjson.loads(r.body) for r in rows if r.redact_tlp is not None and r.redact_tlp > ceiling
        }
        markings = (
            marking_index(session, collection_id=collection.id, refs=referenced(needs.values()))
            if needs
            else None
        )
        for r in rows:
            body = r.body
            if r.seq in needs:
                redacted = redact(needs[r.seq], ceiling, markings or {})  # type: ignore[arg-type]
                if redacted is None:
                    continue  # a required property is above what may leave: withhold the object
                body = orjson.dumps(redacted)
            yield Outbound(body, r.date_added_us)
        position = (rows[-1].date_added_us, rows[-1].seq)


@dataclass
class OutboundReport:
    """What an outbound run sent, and where the next incremental run starts."""

    sent: int = 0
    refused_by_peer: int = 0
    last_added_us: int | None = None
    reasons: list[str] | None = None


def export_bundle(items: Iterator[Outbound], out: Any, *, bundle_id: str) -> OutboundReport:
    """Write a STIX 2.1 bundle of the items to a binary file object, streaming."""
    report = OutboundReport()
    out.write(b'{"type":"bundle","id":' + orjson.dumps(bundle_id) + b',"objects":[')
    for item in items:
        if report.sent:
            out.write(b",")
        out.write(item.body)
        report.sent += 1
        report.last_added_us = item.date_added_us
    out.write(b"]}")
    return report


def push_envelopes(items: Iterator[Outbound], post: Any, *, batch: int = PAGE) -> OutboundReport:
    """Send the items in envelopes of `batch` through `post(envelope_bytes) -> status dict`."""
    report = OutboundReport(reasons=[])
    chunk: list[Outbound] = []

    def flush() -> None:
        status = post(b'{"objects":[' + b",".join(i.body for i in chunk) + b"]}")
        report.sent += int(status.get("success_count", 0))
        failures = status.get("failures") or []
        report.refused_by_peer += len(failures)
        for f in failures[:5]:
            if report.reasons is not None and len(report.reasons) < 20:
                report.reasons.append(f"{f.get('id', '')}: {f.get('message', '')}")
        report.last_added_us = chunk[-1].date_added_us
        chunk.clear()

    for item in items:
        chunk.append(item)
        if len(chunk) >= batch:
            flush()
    if chunk:
        flush()
    return report


def push_to_peer(
    session: Session,
    *,
    collection: Collection,
    group: TrustGroup,
    destination: Destination,
    url: str,
    user: str | None,
    password: str | None,
    added_after_us: int | None = None,
) -> OutboundReport:
    """Post what may leave `collection` for `destination` to a peer's TAXII 2.1 collection at `url`."""
    from taxii2client.v21 import Collection as RemoteCollection

    remote = RemoteCollection(url, user=user, password=password)

    def post(envelope: bytes) -> dict[str, Any]:
        status: dict[str, Any] = remote.add_objects(envelope.decode(), wait_for_completion=False)._raw
        return status

    try:
        items = outbound(
            session,
            collection=collection,
            group=group,
            destination=destination,
            added_after_us=added_after_us,
        )
        return push_envelopes(items, post)
    finally:
        remote.close()
