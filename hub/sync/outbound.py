"""The outbound read path: what may leave a collection for another group, a peer hub or an export.

Every object that leaves goes through here: the policy layer's redistribution ceiling is a SQL
predicate (so nothing above it is even read), then granular content above the ceiling is redacted.
The producer exception of the read rule does not apply: leaving is not reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.policy.granular import redact
from hub.policy.rules import Destination, redistribution_ceiling
from hub.policy.tlp import (
    TLP_LEVEL_BY_ID,
    MarkingConflict,
    MarkingIndex,
    Tlp,
    marking_definition,
    marking_ids,
)
from hub.store.markings import marking_index, referenced
from hub.store.reads import Filters, needs_redaction, reclassified, stream_versions
from hub.sync.fetch import PeerError, RunInterrupted
from hub.sync.peer import PeerCollection
from hub.trust.access import group_policy
from hub.trust.models import Collection, TrustGroup

PAGE = 1000


@dataclass(frozen=True)
class Outbound:
    """One object version on its way out (JSON bytes), with its position for the next incremental run.

    `marking` is set on a marking definition sent because the next object references it.
    """

    body: bytes
    date_added_us: int
    marking: bool = False


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


def _definition_of(ref: str) -> dict[str, Any] | None:
    """The built-in TLP marking-definition object behind a TLP 1.0 or TLP 2.0 id, or None."""
    level = TLP_LEVEL_BY_ID.get(ref)
    if level is None:
        return None
    for version in (2, 1):
        try:
            if marking_ids(level, version) == ref:
                return marking_definition(level, version)
        except KeyError:
            continue
    return None  # OpenCTI's AMBER+STRICT id: the peer knows it by id, as we do


def outbound(
    session: Session,
    *,
    collection: Collection,
    group: TrustGroup,
    destination: Destination,
    added_after_us: int | None = None,
    page: int = PAGE,
    tlp_version: int = 2,
) -> Iterator[Outbound]:
    """Every version in `collection` that may go to `destination`, redacted for it, in date-added order.

    TLP travels with the object: a copy whose own markings carry no TLP (it took the group's default
    here) leaves with an explicit TLP marking of its stored level, so no peer reads it lower than we do.
    The marking definitions an object references (TLP ones included) go just before it, once a run. A
    version with a later version above the ceiling (a reclassified object) does not leave at all.
    Each page is read in a transaction of its own (hub.db.end_read), unless the caller holds one.
    """
    ceiling = int(redistribution_ceiling(group_policy(group), destination))
    version: Literal[1, 2] = 1 if tlp_version == 1 else 2
    sent_markings: set[str] = set()

    def with_page(rows: list[Any]) -> tuple[list[Any], list[dict[str, Any]], list[Any], MarkingIndex]:
        parsed = [orjson.loads(r.body) for r in rows]
        refs_of = [_refs(obj) for obj in parsed]
        # stored definitions are read only for refs that are not the built-in TLP ones
        custom = {ref for refs in refs_of for ref in refs[1] if ref not in TLP_LEVEL_BY_ID}
        markings = marking_index(session, collection_id=collection.id, refs=custom) if custom else _BUILT_IN
        return rows, parsed, refs_of, markings

    # each page is read in a transaction of its own, ended before a slow peer or disk takes the items
    pages = stream_versions(
        session, reader=None, collections=[collection.id], ceiling=ceiling, page=page, snapshot=False,
        columns=("seq", "date_added_us", "body", "tlp", "redact_tlp", "type"),
        filters=Filters(added_after_us=added_after_us, versions=("all",)), with_page=with_page,
    )  # fmt: skip
    for rows, parsed, refs_of, markings in pages:
        out: list[Outbound] = []
        for r, obj, (own, every) in zip(rows, parsed, refs_of, strict=True):
            changed = False
            if needs_redaction(r, ceiling):
                redacted = redact(obj, Tlp(ceiling), markings)
                if redacted is None:
                    continue  # a required property is above what may leave: withhold the object
                obj, changed = redacted, True
                own, every = _refs(obj)
            if r.type == "marking-definition":
                if obj.get("id") in sent_markings:
                    continue
                sent_markings.add(obj["id"])
            elif not _has_tlp(own, markings):
                ref = marking_ids(Tlp(r.tlp), version)
                obj = {**obj, "object_marking_refs": [*own, ref]}
                every = every | {ref}
                changed = True
            if not every <= sent_markings:
                for ref in sorted(every - sent_markings):
                    sent_markings.add(ref)
                    md = _definition_of(ref) or (dict(markings[ref]) if ref in markings else None)
                    if md is not None:
                        out.append(Outbound(orjson.dumps(md), r.date_added_us, marking=True))
            out.append(Outbound(orjson.dumps(obj) if changed else r.body, r.date_added_us))
        yield from out


_BUILT_IN = MarkingIndex()


def _refs(obj: dict[str, Any]) -> tuple[list[str], set[str]]:
    """An object's object-level marking refs, and every marking ref it has (granular ones too)."""
    omr = obj.get("object_marking_refs")
    own: list[str] = omr if isinstance(omr, list) else []  # ingest checked they are identifiers
    gm = obj.get("granular_markings")
    if not gm:
        return own, set(own)
    return own, set(own) | referenced([obj])


