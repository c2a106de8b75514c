"""Exports of what a member may read in a collection or a whole trust group, streamed in bounded memory.

Three formats: a STIX 2.1 bundle (the latest versions, redacted like TAXII), a plain blocklist (one value
a line, for firewalls and resolvers) and CSV. The bundle reads versions in keyset pages of the read
door's query (date added, sequence). The blocklists read the value index (hub.store.values) in keyset
pages through the same door, each page in a short transaction of its own: values come from observables
and from indicator patterns simple enough to block on (equality comparisons joined by OR, and an address
paired with a port or protocol). A plain blocklist walks one kind's values in the index's key order,
every visible row of a value on one page, so it writes each value once by construction, in flat memory
and at a cost per page that does not grow with what came before. CSV lines carry
`reporters`, the distinct members the reader sees reporting the value; `min_reporters` keeps the values
at least that many report (a consensus list), then `sightings` and `false_positives`: the distinct
organisations the reader may count reporting the object seen, or a false positive (hub.feedback). An
object that false-positive reports hold (until its publisher confirms or revokes it) is on no device list.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import orjson
from sqlalchemy.orm import Session

from hub.db import end_read
from hub.feedback import summaries
from hub.lookup import reads
from hub.lookup.benign import DEFAULT_GUARD, Guard
from hub.lookup.values import HASH_ALGORITHMS, TYPES_OF_KIND, Value, lifecycle, problem, values_of
from hub.policy.tlp import Tlp
from hub.store import feedback as feedback_rows
from hub.store import reads as door
from hub.store import values as value_index
from hub.store.models import PRIVATE_TLP
from hub.trust import access
from hub.trust.service import Principal
from hub.vocab.time import format_us

__all__ = [
    "BlocklistKind",
    "DownloadFilters",
    "ExportRow",
    "Fingerprint",
    "blocklist",
    "blocklist_csv",
    "bundle",
    "device_values",
    "fingerprint",
    "rows",
    "scope",
]

BlocklistKind = Literal["ip", "domain", "url", "hash"]
BLOCKLIST_KINDS: tuple[BlocklistKind, ...] = ("ip", "domain", "url", "hash")
PAGE_SIZE = 1000
# new columns go last (`port`, then `reporters`), so consumers reading the first columns by position keep
# working
CSV_HEADER = (
    "value", "type", "tlp", "first_seen", "object_id", "collection", "port", "reporters", "sightings",
    "false_positives",
)  # fmt: skip
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
    min_reporters: int = 0  # blocklists: only values at least this many members report (consensus)

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
                self.min_reporters,
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
    producer_id: int = 0  # the publisher: the member organisation that put this version in the hub
    # device rows only (`rows(device=True)`): "revoked", "expired" or None, and the valid_until (µs) that
    # decides it, a sighting's extension included (hub.store.values.with_device_state)
    state: str | None = None
    valid_until_us: int | None = None


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


# the columns an export row is built from (names of hub.store.reads.COLUMNS)
_ROW_COLUMNS = (
    "seq", "collection_id", "stix_id", "type", "tlp", "redact_tlp", "date_added_us", "body", "producer_id",
)  # fmt: skip


def _filters(f: DownloadFilters) -> door.Filters:
    """What the read door is asked for the rows of an export (the latest visible versions)."""
    return door.Filters(
        added_after_us=f.added_after_us,
        types=f.row_types(),
        tlp_min=None if f.tlp_min is None else int(f.tlp_min),
        tlp_max=None if f.tlp_max is None else int(f.tlp_max),
    )


def rows(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    *,
    device: bool = False,
) -> Iterator[ExportRow]:
    """The latest visible versions in each collection, in date-added order, a keyset page at a time.

    With `device` (the device formats' rows), only versions carrying values, each judged as blocklists
    judge it (hub.store.values.with_device_state): none held by false-positive reports, and its lifecycle
    (`valid`) from the index, where a sighting extends valid_until; otherwise `valid` reads the object.

    Each page is read in a transaction of its own, ended before its rows go to a client however slow
    (hub.db.end_read), so a download never holds a snapshot for long. The versions are those stored
    when the download started (up to its first sequence number): one written meanwhile neither adds
    a second copy of an object already sent nor removes one not yet sent.
    """
    now = time.time_ns() // 1000
    upto = door.latest_seq(session)
    filters = _filters(f)
    for acc in accesses:
        # a device cleared lower than its organisation gets optional content above its ceiling removed
        clearance = acc.clearance if f.tlp_max is None else min(acc.clearance, f.tlp_max)
        reader = door.Reader(org_id=principal.org_id, clearance=int(acc.clearance))
        position: tuple[int, int] | None = None
        while True:
            stmt = door.select_versions(
                _ROW_COLUMNS, reader=reader, collections=[acc.collection.id], filters=filters,
                upto_seq=upto, after=position, order="added", limit=PAGE_SIZE + 1,
            )  # fmt: skip
            if device:
                stmt = value_index.with_device_state(stmt)
            page = list(session.execute(stmt))
            if not page:
                break
            batch = page[:PAGE_SIZE]
            received = reads.as_received(session, batch, clearance_of={acc.collection.id: Tlp(clearance)})
            out: list[ExportRow] = []
            for r in batch:
                got = received[r.seq]
                if got is None:
                    continue
                state: str | None = None
                until: int | None = None
                if device:
                    st = value_index.device_state(r)
                    if st is None or st.held:  # no values, or held off device lists (hub.feedback)
                        continue
                    state, until = st.lifecycle(now), st.valid_until_us
                    if f.valid and state is not None:
                        continue
                elif f.valid and not _valid(got.obj, now):
                    continue
                tlp = reads.display_tlp(
                    session, tlp=r.tlp, obj=got.obj, collection_id=acc.collection.id,
                    default=acc.group.default_tlp,
                )  # fmt: skip
                out.append(
                    ExportRow(
                        acc, r.stix_id, r.type, tlp, r.date_added_us, got.obj, got.body, r.producer_id,
                        state, until,
                    )
                )  # fmt: skip
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


def device_values(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    *,
    guard: Guard | None = None,
) -> Iterator[tuple[ExportRow, Value]]:
    """The values a device list takes, each with the row it comes from, in the order of `rows`: of the
    asked kind and algorithm, fit for a device (`problem`) and off the active known-benign lists unless
    asked. A value comes once per row, and again from every other row holding it (the other device
    formats, hub.lookup.formats, read this stream)."""
    guard = guard if guard is not None else group_guard(session, accesses)
    end_read(session)
    # held objects and sighting-extended lifetimes: judged as blocklists judge them (`rows(device=True)`)
    for row in rows(session, principal, accesses, f, device=True):
        for v in dict.fromkeys(values_of(row.obj, simple_only=True)):
            if _wanted(v, f, guard):
                yield row, v


class Line(NamedTuple):
    """One value a blocklist writes: the value, the version holding it, and its reporters (a tuple: a
    CSV download makes one per line)."""

    access: access.CollectionAccess
    value: Value
    stix_id: str
    tlp: Tlp
    date_added_us: int
    reporters: int


def lines(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    *,
    first_only: bool,
) -> Iterator[Line]:
    """The values a device list of `accesses` carries, from the value index. With `first_only` (a plain
    blocklist, `f.kind` set) each value once, in value-key order (`_value_lines`); otherwise one line a
    value of each version, in date-added order per collection (`_version_lines`).

    Each page is read in a transaction of its own, ended before its lines go to a client however slow
    (hub.db.end_read). The versions are those stored when the download started (up to its first
    sequence number). A page's cost does not grow with the collections: nothing asks what came before.
    """
    now = time.time_ns() // 1000
    upto = value_index.last_seq(session)
    guard = group_guard(session, accesses)
    df = value_index.DeviceFilters(
        kinds=(f.kind,) if f.kind is not None else (),
        added_after_us=f.added_after_us,
        tlp_min=None if f.tlp_min is None else int(f.tlp_min),
        now_us=now if f.valid else None,
    )
    ceiling = None if f.tlp_max is None else int(f.tlp_max)
    scopes = [
        value_index.Scope(principal.org_id, int(a.clearance), (a.collection.id,), ceiling) for a in accesses
    ]
    # a device cleared lower than its organisation gets optional content above its ceiling removed
    redact_at = {
        a.collection.id: Tlp(a.clearance if f.tlp_max is None else min(a.clearance, f.tlp_max))
        for a in accesses
    }
    if first_only:
        yield from _value_lines(session, accesses, scopes, f, df, guard, upto, now, redact_at)
    else:
        yield from _version_lines(session, accesses, scopes, f, df, guard, upto, now, redact_at)


@dataclass
class _Page:
    """What a page's rows need besides themselves: reporters, the reader's copies of redacted versions
    and the bodies of private ones (read in the page's transaction)."""

    counts: dict[bytes, int]
    received: dict[int, reads.Redacted | None]
    private: dict[int, dict[str, Any]]


def _page_extras(
    session: Session,
    page: list[Any],
    scopes: list[value_index.Scope],
    f: DownloadFilters,
    now: int,
    redact_at: dict[str, Tlp],
    *,
    counts: bool,
) -> _Page:
    redacted = [r for r in page if r.redact_tlp is not None and r.redact_tlp > redact_at[r.collection_id]]
    private = [r for r in page if r.tlp == PRIVATE_TLP]
    found = (
        value_index.bodies(session, scopes, [r.seq for r in (*redacted, *private)])
        if redacted or private
        else {}
    )
    received = (
        reads.as_received(
            session,
            [
                _WithBody(r.seq, r.collection_id, found[r.seq], r.redact_tlp)
                for r in redacted
                if r.seq in found
            ],
            clearance_of=redact_at,
        )
        if redacted
        else {}
    )
    for r in redacted:  # a version the door no longer gives (it cannot: bounded by upto) is withheld
        received.setdefault(r.seq, None)
    own = {r.seq: orjson.loads(found[r.seq]) for r in private if r.seq in found}
    return _Page(_reporters(session, page, scopes, now) if counts else {}, received, own)


def _reporters(
    session: Session, page: list[Any], scopes: list[value_index.Scope], now: int
) -> dict[bytes, int]:
    """`reporters` of the page's keys. A key only this page's row holds (no other index row, visible or
    not: the row's `shared`, read with the page) has one reporter if that row's version is neither
    revoked nor expired, none otherwise: only the keys held by more rows are counted through the read
    door (one grouped query)."""
    shared = {r.key for r in page if r.shared}
    kinds = {r.kind for r in page if r.shared}
    out = value_index.reporters(session, scopes, shared, now_us=now, kinds=kinds) if shared else {}
    for r in page:
        if r.key not in shared and not r.revoked and (r.valid_until_us is None or r.valid_until_us > now):
            out[r.key] = 1
    return out


@dataclass(frozen=True)
class _WithBody:
    seq: int
    collection_id: str
    body: bytes
    redact_tlp: int | None


_LEVELS = {int(t): t for t in Tlp}  # a stored level as a Tlp, without the enum's lookup per line


def _line(session: Session, acc: access.CollectionAccess, r: Any, v: Value, extras: _Page, n: int) -> Line:
    tlp = _LEVELS[min(r.tlp, Tlp.RED)]
    if r.tlp == PRIVATE_TLP:  # the publisher's own private version: its markings' level
        got = extras.received.get(r.seq)
        obj = got.obj if got is not None else extras.private.get(r.seq, {})
        tlp = reads.display_tlp(
            session, tlp=r.tlp, obj=obj, collection_id=acc.collection.id, default=acc.group.default_tlp
        )
    return Line(acc, v, r.stix_id, tlp, r.date_added_us, n)


def _holds(r: Any, v: Value, extras: _Page) -> bool:
    """The reader's copy of the row's version still holds the value (a redacted copy may not)."""
    if r.seq not in extras.received:
        return True
    got = extras.received[r.seq]
    return got is not None and v in _simple_values(got.obj)


def _value_lines(
    session: Session,
    accesses: list[access.CollectionAccess],
    scopes: list[value_index.Scope],
    f: DownloadFilters,
    df: value_index.DeviceFilters,
    guard: Guard,
    upto: int,
    now: int,
    redact_at: dict[str, Tlp],
) -> Iterator[Line]:
    """Each value of `f.kind` once, in key order: pages of the (kind, key) index through the read door,
    every row of a key on one page. A value's line is its first visible occurrence in the order of
    `accesses`, then date added: the one its collection is counted for."""
    kind = f.kind
    if kind is None:
        raise ValueError("a list of each value once needs a kind of value")
    place = {a.collection.id: i for i, a in enumerate(accesses)}
    by_id = {a.collection.id: a for a in accesses}
    after: bytes | None = None
    while True:
        page, bound = value_index.key_page(
            session, scopes, df, kind, upto_seq=upto, after_key=after, limit=PAGE_SIZE,
            shared=f.min_reporters > 0,
        )  # fmt: skip
        end_read(session)
        if not page:
            if bound is None:
                break
            after = bound
            continue
        extras = _page_extras(session, page, scopes, f, now, redact_at, counts=f.min_reporters > 0)
        end_read(session)
        best: dict[tuple[Any, ...], tuple[tuple[int, int, int], Any, Value]] = {}
        counts, received, at_least = extras.counts, extras.received, f.min_reporters
        for r in page:
            # what makes two rows one line (value_index.line_of), without a call: this loop runs for
            # every value of the list
            kind = r.kind
            line = (
                (r.key, r.stix_type) if kind == "ip" else (r.key, r.algorithm) if kind == "hash" else (r.key,)
            )
            rank = (place[r.collection_id], r.date_added_us, r.seq)
            held = best.get(line)
            if held is not None and held[0] <= rank:
                continue
            v = Value(kind, r.stix_type, r.value, r.algorithm, r.in_pattern, r.port)
            if not _wanted(v, f, guard) or (at_least and counts.get(r.key, 0) < at_least):
                continue
            if r.seq in received and not _holds(r, v, extras):
                continue
            best[line] = (rank, r, v)
        out = [
            _line(session, by_id[r.collection_id], r, v, extras, counts.get(r.key, 0))
            if r.tlp == PRIVATE_TLP
            # `_line`'s common case, inline
            else Line(by_id[r.collection_id], v, r.stix_id, _LEVELS[min(r.tlp, Tlp.RED)], r.date_added_us,
                      counts.get(r.key, 0))
            for _, r, v in best.values()
        ]  # fmt: skip
        end_read(session)
        yield from out
        if bound is None:
            break
        after = bound


def _version_lines(
    session: Session,
    accesses: list[access.CollectionAccess],
    scopes: list[value_index.Scope],
    f: DownloadFilters,
    df: value_index.DeviceFilters,
    guard: Guard,
    upto: int,
    now: int,
    redact_at: dict[str, Tlp],
) -> Iterator[Line]:
    """One line a value of each visible version, in date-added order per collection: keyset pages of
    the collection's versions joined to their index rows, with the page's reporters in one query."""
    for acc, scope in zip(accesses, scopes, strict=True):
        position: tuple[int, int] | None = None
        while True:
            page = value_index.device_page(
                session, scope, df, upto_seq=upto, position=position, limit=PAGE_SIZE
            )
            # each query of a page reads in a snapshot of its own, and none is held while the page is
            # judged in Python: every read is bounded by `upto`, so the answers do not depend on the
            # snapshot, and a SQLite WAL reset never waits for a download's page (hub.db.WriteGate)
            end_read(session)
            if not page:
                break
            extras = _page_extras(session, page, scopes, f, now, redact_at, counts=True)
            end_read(session)
            out: list[Line] = []
            written: set[tuple[Any, ...]] = set()
            counts, received, at_least = extras.counts, extras.received, f.min_reporters
            for r in page:
                # what makes two rows one line (value_index.line_of, and the port), without a call
                kind = r.kind
                line = (
                    r.seq, r.key, r.stix_type if kind == "ip" else r.algorithm if kind == "hash" else None,
                    r.port,
                )  # fmt: skip
                if line in written:
                    continue
                v = Value(kind, r.stix_type, r.value, r.algorithm, r.in_pattern, r.port)
                if not _wanted(v, f, guard):
                    continue
                n = counts.get(r.key, 0)
                if n < at_least or (r.seq in received and not _holds(r, v, extras)):
                    continue
                written.add(line)
                if r.tlp == PRIVATE_TLP:
                    out.append(_line(session, acc, r, v, extras, n))
                else:  # `_line`'s common case, inline
                    out.append(Line(acc, v, r.stix_id, _LEVELS[min(r.tlp, Tlp.RED)], r.date_added_us, n))
            end_read(session)
            yield from out
            last = page[-1]
            position = (last.date_added_us, last.seq)


def _simple_values(obj: dict[str, Any]) -> list[Value]:
    """The values of a (redacted) object a device list may carry, as the index stores them."""
    return [
        Value(v.kind, v.stix_type, v.value, v.algorithm, v.in_pattern, v.port)
        for v in values_of(obj, simple_only=True)
    ]


def blocklist(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    *,
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """One value a line, each once, in value-key order (the index's order, not the order added: that
    keeps each page's cost flat however many values came before); `f.kind` says which values."""
    if f.kind is None:
        raise ValueError("a blocklist needs a kind of value")
    chunk: list[str] = []
    for line in lines(session, principal, accesses, f, first_only=True):
        chunk.append(line.value.value)
        if counter is not None:
            counter.add(line.access.collection.id)
        if len(chunk) >= 500:
            yield ("\n".join(chunk) + "\n").encode()
            chunk = []
    if chunk:
        yield ("\n".join(chunk) + "\n").encode()


def blocklist_csv(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    *,
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """CSV of value, type, tlp, first_seen (date added), object id, collection, port (of a pattern
    pairing an address with one) and reporters (the distinct members the reader sees reporting the
    value): one line a value of each object."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_HEADER)
    collection_ids = sorted({a.collection.id for a in accesses})
    for batch in _batches(lines(session, principal, accesses, f, first_only=False), PAGE_SIZE):
        # the feedback the reader may count on these objects (hub.feedback), read in a short transaction;
        # collections without a single report (most) cost one index probe a page, not the look-up of
        # each object (holds need nothing here: a held object is on no device list)
        fb = (
            summaries(session, principal, accesses, sorted({line.stix_id for line in batch}))
            if feedback_rows.any_reports(session, collection_ids=collection_ids)
            else {}
        )
        end_read(session)
        dates: dict[int, str] = {}  # a version's values share its date added: formatted once a page
        cells: list[tuple[Any, ...]] = []
        for line in batch:
            v = line.value
            vtype = f"{v.stix_type}:hashes.{v.algorithm}" if v.algorithm else v.stix_type
            s = fb.get(line.stix_id) if fb else None
            added = dates.get(line.date_added_us)
            if added is None:
                added = dates[line.date_added_us] = format_us(line.date_added_us)
            cells.append(
                (_cell(v.value), vtype, line.tlp.label, added, line.stix_id,
                 line.access.collection.alias, "" if v.port is None else v.port, line.reporters,
                 s.sightings if s else 0, s.false_positives if s else 0)
            )  # fmt: skip
            if counter is not None:
                counter.add(line.access.collection.id)
        out.writerows(cells)
        if buf.tell() >= 64 * 1024:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode()


def _batches(items: Iterator[Line], size: int) -> Iterator[list[Line]]:
    batch: list[Line] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclass(frozen=True)
class Fingerprint:
    """What a download's validators are made of: an ETag and the last date added it covers.

    `lineage` names the list without its content: everything the ETag is made of that decides what the
    reader may see and how the list is written (the reader's organisation, the download and its
    parameters, the group and its value checks, each collection read with the reader's clearance), but
    not the rows nor the feedback on them. Kept device lists (hub.lookup.device_cache) are kept under it.
    """

    etag: str
    last_added_us: int | None
    lineage: str = ""


def lineage(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    what: str,
    *,
    group: str = "",
    guard: Guard | None = None,
) -> str:
    """A download's lineage (see `Fingerprint`), without reading the rows: the reader's organisation,
    the download (`what`, `group`: the slug asked for) and its parameters, the group's value checks, and
    each collection read with the reader's clearance, its alias and its group's name and TLP."""
    guard = guard if guard is not None else group_guard(session, accesses)
    policy: list[Any] = ["lineage-v1", principal.org_id, group, what, f.key(), guard.tag]
    for acc in accesses:
        # what a list writes of the collection besides its rows: its alias, the group's name and TLP
        policy.append(
            (acc.collection.id, int(acc.clearance), acc.collection.alias, acc.group.id, acc.group.name,
             int(acc.group.default_tlp))
        )  # fmt: skip
    return hashlib.sha256(repr(policy).encode()).hexdigest()


def fingerprint(
    session: Session,
    principal: Principal,
    accesses: list[access.CollectionAccess],
    f: DownloadFilters,
    what: str,
    *,
    period: str = "",
    group: str = "",
    guard: Guard | None = None,
) -> Fingerprint:
    """An ETag for a download, from the visible rows only (their latest sequence and number per
    collection), the reader's clearances and the parameters: a change the reader cannot see leaves it
    as it was, so the ETag tells nothing the download itself would not. `period` goes into the ETag but
    not the lineage (a time after which the same rows make another list); `group` (the slug asked for)
    into the lineage. `guard`: the group's value checks when the caller has read them already."""
    # the group's value checks decide what a list holds: a change to them changes the ETag
    guard = guard if guard is not None else group_guard(session, accesses)
    h = hashlib.sha256(f"lookup-v1|{principal.org_id}|{what}{period}|{f.key()}|{guard.tag}".encode())
    last: int | None = None
    for acc in accesses:
        # every version the reader may read (a report it may not read, its audience, changes nothing)
        top, n, added = door.visible_extent(
            session,
            reader=door.Reader(org_id=principal.org_id, clearance=int(acc.clearance)),
            collection_id=acc.collection.id,
        )
        h.update(f"|{acc.collection.id}:{int(acc.clearance)}:{top}:{n}".encode())
        # holds leave objects off lists, and CSV lines count feedback: both change the ETag
        tag = feedback_rows.feedback_tag(
            session,
            reader_org_id=principal.org_id,
            clearance=int(acc.clearance),
            collection_id=acc.collection.id,
        )
        h.update(f"|{tag}".encode())
        if added is not None:
            last = added if last is None else max(last, added)
    kin = lineage(session, principal, accesses, f, what, group=group, guard=guard)
    return Fingerprint(etag=f'"{h.hexdigest()[:32]}"', last_added_us=last, lineage=kin)


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
