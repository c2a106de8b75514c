"""The value index: writing it with the versions it describes, and reading it through TAXII's visibility.

Every version that carries values (observables, files, indicators with STIX patterns) gets one
`object_values` row per value (hub.vocab.values.index_entries) in the transaction that inserts it, and
loses them in the one that deletes it. Nothing here trusts an index row on its own: every read starts
from the read door's query (`hub.store.reads.select_versions`: the policy's visibility predicate,
private rows only for their publisher, the latest version the reader may see, per publisher for
observables) and joins the index rows to it. So a value of a private, superseded or hidden version is
never found, counted or listed.

The read functions take `Scope`s (the collections a reader reads at one clearance, as
hub.trust.access decides) and return plain rows:

- `find`: versions holding values equal to given keys, inside given IP ranges, holding given networks,
  with given hosts or under given domains; newest first or after a sequence cursor (`after_seq`);
- `reporters`: per value key, how many distinct publishers the reader may see reporting it;
- `key_page`: keyset pages of one kind's values in key order, every visible row of a value on one
  page, so a blocklist in many short transactions writes each value once without holding a set of
  what it has sent or asking what came before; `device_page`: keyset pages of a collection's values in
  date-added order (one line a value of each version: CSV); `bodies`: the few versions of a page
  that must be redacted or are private;
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    distinct,
    exists,
    false,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from hub.db import PREPARE_OPTION
from hub.stix import timestamp_us
from hub.store import reads as door
from hub.store.tables import FeedbackHold, Report
from hub.store.tables import ObjectValue as V
from hub.store.tables import ObjectVersion as OV
from hub.vocab.values import (
    INDEXED_TYPES,
    KINDS,
    Entry,
    enclosing_ranges,
    host_key,
    index_entries,
    ip_range,
    suffix_end,
)

__all__ = [
    "DeviceFilters",
    "DeviceState",
    "Match",
    "Scope",
    "bodies",
    "device_page",
    "device_state",
    "find",
    "index_versions",
    "key_page",
    "merged",
    "remove",
    "reporters",
    "with_device_state",
]

# ------------------------------------------------------------------------------------------- writing

# the columns of object_values, in the order rows are built: the seq and ord, then an `Entry`'s fields as
# they are, then the version's lifecycle (COPY and executemany take them as they are)
_COLUMNS = (
    "seq", "ord", "kind", "stix_type", "value", "algorithm", "port", "in_pattern", "simple", "key", "lo",
    "hi", "host", "revoked", "valid_until_us",
)  # fmt: skip
assert _COLUMNS[2:13] == Entry._fields  # noqa: S101 (a row is (seq, ord) + entry + lifecycle)
_PG_TYPES = (
    "int8", "int2", "varchar", "varchar", "text", "varchar", "int4", "bool", "bool", "bytea", "bytea",
    "bytea", "bytea", "bool", "int8",
)  # fmt: skip
_SQLITE_INSERT = (  # the column names are the constants above, nothing from outside
    f"INSERT INTO object_values ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"  # noqa: S608
)
_PG_COPY = f"COPY object_values ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
# the versions a transaction just inserted into one collection, by date added (see index_versions)
_NEW_SEQS = {
    "sqlite": "SELECT seq, stix_id, version_us, private_to FROM object_versions "
    "WHERE collection_id = ? AND date_added_us >= ?",
    "postgresql": "SELECT seq, stix_id, version_us, private_to FROM object_versions "
    "WHERE collection_id = %s AND date_added_us >= %s",
}


def lifecycle_columns(obj: Mapping[str, Any]) -> tuple[bool, int | None]:
    """(revoked, valid_until µs) of an object; an unreadable valid_until counts as past (0)."""
    until = obj.get("valid_until")
    if until is None:
        return obj.get("revoked") is True, None
    try:
        return obj.get("revoked") is True, timestamp_us(until, "valid_until")
    except ValueError:
        return obj.get("revoked") is True, 0


def rows_for(seq: int, obj: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The object_values rows of one stored version."""
    entries = index_entries(obj)
    if not entries:
        return []
    tail = lifecycle_columns(obj)
    if len(entries) == 1:
        return [(seq, 0, *entries[0], *tail)]
    return [(seq, i, *e, *tail) for i, e in enumerate(entries)]