def _has_tlp(refs: list[str], markings: MarkingIndex) -> bool:
    try:
        return any(TLP_LEVEL_BY_ID.get(ref) is not None or markings.level(ref) is not None for ref in refs)
    except MarkingConflict:
        return True  # it was stored with this marking; the peer judges the definition itself


def withdrawn(
    session: Session,
    *,
    collection: Collection,
    group: TrustGroup,
    destination: Destination,
    added_after_us: int | None = None,
) -> tuple[list[str], int | None]:
    """Objects reclassified above what may go to `destination` since `added_after_us`.

    The ids with a version above the ceiling added after the cursor, and an earlier version within it
    (which an earlier run may have sent): the peer must stop serving those. Also the latest date added
    of those versions, which a push's cursor may move past once they are withdrawn.
    """
    ceiling = int(redistribution_ceiling(group_policy(group), destination))
    rows = reclassified(session, collection_id=collection.id, ceiling=ceiling, added_after_us=added_after_us)
    return sorted({r.stix_id for r in rows}), max((r.date_added_us for r in rows), default=None)


@dataclass
class OutboundReport:
    """What an outbound run sent, and where the next incremental run starts.

    `sent` counts what the peer stored new, `already_there` what it had already; `withdrawn` the
    reclassified objects deleted at the peer; `error` why a push stopped early (what went before it,
    acknowledged envelope by envelope, is counted and the cursor stands after it).
    """

    sent: int = 0
    already_there: int = 0
    refused_by_peer: int = 0
    withdrawn: int = 0
    envelopes: int = 0
    last_added_us: int | None = None
    reasons: list[str] | None = None
    error: str | None = None

    def note(self, reason: str) -> None:
        """Keep the first few reasons."""
        if self.reasons is None:
            self.reasons = []
        if len(self.reasons) < 20:
            self.reasons.append(reason)


def export_bundle(items: Iterator[Outbound], out: Any, *, bundle_id: str) -> OutboundReport:
    """Write a STIX 2.1 bundle of the items to a binary file object, streaming."""
    report = OutboundReport()
    out.write(b'{"type":"bundle","id":' + orjson.dumps(bundle_id) + b',"objects":[')
    first = True
    for item in items:
        if not first:
            out.write(b",")
        first = False
        out.write(item.body)
        if not item.marking:
            report.sent += 1
            report.last_added_us = item.date_added_us
    out.write(b"]}")
    return report


ENVELOPE_OVERHEAD = len(b'{"objects":[]}')


