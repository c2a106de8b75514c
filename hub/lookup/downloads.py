"""Exports of what a member may read in a collection or a whole trust group, streamed in bounded memory.

Three formats: a STIX 2.1 bundle (the latest versions, redacted like TAXII), a plain blocklist (one value
a line, for firewalls and resolvers) and CSV. Rows are read in keyset pages of the TAXII read query
(date added, sequence), so memory holds one page at a time; a blocklist also keeps the set of values it
has written, to write each once. Values come from observables and from indicator patterns simple enough
to block on (hub.lookup.values.values_of with `simple_only`): equality comparisons joined by OR, and an
address paired with a port or protocol (its address).
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db import end_read
from hub.lookup import reads
from hub.lookup.benign import DEFAULT_GUARD, Guard
from hub.lookup.values import HASH_ALGORITHMS, TYPES_OF_KIND, Value, lifecycle, problem, values_of
from hub.policy.tlp import Tlp
from hub.stix import format_us
from hub.store import queries as q
from hub.store.models import ObjectVersion as OV
from hub.trust import access
from hub.trust.service import Principal

__all__ = [
    "BlocklistKind",
    "DownloadFilters",
    "ExportRow",
    "Fingerprint",
    "blocklist",
    "blocklist_csv",
    "bundle",
    "fingerprint",
    "rows",
    "scope",
]

BlocklistKind = Literal["ip", "domain", "url", "hash"]
BLOCKLIST_KINDS: tuple[BlocklistKind, ...] = ("ip", "domain", "url", "hash")
PAGE_SIZE = 1000
# `port` last, so consumers reading the first six columns by position keep working
CSV_HEADER = ("value", "type", "tlp", "first_seen", "object_id", "collection", "port")
_BUNDLE_NAMESPACE = uuid.UUID("5f0a8a52-3c1e-4f0e-9a55-2b5f3d1f8e21")


@dataclass(frozen=True)
class DownloadFilters:
    """What to export: filters on the rows, and the values a blocklist takes."""

    added_after_us: int | None = None
    tlp_min: Tlp | None = None
    tlp_max: Tlp | None = None
    valid: bool = False  # skip revoked objects and indicators whose valid_until has passed
    kind: BlocklistKind | None = None  # blocklists: the kind of value; CSV: None for every kind
    algorithm: str | None = None  # hash blocklists: one algorithm (MD5, SHA-1, SHA-256, SHA-512)
    types: tuple[str, ...] = ()  # restrict rows to these STIX types (derived from `kind` when empty)
    include_flagged: bool = False  # also values on a known-benign list (hub.lookup.benign)

    def row_types(self) -> tuple[str, ...]:
        if self.types:
            return self.types
        if self.kind is not None:
            return TYPES_OF_KIND[self.kind]
        return ()

    def key(self) -> str:
        return repr(
            (
                self.added_after_us,
                self.tlp_min,
                self.tlp_max,
                self.valid,
                self.kind,
                self.algorithm,
                self.types,
                self.include_flagged,
            )
        )


@dataclass
class ExportRow:
    """One latest visible version as its reader receives it."""

    access: access.CollectionAccess
    stix_id: str
    type: str
    tlp: Tlp
    date_added_us: int
    obj: dict[str, Any]
    body: bytes


@dataclass
class Counter:
    """How many items a stream wrote, per collection (for its audit events)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, collection_id: str, n: int = 1) -> None:
        self.counts[collection_id] = self.counts.get(collection_id, 0) + n


def scope(
    session: Session, principal: Principal, group: str, collection: str | None = None
) -> list[access.CollectionAccess]:
    """The collections a download reads: one collection of `group`, or all of them the caller may read.

    An unknown group, a group the caller is not in, an unknown collection and one it may not read all
    raise the same NotFound.
    """
    from hub.errors import NotFound

    missing = NotFound(f"There is no trust group '{group[:64]}' or collection here that you may read.")
    try:
        accesses = reads.readable(session, principal, group=group)
    except NotFound:
        raise missing from None
    if collection is not None:
        accesses = [a for a in accesses if collection in (a.collection.id, a.collection.alias)]
        if not accesses:
            raise missing
    return accesses


