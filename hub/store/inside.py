"""The store's reads for constituency watch, over the value index (`object_values`, hub.store.values):
the values of new versions for the matcher (a cursor on date added and sequence), and the re-check of
what an organisation may read at delivery time. Every read as an organisation goes through the
policy's visibility predicate; the inside view itself is `hub.store.values.find`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import LargeBinary, Row, bindparam, select
from sqlalchemy.orm import Session

from hub.policy.granular import redact
from hub.policy.tlp import MarkingConflict, Tlp
from hub.store import reads as door
from hub.store.markings import marking_index, referenced
from hub.store.tables import ObjectValue as V
from hub.store.tables import ObjectVersion as OV
from hub.vocab.values import host_key, suffix_end

_VERSION: list[Any] = [
    OV.seq,
    OV.collection_id,
    OV.stix_id,
    OV.type,
    OV.date_added_us,
    OV.redact_tlp,
    OV.private_to,
    OV.tlp,
    OV.producer_id,
]
_VALUE: list[Any] = [V.seq, V.ord, V.kind, V.value]
_SHORT = ["seq", "collection_id", "stix_id", "type", "tlp", "producer_id", "date_added_us"]
# the kinds of value a constituency holds: addresses and networks, domains, URLs (by their host)
WATCHED_KINDS = ("ip", "domain", "url")


def new_versions(session: Session, *, after_seq: int, limit: int) -> Sequence[Row[Any]]:
    """Versions stored after sequence `after_seq`, in sequence order (the primary key's order, so a
    batch costs the same however large the table): (seq, collection_id, stix_id, type, date_added_us,
    redact_tlp, private_to, tlp, producer_id). The matcher stops at the first one added too recently to
    be settled."""
    stmt = select(*_VERSION).where(OV.seq > after_seq).order_by(OV.seq).limit(limit)
    return session.connection().execute(stmt).all()


def values_of_versions(session: Session, first_seq: int, last_seq: int) -> dict[int, list[tuple[str, str]]]:
    """The indexed (kind, value) pairs of the versions with a sequence from `first_seq` to `last_seq`, of
    the kinds a constituency holds (one range scan of the index's primary key, however many versions).
    Carries no visibility: the caller checks what each organisation may read before keeping anything."""
    out: dict[int, list[tuple[str, str]]] = {}
    stmt = (
        select(*_VALUE)
        .where(V.seq >= first_seq, V.seq <= last_seq, V.kind.in_(WATCHED_KINDS))
        .order_by(V.seq, V.ord)
    )
    for seq, _ord, kind, value in session.connection().execute(stmt):
        out.setdefault(seq, []).append((kind, value))
    return out


def collections_of(session: Session, seqs: Iterable[int]) -> dict[int, str]:
    """The collection of each version (by seq) that still exists."""
    wanted = sorted(set(seqs))
    out: dict[int, str] = {}
    for i in range(0, len(wanted), 1000):
        for seq, coll in session.execute(
            select(OV.seq, OV.collection_id).where(OV.seq.in_(wanted[i : i + 1000]))
        ):
            out[seq] = coll
    return out


def visible_versions(
    session: Session, *, reader_org_id: int, clearances: Mapping[str, int | None], seqs: Iterable[int]
) -> dict[int, Row[Any]]:
    """The versions among `seqs` the reader may read now, by seq: (seq, collection_id, stix_id, type,
    tlp, producer_id, date_added_us). `clearances` maps each collection to the clearance the reader
    reads it with (None: it may not read it; a collection not given is not read)."""
    return _readable(session, reader_org_id, clearances, seqs, _SHORT)


def readable_notices(
    session: Session, *, reader_org_id: int, clearances: Mapping[str, int | None], seqs: Iterable[int]
) -> dict[int, Row[Any]]:
    """The versions among `seqs` the reader may read now, by seq, with their bodies: what a feedback
    notice is made of (a report, or the publisher's own object)."""
    return _readable(session, reader_org_id, clearances, seqs, [*_SHORT, "body"])


def _readable(
    session: Session,
    reader_org_id: int,
    clearances: Mapping[str, int | None],
    seqs: Iterable[int],
    columns: Sequence[str],
) -> dict[int, Row[Any]]:
    """Through the read door (private versions, a report only by its audience: hub.store.reads), every
    version among `seqs`, superseded ones included, one read per clearance and 1,000 seqs."""
    wanted = sorted(set(seqs))
    by_level: dict[int, list[str]] = {}
    for coll, level in clearances.items():
        if level is not None:
            by_level.setdefault(int(level), []).append(coll)
    out: dict[int, Row[Any]] = {}
    for level, colls in by_level.items():
        for i in range(0, len(wanted), 1000):
            stmt = door.select_versions(
                columns,
                reader=door.Reader(org_id=reader_org_id, clearance=level),
                collections=sorted(colls),
                filters=door.ALL_VERSIONS,
                order=None,
            ).where(OV.seq.in_(wanted[i : i + 1000]))
            for row in session.execute(stmt):
                out[row.seq] = row
    return out


def received(session: Session, *, seq: int, collection_id: str, clearance: int) -> dict[str, Any] | None:
    """A version as a reader cleared to `clearance` receives it (optional content marked above it
    removed, hub.policy.granular.redact, as TAXII serves it); None when it is withheld or gone. The
    caller already knows the reader may read the version."""
    body = session.scalar(select(OV.body).where(OV.seq == seq))
    if body is None:
        return None
    obj = orjson.loads(body)
    markings = marking_index(session, collection_id=collection_id, refs=referenced([obj]))
    try:
        return redact(obj, Tlp(clearance), markings)
    except MarkingConflict:
        return None


def values_in(
    session: Session, *, ranges: Sequence[tuple[bytes, bytes]], domains: Sequence[str]
) -> set[tuple[str, str]]:
    """The distinct (kind, value) pairs of the value index inside these IP ranges (16-byte bounds, as
    hub.vocab.values.ip_range gives them) or on or under these domains: one range scan of the address
    or the reversed-host index per network or domain. Carries no visibility: the caller reads the
    versions holding them through `hub.store.values.find`, which applies it."""
    out: set[tuple[str, str]] = set()
    conn = session.connection()
    lo, hi = bindparam("lo", type_=LargeBinary()), bindparam("hi", type_=LargeBinary())
    # one statement each, built once and run per network or domain with its bounds
    in_range = select(V.kind, V.value).where(V.lo >= lo, V.lo <= hi, V.hi <= hi, V.kind == "ip").distinct()
    on_host = (
        select(V.kind, V.value).where(V.host >= lo, V.host < hi, V.kind.in_(("domain", "url"))).distinct()
    )
    for first, last in ranges:
        out.update((k, v) for k, v in conn.execute(in_range, {"lo": first, "hi": last}))
    for domain in domains:
        out.update(
            (k, v) for k, v in conn.execute(on_host, {"lo": host_key(domain), "hi": suffix_end(domain)})
        )
    return out
