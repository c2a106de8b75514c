"""Writing feedback's own rows: a report version's audience and index row, device-list holds, and a
sighting's extension of its indicator's lifetime in the value index. Reads go through the read door
(`hub.store.reads.report_rows`); the decisions are `hub.feedback`'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import String, func, literal_column, select, union_all, update
from sqlalchemy.orm import Session

from hub.stix import InvalidObject, timestamp_us
from hub.store import counts
from hub.store.tables import FeedbackHold, Report
from hub.store.tables import ObjectValue as V
from hub.store.tables import ObjectVersion as OV


@dataclass(frozen=True)
class NewReport:
    """The index row of one stored report version."""

    collection_id: str
    stix_id: str
    version_us: int
    object_id: str
    kind: str
    reporter_id: int
    count: int
    first_seen_us: int | None
    last_seen_us: int | None


def index_reports(session: Session, reports: Sequence[NewReport], *, audience: int) -> int:
    """Give the shared report versions just stored their audience (0: everyone who may read them) and
    their index rows; returns how many were indexed."""
    n = 0
    for r in reports:
        row = session.execute(
            select(
                OV.seq, OV.date_added_us, OV.collection_id, OV.tlp, OV.type, OV.producer_id, OV.private_to
            ).where(
                OV.collection_id == r.collection_id,
                OV.stix_id == r.stix_id,
                OV.version_us == r.version_us,
                OV.private_to == 0,
            )
        ).first()
        if row is None or session.get(Report, row.seq) is not None:
            continue
        if audience:
            session.execute(update(OV).where(OV.seq == row.seq).values(audience=audience))
            # statistics count the record everyone may read: a report with an audience is not part of it
            counts.removed(session, [row])
        session.add(
            Report(
                seq=row.seq, collection_id=r.collection_id, object_id=r.object_id, kind=r.kind,
                reporter_id=r.reporter_id, count=r.count, first_seen_us=r.first_seen_us,
                last_seen_us=r.last_seen_us, date_added_us=row.date_added_us,
            )
        )  # fmt: skip
        n += 1
    session.flush()
    return n


def false_positive_reporters(session: Session, *, collection_id: str, object_id: str, since_us: int) -> int:
    """Distinct organisations whose shared false-positive reports on the object were added after
    `since_us` (the hub's own count: it decides a hold, and is shown to nobody)."""
    stmt = (
        select(func.count(func.distinct(Report.reporter_id)))
        .join(OV, OV.seq == Report.seq)
        .where(
            Report.collection_id == collection_id,
            Report.object_id == object_id,
            Report.kind == "false-positive",
            Report.date_added_us > since_us,
            OV.private_to == 0,
        )
    )
    return int(session.scalar(stmt) or 0)


def hold(session: Session, *, collection_id: str, object_id: str) -> FeedbackHold | None:
    """The hold state of an object (None: never held nor confirmed)."""
    return session.get(FeedbackHold, (collection_id, object_id))


def set_hold(session: Session, *, collection_id: str, object_id: str, held: bool, now_us: int) -> None:
    """Hold an object out of device lists, or release it (confirmed or revoked) as of `now_us`."""
    row = session.get(FeedbackHold, (collection_id, object_id))
    if row is None:
        session.add(
            FeedbackHold(collection_id=collection_id, object_id=object_id, held=held, since_us=now_us)
        )
    else:
        row.held, row.since_us = held, now_us
    session.flush()


def held_ids(
    session: Session, *, collection_ids: Sequence[str], object_ids: Sequence[str]
) -> set[tuple[str, str]]:
    """(collection, object) pairs of these that are held out of device lists."""
    if not collection_ids or not object_ids:
        return set()
    rows = session.execute(
        select(FeedbackHold.collection_id, FeedbackHold.object_id).where(
            FeedbackHold.collection_id.in_(list(collection_ids)),
            FeedbackHold.object_id.in_(list(object_ids)),
            FeedbackHold.held.is_(True),
        )
    )
    return {(c, o) for c, o in rows}


def any_reports(session: Session, *, collection_ids: Sequence[str]) -> bool:
    """Does one of these collections hold any report row at all: one index probe (the report index
    leads with the collection), for a reader of many objects that most often finds none (a device
    CSV's page: `feedback_present` with a thousand object ids costs far more)."""
    if not collection_ids:
        return False
    stmt = select(Report.collection_id).where(Report.collection_id.in_(list(collection_ids))).limit(1)
    return session.execute(stmt).first() is not None


def feedback_present(
    session: Session, *, collection_ids: Sequence[str], object_ids: Sequence[str]
) -> tuple[set[str], set[tuple[str, str]]]:
    """The collections of these holding a report row on one of these objects, and the (collection,
    object) pairs of these held out of device lists: one index-only statement. Says nothing of who may
    read a report (`hub.store.reads.report_rows` does): a caller only skips the door's queries where
    there is nothing for them to find."""
    if not collection_ids or not object_ids:
        return set(), set()
    cids, oids = list(collection_ids), sorted(set(object_ids))
    reported = (
        select(
            literal_column("'r'", String).label("what"),
            Report.collection_id,
            literal_column("''", String).label("object_id"),
        )
        .where(Report.collection_id.in_(cids), Report.object_id.in_(oids))
        .group_by(Report.collection_id)
    )
    held = select(
        literal_column("'h'", String).label("what"), FeedbackHold.collection_id, FeedbackHold.object_id
    ).where(
        FeedbackHold.collection_id.in_(cids),
        FeedbackHold.object_id.in_(oids),
        FeedbackHold.held.is_(True),
    )
    with_reports: set[str] = set()
    holds: set[tuple[str, str]] = set()
    for what, cid, oid in session.execute(union_all(reported, held)):
        if what == "r":
            with_reports.add(cid)
        else:
            holds.add((cid, oid))
    return with_reports, holds


def _lifetime(obj: dict[str, Any]) -> int | None:
    """valid_until - valid_from of an indicator (µs), None when it states no positive lifetime."""
    try:
        start = timestamp_us(obj.get("valid_from"), "valid_from")
        end = timestamp_us(obj.get("valid_until"), "valid_until")
    except InvalidObject:
        return None
    return end - start if end > start else None


def extend_lifetime(session: Session, *, collection_id: str, object_id: str, seen_us: int) -> int:
    """A sighting at `seen_us`: the indicator's index rows stay live until `seen_us` plus its lifetime
    (valid_until - valid_from, as its versions state), never shorter than they were. Returns the
    number of value rows extended."""
    versions = session.execute(
        select(OV.seq, OV.body).where(
            OV.collection_id == collection_id, OV.stix_id == object_id, OV.type == "indicator"
        )
    ).all()
    n = 0
    for seq, body in versions:
        span = _lifetime(orjson.loads(body))
        if span is None:
            continue
        until = seen_us + span
        result = session.execute(
            update(V)
            .where(V.seq == seq, V.valid_until_us.is_not(None), V.valid_until_us < until)
            .values(valid_until_us=until)
        )
        n += int(getattr(result, "rowcount", 0) or 0)
    return n


def held_of(session: Session, *, org_id: int) -> list[tuple[str, str]]:
    """(collection, object) of the held objects `org_id` published (its own shared versions: always its
    to read), oldest hold first."""
    stmt = (
        select(FeedbackHold.collection_id, FeedbackHold.object_id)
        .where(
            FeedbackHold.held.is_(True),
            select(OV.seq)
            .where(
                OV.collection_id == FeedbackHold.collection_id,
                OV.stix_id == FeedbackHold.object_id,
                OV.producer_id == org_id,
                OV.private_to == 0,
            )
            .exists(),
        )
        .order_by(FeedbackHold.since_us)
    )
    return [(c, o) for c, o in session.execute(stmt)]


def feedback_tag(session: Session, *, reader_org_id: int, clearance: int, collection_id: str) -> str:
    """What a download's ETag takes of the collection's feedback, as `reader_org_id` may count it:
    the reports it counts (through the read door, their audience aside) and the holds on objects it
    reads. A report or hold it may not count leaves the tag as it was."""
    from hub.store import reads as door

    reader = door.Reader(org_id=reader_org_id, clearance=clearance)
    counted = door.select_versions(
        ["seq"], reader=reader, collections=[collection_id], order=None, audience=False,
        filters=door.Filters(types=door.REPORT_TYPES, versions=("all",), shared_only=True),
    ).subquery()  # fmt: skip
    n, top = session.execute(select(func.count(), func.max(counted.c.seq))).one()
    target = door.select_versions(
        ["seq"], reader=reader, collections=[collection_id], order=None,
        filters=door.Filters(versions=("all",), shared_only=True),
    ).where(OV.stix_id == FeedbackHold.object_id)  # fmt: skip
    holds = session.execute(
        select(func.count(), func.max(FeedbackHold.since_us)).where(
            FeedbackHold.collection_id == collection_id, target.exists()
        )
    ).one()
    return f"{n}:{top}:{holds[0]}:{holds[1]}"


@dataclass(frozen=True)
class NoticeSource:
    """A stored report as the notifier's matcher reads it: the report, the object's publisher (the
    producer of its latest shared version, and that version) and the object's hold, when held."""

    seq: int
    collection_id: str
    object_id: str
    kind: str
    reporter_id: int
    date_added_us: int
    publisher_id: int | None
    publisher_seq: int | None
    held_since_us: int | None


def notice_sources(session: Session, seqs: Sequence[int]) -> list[NoticeSource]:
    """The reports among these versions (by seq), each with its object's publisher and hold (the hub's
    own read: the notifier tells only the publisher, and reads everything again through the read door
    as that publisher when it delivers)."""
    wanted = sorted(set(seqs))
    if not wanted:
        return []
    found = list(session.scalars(select(Report).where(Report.seq.in_(wanted)).order_by(Report.seq)))
    publishers: dict[tuple[str, str], tuple[int | None, int | None]] = {}
    out: list[NoticeSource] = []
    for r in found:
        key = (r.collection_id, r.object_id)
        if key not in publishers:
            top = session.execute(
                select(OV.seq, OV.producer_id)
                .where(
                    OV.collection_id == r.collection_id,
                    OV.stix_id == r.object_id,
                    OV.private_to == 0,
                    OV.audience == 0,
                )
                .order_by(OV.version_us.desc(), OV.seq.desc())
                .limit(1)
            ).first()
            publishers[key] = (top.producer_id, top.seq) if top is not None else (None, None)
        h = hold(session, collection_id=r.collection_id, object_id=r.object_id)
        pub, pub_seq = publishers[key]
        out.append(
            NoticeSource(
                r.seq, r.collection_id, r.object_id, r.kind, r.reporter_id, r.date_added_us, pub, pub_seq,
                h.since_us if h is not None and h.held else None,
            )
        )  # fmt: skip
    return out