def _query(acc: access.CollectionAccess, principal: Principal, f: DownloadFilters, upto_seq: int) -> Any:
    stmt = reads.visible_rows(
        (OV.seq, OV.collection_id, OV.stix_id, OV.type, OV.tlp, OV.redact_tlp, OV.date_added_us, OV.body),
        collection_ids=[acc.collection.id], reader_org_id=principal.org_id, clearance=acc.clearance,
        upto_seq=upto_seq,
    )  # fmt: skip
    stmt = q.added_after(stmt, f.added_after_us)
    stmt = q.match_type(stmt, f.row_types())
    if f.tlp_min is not None:
        stmt = stmt.where(OV.tlp >= int(f.tlp_min))
    if f.tlp_max is not None:
        stmt = stmt.where(OV.tlp <= int(f.tlp_max))
    return stmt


def rows(
    session: Session, principal: Principal, accesses: list[access.CollectionAccess], f: DownloadFilters
) -> Iterator[ExportRow]:
    """The latest visible versions in each collection, in date-added order, a keyset page at a time.

    Each page is read in a transaction of its own, ended before its rows go to a client however slow
    (hub.db.end_read), so a download never holds a snapshot for long. The versions are those stored
    when the download started (up to its first sequence number): one written meanwhile neither adds
    a second copy of an object already sent nor removes one not yet sent.
    """
    now = time.time_ns() // 1000
    upto = session.scalar(select(func.max(OV.seq))) or 0
    for acc in accesses:
        # a device cleared lower than its organisation gets optional content above its ceiling removed
        clearance = acc.clearance if f.tlp_max is None else min(acc.clearance, f.tlp_max)
        base = _query(acc, principal, f, upto)
        position: tuple[int, int] | None = None
        while True:
            page = list(session.execute(q.page(q.after_token(base, position), PAGE_SIZE)))
            if not page:
                break
            batch = page[:PAGE_SIZE]
            received = reads.as_received(session, batch, clearance_of={acc.collection.id: Tlp(clearance)})
            out: list[ExportRow] = []
            for r in batch:
                got = received[r.seq]
                if got is None or (f.valid and not _valid(got.obj, now)):
                    continue
                tlp = reads.display_tlp(
                    session, tlp=r.tlp, obj=got.obj, collection_id=acc.collection.id,
                    default=acc.group.default_tlp,
                )  # fmt: skip
                out.append(ExportRow(acc, r.stix_id, r.type, tlp, r.date_added_us, got.obj, got.body))
            end_read(session)
            yield from out
            if len(page) <= PAGE_SIZE:
                break
            position = (batch[-1].date_added_us, batch[-1].seq)


def _valid(obj: dict[str, Any], now_us: int) -> bool:
    return lifecycle(obj, now_us) is None