def index_versions(
    session: Session,
    inserted: Sequence[Any],
    objects: Mapping[tuple[str, str, int, int], Mapping[str, Any]] | None = None,
    *,
    seqs: Sequence[int] | None = None,
) -> int:
    """Index the values of versions just inserted (rows with collection_id, stix_id, type, version_us,
    date_added_us, private_to and body); returns how many value rows were written.

    `seqs`, when the caller knows them, are the versions' sequence numbers in the order of `inserted`.

    Their sequence numbers are read back by (collection, date added): the caller inserted them under the
    collection's write lock with dates above every stored one (hub.store.objects.lock_collection), so
    the rows at or after the first new date are exactly these. `objects` may give the parsed objects
    (by collection, id, version µs, private_to) so that their bytes are not parsed again.
    """
    if seqs is not None:
        out: list[tuple[Any, ...]] = []
        for seq, r in zip(seqs, inserted, strict=True):
            if r.type in INDEXED_TYPES:
                key = (r.collection_id, r.stix_id, r.version_us, r.private_to)
                obj = objects.get(key) if objects is not None else None
                out.extend(rows_for(seq, obj if obj is not None else orjson.loads(r.body)))
        write_rows(session, out)
        return len(out)
    first: dict[str, int] = {}
    by_key: dict[tuple[str, str, int, int], Any] = {}
    for r in inserted:
        if r.type in INDEXED_TYPES:
            since = first.get(r.collection_id)
            if since is None or r.date_added_us < since:
                first[r.collection_id] = r.date_added_us
            by_key[(r.collection_id, r.stix_id, r.version_us, r.private_to)] = r
    if not by_key:
        return 0
    conn = session.connection()
    # the driver's cursor: a thousand plain tuples, without building a statement or Row objects
    sql = _NEW_SEQS["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    out = []
    for coll, since in first.items():
        for seq, sid, ver, priv in conn.exec_driver_sql(sql, (coll, since)).fetchall():
            key = (coll, sid, ver, priv)
            r = by_key.get(key)
            if r is None:
                continue
            obj = objects.get(key) if objects is not None else None
            out.extend(rows_for(seq, obj if obj is not None else orjson.loads(r.body)))
    write_rows(session, out)
    return len(out)


def write_rows(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Insert object_values rows (in `_COLUMNS` order): COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        dbapi: Any = conn.connection.driver_connection
        with dbapi.cursor() as cur, cur.copy(_PG_COPY) as copy:
            copy.set_types(list(_PG_TYPES))
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql(_SQLITE_INSERT, rows)


def remove(session: Session, seqs: Sequence[int]) -> None:
    """Delete the index rows of deleted versions (same transaction as the versions' delete)."""
    items = list(seqs)
    for i in range(0, len(items), 1000):
        session.execute(delete(V).where(V.seq.in_(items[i : i + 1000])))


def backfill(session: Session, *, batch: int = 2000) -> int:
    """Index every stored version not yet indexed, a batch of versions at a time (bounded memory);
    returns the number of value rows written. Used by migration 0008 and `index_missing`."""
    written = 0
    position = 0
    indexed = exists().where(V.seq == OV.seq)
    while True:
        stmt = (
            select(OV.seq, OV.body)
            .where(OV.seq > position, OV.type.in_(sorted(INDEXED_TYPES)), ~indexed)
            .order_by(OV.seq)
            .limit(batch)
        )
        page = list(session.execute(stmt))
        if not page:
            return written
        out: list[tuple[Any, ...]] = []
        for seq, body in page:
            try:
                obj = orjson.loads(body)
            except orjson.JSONDecodeError:
                continue
            out.extend(rows_for(seq, obj))
        write_rows(session, out)
        written += len(out)
        position = page[-1].seq


# ------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Scope:
    """Collections a reader reads at one clearance (hub.trust.access decides both; an empty tuple reads
    nothing). `ceiling` keeps versions at or below a level (a device cleared lower than its
    organisation: hub.lookup.downloads' tlp_max)."""

    reader_org_id: int
    clearance: int
    collection_ids: tuple[str, ...]
    ceiling: int | None = None


# the version columns every found row carries with its value (names of hub.store.reads.COLUMNS)
_VERSION_COLUMNS = (
    "seq", "collection_id", "stix_id", "type", "tlp", "redact_tlp", "producer_id", "private_to", "version",
    "date_added_us",
)  # fmt: skip
_VALUE_COLUMNS = (
    V.ord, V.kind, V.stix_type, V.value, V.key, V.algorithm, V.port, V.in_pattern, V.simple, V.revoked,
    V.valid_until_us,
)  # fmt: skip


def _through_door(
    scope: Scope,
    columns: Sequence[str],
    *,
    tlp_min: int | None = None,
    added_after_us: int | None = None,
    upto_seq: int | None = None,
) -> Select[Any]:
    """The read door's query for `scope` (unordered), joined to the index rows of its versions: the one
    visibility predicate of every index read."""
    stmt = door.select_versions(
        columns,
        reader=door.Reader(org_id=scope.reader_org_id, clearance=scope.clearance),
        collections=scope.collection_ids,
        filters=door.Filters(tlp_min=tlp_min, tlp_max=scope.ceiling, added_after_us=added_after_us),
        upto_seq=upto_seq,
        order=None,
    )
    return stmt.join(V, V.seq == OV.seq)


def _held(table: Any = OV) -> ColumnElement[bool]:
    """The version's object is held out of device lists by false-positive reports (hub.feedback), on a
    (possibly aliased) object_versions table."""
    return exists().where(
        FeedbackHold.collection_id == table.collection_id,
        FeedbackHold.object_id == table.stix_id,
        FeedbackHold.held.is_(True),
    )


def _readable(
    scope: Scope,
    *,
    tlp_min: int | None = None,
    added_after_us: int | None = None,
    upto_seq: int | None = None,
) -> ColumnElement[bool]:
    """The index row's version passes the read door for `scope`: the same query as `_through_door`,
    as a correlated EXISTS on the version's primary key. Queries driven by a value (a key, a range, a
    host) put it beside the index rows, so every database looks the values up first and each version
    once by its key, whatever statistics it has on the collections."""
    door_query = door.select_versions(
        ["seq"],
        reader=door.Reader(org_id=scope.reader_org_id, clearance=scope.clearance),
        collections=scope.collection_ids,
        filters=door.Filters(tlp_min=tlp_min, tlp_max=scope.ceiling, added_after_us=added_after_us),
        upto_seq=upto_seq,
        order=None,
    )
    return exists(door_query.where(OV.seq == V.seq))


# the version table as queries driven by a value join it (`_by_value`), and the other index rows of a
# key (`_shared`): made once, not per query (an alias's column proxies cost more to make than the rest
# of the query); neither is used by the read door's query, which `_readable` puts beside them
_OV_BY_VALUE = aliased(OV)
_OTHER_VALUE = aliased(V)


def _by_value(columns: Sequence[str]) -> tuple[Any, list[Any]]:
    """An alias of the version table joined to the index rows by primary key, and its named columns:
    the columns of versions `_readable` admitted."""
    ov = _OV_BY_VALUE
    return ov, [getattr(ov, c) for c in columns]


def _active(now_us: int) -> ColumnElement[bool]:
    """Index rows of versions neither revoked nor past their valid_until."""
    return and_(V.revoked.is_(False), or_(V.valid_until_us.is_(None), V.valid_until_us > now_us))


@dataclass(frozen=True)
class DeviceState:
    """Where a version stands for device lists, as the index keeps it: held by false-positive reports,
    revoked, and its `valid_until` (µs; a sighting's extension included, hub.store.feedback)."""

    held: bool
    revoked: bool
    valid_until_us: int | None

    def lifecycle(self, now_us: int) -> str | None:
        """ "revoked", "expired" or None (live): `_active`'s twin, the rule every device list applies."""
        if self.revoked:
            return "revoked"
        if self.valid_until_us is not None and self.valid_until_us <= now_us:
            return "expired"
        return None


def with_device_state(stmt: Select[Any]) -> Select[Any]:
    """A read of object versions (the read door's query) with each version's device-list state beside
    it, from what blocklists read: its first index row's lifecycle columns (`dl_revoked`,
    `dl_valid_until_us`: `_active`'s, a sighting's extension included, hub.store.feedback) and its hold
    (`dl_held`: `_held`). A version without values has no index row: `dl_revoked` is NULL. The other
    device formats (hub.lookup.formats) judge holds and lifetimes from here, exactly as blocklists do,
    in the page query itself (a primary-key join), not in a read of their own."""
    return stmt.outerjoin(V, and_(V.seq == OV.seq, V.ord == 0)).add_columns(
        V.revoked.label("dl_revoked"), V.valid_until_us.label("dl_valid_until_us"), _held().label("dl_held")
    )


def device_state(row: Any) -> DeviceState | None:
    """The state `with_device_state` put on a row (None: the version carries no values)."""
    if row.dl_revoked is None:
        return None
    return DeviceState(bool(row.dl_held), bool(row.dl_revoked), row.dl_valid_until_us)


@dataclass(frozen=True)
class Match:
    """What a value must be to be found; any of the criteria (an empty Match finds nothing).

    `keys`: equal to one of these values (hub.vocab.values.value_key). `holding`: an IP value whose
    range holds the network (a stored CIDR around a searched address, or the address itself).
    `inside`: IP values within one of these (lo, hi) ranges (a constituency's networks). `hosts`:
    domains and URLs with exactly this host (host_key). `under`: domains and URLs on a domain or any
    name under it. `kinds`: restrict to these kinds of value.
    """

    keys: tuple[bytes, ...] = ()
    holding: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    inside: tuple[tuple[bytes, bytes], ...] = ()
    hosts: tuple[bytes, ...] = ()
    under: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    @staticmethod
    def networks(nets: Iterable[str]) -> Match:
        """IP values inside any of the given addresses or CIDRs."""
        ranges = tuple(r for r in (ip_range(n) for n in nets) if r is not None)
        return Match(inside=ranges)

    def shape(self) -> tuple[Any, ...] | None:
        """What a search's statement depends on besides the values (`find` keeps one statement per
        shape and reader, the values its parameters: `bound`); None for the watch's Matches (ranges
        and domains), built each time."""
        if self.inside or self.under or len(self.holding) > 1:
            return None
        return (bool(self.keys), bool(self.holding), bool(self.hosts), self.kinds)

    def bound(self) -> dict[str, Any]:
        """The values of a Match of a `shape`, as the parameters of `clause(bound=True)`."""
        params: dict[str, Any] = {}
        if self.keys:
            params["m_keys"] = list(self.keys)
        if self.holding:
            ranges = enclosing_ranges(self.holding[0])
            params["m_firsts"] = sorted({lo for lo, _ in ranges})
            params["m_last"] = ranges[-1][1]
        if self.hosts:
            params["m_hosts"] = list(self.hosts)
        return params

    def clause(self, *, bound: bool = False) -> ColumnElement[bool]:
        """The condition on index rows; with `bound` (a Match of a `shape`), its values as the
        parameters `bound()` names, so one statement serves every value of the shape."""
        conds: list[ColumnElement[bool]] = []
        if self.keys:
            # the key index leads with the kind (ix_object_values_kind_key): a key is looked up under
            # each kind it may be of (a key is a hash of kind and value, so this adds no condition)
            keys: Any = bindparam("m_keys", expanding=True) if bound else list(self.keys)
            conds.append(and_(V.kind.in_(list(self.kinds or KINDS)), V.key.in_(keys)))
        for net in self.holding:
            # `lo IN (...)` lets both databases walk the range index once per first address of an
            # enclosing network; a stored range starting at one of them holds `net` exactly when it
            # reaches `net`'s last address (stored values are addresses and CIDRs: a range starts at its
            # network's address). One comparison, not a (lo, hi) pair per enclosing network: planning
            # 33 pairs (129 for IPv6) cost PostgreSQL three times what running the query did
            if bound:
                conds.append(
                    and_(V.lo.in_(bindparam("m_firsts", expanding=True)), V.hi >= bindparam("m_last"))
                )
                continue
            ranges = enclosing_ranges(net)
            firsts = sorted({lo for lo, _ in ranges})
            conds.append(and_(V.lo.in_(firsts), V.hi >= ranges[-1][1]))
        for lo, hi in self.inside:
            conds.append(and_(V.lo >= lo, V.lo <= hi, V.hi <= hi))
        if self.hosts:
            conds.append(V.host.in_(bindparam("m_hosts", expanding=True) if bound else list(self.hosts)))
        for domain in self.under:
            conds.append(and_(V.host >= host_key(domain), V.host < suffix_end(domain)))
        if not conds:
            return false()
        found = or_(*conds)
        if not self.kinds:
            return found
        # `kinds` tests the rows the criteria found, never chooses the index: said as `kind || ''`, which
        # no index holds. As a plain `kind IN (...)`, SQLite (no statistics) drove a search for an
        # address by the (kind, key) index, reading every IP value of the hub: 45 ms at 100,000 objects
        # and growing with them, against a few range lookups (bench/bench_lookup.py, EXPLAIN).
        return and_((V.kind + "").in_(list(self.kinds)), found)


@functools.lru_cache(maxsize=2)
def _find_columns(with_body: bool) -> tuple[Any, tuple[Any, ...]]:
    """`find`'s version alias and columns, made once (an alias is only a name in a statement; making
    one and its columns costs more CPU than running a search's query on SQLite)."""
    ov, columns = _by_value([*_VERSION_COLUMNS, *(("body",) if with_body else ())])
    return ov, tuple(columns)


def find(
    session: Session,
    scope: Scope,
    match: Match,
    *,
    limit: int = 100,
    before_seq: int | None = None,
    after_seq: int | None = None,
    with_body: bool = True,
    feedback_in: Sequence[str] = (),
) -> list[Any]:
    """Index rows matching `match` joined to the visible versions holding them (value and version
    columns; `body` only `with_body`), for at most `limit` versions.

    With `feedback_in` (collection ids), each row also says whether one of those collections holds a
    report row or a hold on its object (`feedback`: `hub.store.feedback.feedback_present`'s question,
    asked here for the rows found), so that a caller whose rows have none reads no feedback at all.

    Newest first (by sequence: the order versions were stored), resuming below `before_seq`; or, with
    `after_seq`, oldest first after that sequence (an incremental matcher's cursor: `seq` only grows).
    The values are looked up in their index (value, range or host) and each version once by its
    primary key (`_readable`): the plan does not depend on a collection's size.
    """
    direction = "after" if after_seq is not None else "before" if before_seq is not None else "newest"
    shape = match.shape()
    if shape is not None:  # a search's: one statement a reader and shape, the values as parameters
        stmt = _find_statement(scope, shape, with_body, tuple(feedback_in), direction)
        params = match.bound()
    else:
        stmt, params = _find_select(scope, match.clause(), with_body, tuple(feedback_in), direction), {}
    if direction != "newest":
        params["position"] = after_seq if after_seq is not None else before_seq
    out: list[Any] = []
    versions: set[int] = set()
    for row in _core(session, stmt, params):
        if row.seq not in versions:
            if len(versions) == limit:
                break
            versions.add(row.seq)
        out.append(row)
    return out


@lru_cache(maxsize=256)
def _find_statement(
    scope: Scope, shape: tuple[Any, ...], with_body: bool, feedback_in: tuple[str, ...], direction: str
) -> Select[Any]:
    """`find`'s statement for a reader's scope and a Match's `shape`, the Match's values its parameters
    (`Match.bound`). Kept, because making the statement and its cache key on every search cost more of
    the hub's CPU than the database took to answer it."""
    keys, holding, hosts, kinds = shape
    template = Match(  # what the bound clause reads of a Match: which criteria it has, and its kinds
        keys=(b"",) if keys else (),
        holding=(ipaddress.ip_network("0.0.0.0/32"),) if holding else (),
        hosts=(b"",) if hosts else (),
        kinds=kinds,
    )
    return _find_select(scope, template.clause(bound=True), with_body, feedback_in, direction)


def _find_select(
    scope: Scope, clause: ColumnElement[bool], with_body: bool, feedback_in: tuple[str, ...], direction: str
) -> Select[Any]:
    ov, columns = _find_columns(with_body)
    stmt = (
        select(*columns, *_VALUE_COLUMNS)
        .select_from(V)
        .join(ov, ov.seq == V.seq)
        .where(clause, _readable(scope))
    )
    if feedback_in:
        stmt = stmt.add_columns(_feedback_on(ov, list(feedback_in)))
    position = bindparam("position", type_=BigInteger)
    if direction == "after":
        stmt = stmt.where(V.seq > position).order_by(V.seq, V.ord)
    elif direction == "before":
        stmt = stmt.where(V.seq < position).order_by(V.seq.desc(), V.ord)
    else:
        stmt = stmt.order_by(V.seq.desc(), V.ord)
    # prepared on PostgreSQL: a value drives the plan whatever the parameters (see above), and planning
    # cost more than running it
    return stmt.execution_options(**{PREPARE_OPTION: True})


def _feedback_on(ov: Any, collection_ids: list[str]) -> ColumnElement[bool]:
    """The column `feedback`: one of these collections holds a report row, or a hold, on the row's
    object (index probes only; who may read a report is the read door's question, asked later)."""
    reported = exists().where(Report.collection_id.in_(collection_ids), Report.object_id == ov.stix_id)
    held = exists().where(
        FeedbackHold.collection_id.in_(collection_ids),
        FeedbackHold.object_id == ov.stix_id,
        FeedbackHold.held.is_(True),
    )
    return or_(reported, held).label("feedback")


def _core(session: Session, stmt: Any, params: Mapping[str, Any] | None = None) -> Any:
    """The rows of a read in the session's transaction, through SQLAlchemy Core: the same rows as
    `session.execute` without the ORM's per-row handling (a device-list page has a thousand rows of
    twenty columns, and nothing here reads entities)."""
    return session.connection().execute(stmt, params)


@contextmanager
def _page_plan(session: Session, needed: bool = True) -> Iterator[None]:
    """PostgreSQL: plan a device-list page's queries by their indexes, never by scanning a table.

    Each of them reads about a page of index rows, one version each by primary key. PostgreSQL costs
    those reads as random disk reads (random_page_cost) and, once a page is a percent or so of a
    table, prefers to scan the whole table instead, once per page: a download then slows as the
    collections grow (the 20-minute soak of issue 22, measured with EXPLAIN at 100,000 objects). With
    the hub's tables in cache the index reads are the cheap ones, so sequential scans are switched off
    for the page's queries only (the settings are restored after them, and are local to the
    transaction). Nor are parallel workers started for them: a page's plan walks an index in order and
    stops after a thousand rows, and starting the workers took about 10 ms of a 27 ms page (EXPLAIN
    ANALYZE at 100,000 objects: Gather Merge, its first row at 9.5 ms) for nothing a page gains.
    Both settings go in one statement each way. Not `needed` for a query of a few keys (a search's),
    which every plan reads by index: the settings would cost more than the query."""
    conn = session.connection()
    pg = needed and conn.dialect.name == "postgresql" and not _planned_by_keys.get()
    if pg:
        conn.exec_driver_sql(_PLAN_BY_INDEX)
    try:
        yield
    finally:
        if pg:
            conn.exec_driver_sql(_PLAN_AS_BEFORE)


# set_config(..., true) is SET LOCAL; one statement for both settings, one round trip
_PLAN_BY_INDEX = (
    "SELECT set_config('enable_seqscan', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)
_PLAN_AS_BEFORE = "SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL max_parallel_workers_per_gather TO DEFAULT"


_planned_by_keys: ContextVar[bool] = ContextVar("_planned_by_keys", default=False)


@contextmanager
def few_keys() -> Iterator[None]:
    """Reads of at most a search page of value keys (hub.lookup.search: up to 500): `_page_plan` leaves
    PostgreSQL's plan alone, saving its two round trips. Looking a few hundred keys up is planned by the
    value index anyway (EXPLAIN ANALYZE of `reporters` at 1,000,000 objects: 1, 50 and 500 keys, an
    index or bitmap scan of object_values and each version by its primary key, no sequential scan)."""
    token = _planned_by_keys.set(True)
    try:
        yield
    finally:
        _planned_by_keys.reset(token)


def _chunks(items: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def merged(scopes: Sequence[Scope]) -> list[Scope]:
    """The same reads as `scopes`, one scope per (reader, clearance, ceiling): a query then asks the read
    door once per clearance, not once per collection (the door's latest-version rule is per collection,
    so reading collections together is reading each of them)."""
    grouped: dict[tuple[int, int, int | None], list[str]] = {}
    for s in scopes:
        grouped.setdefault((s.reader_org_id, s.clearance, s.ceiling), []).extend(s.collection_ids)
    return [Scope(org, clearance, tuple(ids), ceiling) for (org, clearance, ceiling), ids in grouped.items()]


def _readable_any(scopes: Sequence[Scope], **kw: Any) -> ColumnElement[bool]:
    """The index row's version passes the read door for one of `scopes` (`_readable`)."""
    conds = [_readable(s, **kw) for s in merged(scopes)]
    return or_(*conds) if conds else false()


def reporters(
    session: Session,
    scopes: Sequence[Scope],
    keys: Iterable[bytes],
    *,
    now_us: int,
    kinds: Iterable[str] = KINDS,
) -> dict[bytes, int]:
    """Per value key, the number of distinct publishers of the visible latest versions that carry it
    and are neither revoked nor expired, over every scope (a publisher seen in two counts once).
    Keys no visible version carries are absent. One grouped query per 500 keys, whatever the scopes.
    `kinds`: the kinds of value the keys are of, when the caller knows (fewer index look-ups)."""
    wanted = sorted(set(keys))
    out: dict[bytes, int] = {}
    if not wanted:
        return out
    stmt = _reporters_query(tuple(merged(scopes)), tuple(sorted(set(kinds))))
    for chunk in _chunks(wanted):
        with _page_plan(session, len(chunk) > _FEW_KEYS):
            found = list(_core(session, stmt, {"keys": list(chunk), "now_us": now_us}))
        for key, n in found:
            out[key] = int(n)
    return out


_FEW_KEYS = 50  # reporters of at most this many keys (a search, an object view) need no page plan


@lru_cache(maxsize=256)
def _reporters_query(scopes: tuple[Scope, ...], kinds: tuple[str, ...]) -> Select[bytes, int]:
    """`reporters`' grouped query for these (merged) scopes and kinds, the keys and the time bound
    parameters: built once per reader's scopes, not per call (building the read door's query costs
    more than running it for a few keys)."""
    ov, (producer_id,) = _by_value(["producer_id"])
    now = bindparam("now_us", type_=BigInteger)
    return (
        select(V.key, func.count(distinct(producer_id)))
        .select_from(V)
        .join(ov, ov.seq == V.seq)
        .where(
            V.kind.in_(list(kinds)),
            V.key.in_(bindparam("keys", expanding=True)),
            V.revoked.is_(False),
            or_(V.valid_until_us.is_(None), V.valid_until_us > now),
            _readable_any(scopes),
        )
        .group_by(V.key)
        # prepared on PostgreSQL: each key is looked up in the value index whatever the plan's
        # parameters, and planning the count cost more than running it
        .execution_options(**{PREPARE_OPTION: True})
    )


@dataclass(frozen=True)
class DeviceFilters:
    """What a device list takes (hub.lookup.downloads.DownloadFilters, as the index reads it)."""

    kinds: tuple[str, ...] = ()  # empty: every kind
    added_after_us: int | None = None
    tlp_min: int | None = None
    now_us: int | None = None  # set: leave out revoked and expired versions


def _device_query(scope: Scope, f: DeviceFilters, columns: Sequence[str], upto_seq: int) -> Select[Any]:
    stmt = _through_door(
        scope, columns, tlp_min=f.tlp_min, added_after_us=f.added_after_us, upto_seq=upto_seq
    ).where(V.simple.is_(True), ~_held())
    if f.kinds:
        stmt = stmt.where(V.kind.in_(list(f.kinds)))
    if f.now_us is not None:
        stmt = stmt.where(_active(f.now_us))
    return stmt


def _shared() -> Any:
    """The column `shared`: another index row (of any version, visible or not: an index-only probe)
    holds the row's key. A key held by one row only has at most one reporter, its version's publisher,
    so a device list needs no `reporters` query for it. Asked in the page's own query, one index probe a
    row, not in a query of its own with the page's keys."""
    other = _OTHER_VALUE
    return (
        exists()
        .where(other.kind == V.kind, other.key == V.key, or_(other.seq != V.seq, other.ord != V.ord))
        .label("shared")
    )


def device_page(
    session: Session,
    scope: Scope,
    f: DeviceFilters,
    *,
    upto_seq: int,
    position: tuple[int, int] | None,
    limit: int,
) -> list[Any]:
    """One keyset page of the values a device list of `scope` carries (plain comparisons and
    observables: `simple`), in date-added order after `position` (the date added and seq of the last
    version of the previous page), each with its version's columns (not its body: `bodies`); whole
    versions only, about `limit` rows. Versions stored after `upto_seq` (when the download began) are
    left out. Each row says whether another index row holds its key (`shared`)."""
    stmt = _device_query(scope, f, list(_VERSION_COLUMNS), upto_seq).add_columns(*_VALUE_COLUMNS, _shared())
    if position is not None:
        stmt = stmt.where(tuple_(OV.date_added_us, OV.seq) > tuple_(*position))
    with _page_plan(session):
        rows = list(_core(session, stmt.order_by(OV.date_added_us, OV.seq, V.ord).limit(limit)))
    if len(rows) == limit:
        last = rows[-1].seq
        if (
            rows[0].seq != last
        ):  # the last version may go on in the next rows: leave it whole to the next page
            rows = [r for r in rows if r.seq != last]
        else:  # one version carrying more values than a page: all of them
            rows = list(_core(session, stmt.where(OV.seq == last).order_by(V.ord)))
    return rows


def key_page(
    session: Session,
    scopes: Sequence[Scope],
    f: DeviceFilters,
    kind: str,
    *,
    upto_seq: int,
    after_key: bytes | None,
    limit: int,
    shared: bool = True,
) -> tuple[list[Any], bytes | None]:
    """One keyset page of the index rows of one kind of value a device list of `scopes` carries, in key
    order after `after_key`, with their versions' columns, and the key to resume after (None: the
    last page). The page is a range of keys: the next `limit` index rows of the kind (an index-only
    walk of (kind, key), whatever their versions), then every visible row of the keys up to the last
    of them, so all rows of a value are on one page and a list written from these pages has each value
    once by construction, with no look at earlier pages. Each version is checked once by its primary
    key (`_readable`): a page costs the same however large the collections. A page may be empty (all
    of its rows invisible) and still not the last. Versions stored after `upto_seq` are left out.
    Without `shared` (a list that counts no reporters) each row's `shared` is false, unasked: one index
    probe a row fewer."""
    walk = select(V.key).where(V.kind == kind)
    if after_key is not None:
        walk = walk.where(V.key > after_key)
    with _page_plan(session):
        bound = session.scalar(walk.order_by(V.kind, V.key).offset(max(limit - 1, 0)).limit(1))
    ov, columns = _by_value(_VERSION_COLUMNS)
    stmt = (
        select(*columns, *_VALUE_COLUMNS, _shared() if shared else false().label("shared"))
        .select_from(V)
        .join(ov, ov.seq == V.seq)
        .where(V.kind == kind, V.simple.is_(True), ~_held(ov))
    )
    if after_key is not None:
        stmt = stmt.where(V.key > after_key)
    if bound is not None:
        stmt = stmt.where(V.key <= bound)
    if f.now_us is not None:
        stmt = stmt.where(_active(f.now_us))
    stmt = stmt.where(
        _readable_any(scopes, tlp_min=f.tlp_min, added_after_us=f.added_after_us, upto_seq=upto_seq)
    )
    with _page_plan(session):
        rows = list(_core(session, stmt.order_by(V.kind, V.key, V.seq, V.ord)))
    return rows, bound


def bodies(session: Session, scopes: Sequence[Scope], seqs: Iterable[int]) -> dict[int, bytes]:
    """The stored bytes of versions the read door gives `scopes` (for the few rows of a page that are
    redacted or private), by sequence."""
    wanted = sorted(set(seqs))
    out: dict[int, bytes] = {}
    for chunk in _chunks(wanted):
        for scope in merged(scopes):
            stmt = door.select_versions(
                ["seq", "body"],
                reader=door.Reader(org_id=scope.reader_org_id, clearance=scope.clearance),
                collections=scope.collection_ids,
                filters=door.Filters(tlp_max=scope.ceiling, versions=("all",)),
                order=None,
            ).where(OV.seq.in_(list(chunk)))
            for seq, body in session.execute(stmt):
                out[seq] = body
    return out


def line_of(kind: str, key: bytes, stix_type: str, algorithm: str | None) -> tuple[Any, ...]:
    """What makes two index rows one line of a device list: the value, and for an IP its SCO type, for
    a hash its algorithm (what hub.lookup.values.problem judges them by)."""
    if kind == "ip":
        return (key, stix_type)
    if kind == "hash":
        return (key, algorithm)
    return (key,)


def last_seq(session: Session) -> int:
    """The sequence of the last version stored: a long read's snapshot bound (`upto_seq`)."""
    return door.latest_seq(session)