def push_envelopes(
    items: Iterator[Outbound],
    post: Callable[[bytes], dict[str, Any]],
    *,
    batch: int = PAGE,
    max_bytes: int | None = None,
    report: OutboundReport | None = None,
    on_envelope: Callable[[OutboundReport], None] | None = None,
) -> OutboundReport:
    """Send the items in envelopes of at most `batch` objects and `max_bytes` bytes through `post`.

    `post(envelope_bytes) -> status dict` raises PeerError when the peer does not acknowledge an
    envelope: the push stops there with `error` set, and `last_added_us` stands after the last
    acknowledged envelope, so the next run resumes from it. `on_envelope` runs after each
    acknowledged envelope (to record progress; it may raise RunInterrupted to stop the push).
    An object larger than `max_bytes` on its own is not sent, and named.
    """
    report = report or OutboundReport()
    chunk: list[Outbound] = []
    size = ENVELOPE_OVERHEAD
    pending: int | None = None  # the date added of the last object (not marking) in the chunk

    def flush() -> None:
        nonlocal size, pending
        status = post(b'{"objects":[' + b",".join(i.body for i in chunk) + b"]}")
        report.envelopes += 1
        # the marking definitions sent along are not counted: the counts are of the collection's objects
        markings = {orjson.loads(i.body).get("id") for i in chunk if i.marking}
        successes = [e for e in status.get("successes") or [] if isinstance(e, dict)]
        for e in successes:
            if e.get("id") in markings:
                continue
            if "already" in str(e.get("message", "")).lower():
                report.already_there += 1
            else:
                report.sent += 1
        if not successes and status.get("success_count"):
            report.sent += int(status.get("success_count") or 0)
        failures = [
            f for f in status.get("failures") or [] if not (isinstance(f, dict) and f.get("id") in markings)
        ]
        report.refused_by_peer += len(failures)
        for f in failures[:5]:
            if isinstance(f, dict):
                report.note(f"{f.get('id', '')}: {f.get('message', '')}")
        if pending is not None:
            report.last_added_us = pending
        chunk.clear()
        size, pending = ENVELOPE_OVERHEAD, None
        if on_envelope is not None:
            on_envelope(report)

    try:
        for item in items:
            if max_bytes is not None and ENVELOPE_OVERHEAD + len(item.body) > max_bytes:
                report.refused_by_peer += 1
                sid = orjson.loads(item.body).get("id", "object")
                report.note(
                    f"{sid}: not sent: {len(item.body)} bytes alone is over the peer's max_content_length "
                    f"{max_bytes}"
                )
                if not item.marking:
                    pending = item.date_added_us
                continue
            extra = len(item.body) + (1 if chunk else 0)
            if chunk and (len(chunk) >= batch or (max_bytes is not None and size + extra > max_bytes)):
                flush()
                extra = len(item.body)
            chunk.append(item)
            size += extra
            if not item.marking:
                pending = item.date_added_us
        if chunk or pending is not None:
            if chunk:
                flush()
            else:
                report.last_added_us = pending
    except (PeerError, RunInterrupted) as exc:
        report.error = str(exc)
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
    timeout: float | None = None,
    tlp_version: int = 2,
    on_envelope: Callable[[OutboundReport], None] | None = None,
) -> OutboundReport:
    """Post what may leave `collection` for `destination` to a peer's TAXII 2.1 collection at `url`.

    First the objects reclassified above what may go since `added_after_us` are deleted at the peer
    (TAXII 2.1 section 5.7), so it stops serving their earlier copies; then the rest goes in envelopes
    that fit the peer's `max_content_length`. Failures end up in `report.error`, never raised.
    """
    report = OutboundReport(reasons=[])
    peer = PeerCollection.open(url, user=user, password=password, timeout=timeout)
    try:
        max_bytes = peer.max_content_length()
        ids, withdrawn_last = withdrawn(
            session,
            collection=collection,
            group=group,
            destination=destination,
            added_after_us=added_after_us,
        )
        for sid in ids:
            if peer.delete_object(sid):
                report.withdrawn += 1
                report.note(f"{sid}: reclassified above what may go: deleted at the peer")
        items = outbound(
            session,
            collection=collection,
            group=group,
            destination=destination,
            added_after_us=added_after_us,
            tlp_version=tlp_version,
        )
        push_envelopes(items, peer.add_objects, max_bytes=max_bytes, report=report, on_envelope=on_envelope)
        if report.error is None and withdrawn_last is not None:
            report.last_added_us = max(report.last_added_us or 0, withdrawn_last)
    except (PeerError, RunInterrupted) as exc:
        report.error = str(exc)
    finally:
        peer.close()
    return report