def bundle(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    *,
    bundle_id: str | None = None,
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """A STIX 2.1 bundle of the latest visible versions, as chunks of JSON bytes."""
    bid = bundle_id or f"bundle--{uuid.uuid4()}"
    yield b'{"type":"bundle","id":"' + bid.encode() + b'","objects":['
    first = True
    chunk: list[bytes] = []
    for row in rows(session, principal, accesses, f):
        chunk.append(row.body if first and not chunk else b"," + row.body)
        first = False
        if counter is not None:
            counter.add(row.access.collection.id)
        if len(chunk) >= 200:
            yield b"".join(chunk)
            chunk = []
    if chunk:
        yield b"".join(chunk)
    yield b"]}\n"


def group_guard(session: Session, accesses: list[access.CollectionAccess]) -> Guard:
    """The value checks of the group a download reads (its prefix minimums and own benign list)."""
    from hub.trust.benign import guard_for

    return guard_for(session, accesses[0].group) if accesses else DEFAULT_GUARD


def _wanted(v: Value, f: DownloadFilters, guard: Guard) -> bool:
    """Does `v` go in this download: of the asked kind and algorithm, and fit for a device list of the
    group (hub.lookup.values.problem: checked again here, whatever is already stored)."""
    if f.kind is not None and v.kind != f.kind:
        return False
    if problem(v, guard.limits) is not None:
        return False
    if not f.include_flagged and guard.listed(v) is not None:
        return False
    if v.kind == "email" and f.kind is None:
        return True
    return not (v.kind == "hash" and f.algorithm is not None and v.algorithm != f.algorithm)


def blocklist(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    *,
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """One value a line, each once, in the order first added; `f.kind` says which values."""
    if f.kind is None:
        raise ValueError("a blocklist needs a kind of value")
    seen: set[str] = set()
    lines: list[str] = []
    guard = group_guard(session, accesses)
    for row in rows(session, principal, accesses, f):
        for v in values_of(row.obj, simple_only=True):
            if v.value in seen or not _wanted(v, f, guard):
                continue
            seen.add(v.value)
            lines.append(v.value)
            if counter is not None:
                counter.add(row.access.collection.id)
        if len(lines) >= 500:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def blocklist_csv(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    *,
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """CSV of value, type, tlp, first_seen (date added), object id, collection and port (of a pattern
    pairing an address with one): one line a value."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_HEADER)
    guard = group_guard(session, accesses)
    for row in rows(session, principal, accesses, f):
        written: set[tuple[str, str, int | None]] = set()
        for v in values_of(row.obj, simple_only=True):
            if not _wanted(v, f, guard) or (v.stix_type, v.value, v.port) in written:
                continue
            written.add((v.stix_type, v.value, v.port))
            vtype = f"{v.stix_type}:hashes.{v.algorithm}" if v.algorithm else v.stix_type
            out.writerow(
                (_cell(v.value), vtype, row.tlp.label, format_us(row.date_added_us), row.stix_id,
                 row.access.collection.alias, "" if v.port is None else v.port)
            )  # fmt: skip
            if counter is not None:
                counter.add(row.access.collection.id)
        if buf.tell() >= 64 * 1024:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode()


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclass(frozen=True)
class Fingerprint:
    """What a download's validators are made of: an ETag and the last date added it covers."""

    etag: str
    last_added_us: int | None


def fingerprint(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    what: str,
) -> Fingerprint:
    """An ETag for a download, from the visible rows only (their latest sequence and number per
    collection), the reader's clearances and the parameters: a change the reader cannot see leaves it
    as it was, so the ETag tells nothing the download itself would not."""
    # the group's value checks decide what a list holds: a change to them changes the ETag
    guard = group_guard(session, accesses)
    h = hashlib.sha256(f"lookup-v1|{principal.org_id}|{what}|{f.key()}|{guard.tag}".encode())
    last: int | None = None
    for acc in accesses:
        stmt = select(func.max(OV.seq), func.count(), func.max(OV.date_added_us)).where(
            OV.collection_id == acc.collection.id,
            q.visible(reader_org_id=principal.org_id, clearance=acc.clearance),
        )
        top, n, added = session.execute(stmt).one()
        h.update(f"|{acc.collection.id}:{int(acc.clearance)}:{top}:{n}".encode())
        if added is not None:
            last = added if last is None else max(last, added)
    return Fingerprint(etag=f'"{h.hexdigest()[:32]}"', last_added_us=last)


def bundle_id_for(fp: Fingerprint) -> str:
    """A bundle id stable for one state of the data: the same download twice is the same bytes."""
    return f"bundle--{uuid.uuid5(_BUNDLE_NAMESPACE, fp.etag)}"


def parse_kind(value: str) -> BlocklistKind:
    """A blocklist kind, or ValueError naming the choices."""
    v = value.strip().lower()
    for k in BLOCKLIST_KINDS:
        if v == k:
            return k
    raise ValueError(f"kind must be one of {', '.join(BLOCKLIST_KINDS)}, not '{value[:40]}'")


def parse_algorithm(value: str) -> str:
    """A hash algorithm name (md5, sha1, sha-256, ...), or ValueError naming the choices."""
    from hub.lookup.values import algorithm_name

    alg = algorithm_name(value)
    if alg is None:
        raise ValueError(f"algorithm must be one of {', '.join(HASH_ALGORITHMS)}, not '{value[:40]}'")
    return alg
