"""Writing object versions (bulk insert, deletes) and TAXII's paged reads, through `hub.store.reads`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from sqlalchemy import delete, func, select, text, tuple_
from sqlalchemy.orm import Session

from hub.store import counts, reads
from hub.store import values as value_index
from hub.store.reads import Page as Page
from hub.store.reads import Reader as Reader
from hub.store.tables import ObjectOwner
from hub.store.tables import ObjectVersion as OV


@dataclass(frozen=True)
class Filters:
    """Parsed TAXII query parameters of a read."""

    added_after_us: int | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str | int, ...] = ("last",)
    spec_versions: tuple[str, ...] = ()
    limit: int = 100
    position: tuple[int, int] | None = None

    def matching(self) -> reads.Filters:
        """What the read asks for, as the read door takes it."""
        return reads.Filters(
            added_after_us=self.added_after_us,
            ids=self.ids,
            types=self.types,
            spec_versions=self.spec_versions,
            versions=self.versions,
        )


def _read(session: Session, columns: Sequence[str], collection_id: str, reader: Reader, f: Filters) -> Page:
    return reads.page_versions(
        session, reader=reader, collections=[collection_id], columns=columns, filters=f.matching(),
        after=f.position, limit=f.limit,
    )  # fmt: skip


def get_objects(session: Session, *, collection_id: str, reader: Reader, filters: Filters) -> Page:
    """A page of visible object versions: stored bytes, and the level above which parts are redacted."""
    return _read(session, ("body", "redact_tlp"), collection_id, reader, filters)


def get_manifest(session: Session, *, collection_id: str, reader: Reader, filters: Filters) -> Page:
    """A page of manifest entries (id, version, date added) of visible object versions."""
    return _read(session, ("stix_id", "version"), collection_id, reader, filters)


def get_versions(session: Session, *, collection_id: str, reader: Reader, filters: Filters) -> Page:
    """A page of the visible versions of one object."""
    return _read(session, ("version",), collection_id, reader, filters)


def delete_versions(
    session: Session, *, collection_id: str, reader: Reader, filters: Filters, producer_id: int | None
) -> int:
    """Delete the visible versions that match; only the producer's when `producer_id` is given."""
    # what each deleted version counted for (hub.store.counts), read with it
    columns = ("seq", "collection_id", "date_added_us", "tlp", "type", "producer_id", "private_to")
    matching = reads.Filters(
        ids=filters.ids,
        spec_versions=filters.spec_versions,
        versions=filters.versions,
        producer_id=producer_id,
    )
    stmt = reads.select_versions(
        columns, reader=reader, collections=[collection_id], filters=matching, order=None
    )
    found = list(session.execute(stmt))
    seqs = [r.seq for r in found]
    for i in range(0, len(seqs), 1000):
        session.execute(delete(OV).where(OV.seq.in_(seqs[i : i + 1000])))
    value_index.remove(session, seqs)  # the value index forgets them in the same transaction
    counts.removed(session, found)
    session.flush()
    return len(seqs)


def last_date_added(session: Session, *, collection_id: str) -> int | None:
    """The latest date added in a collection (an index lookup), to keep new dates increasing."""
    return session.scalar(select(func.max(OV.date_added_us)).where(OV.collection_id == collection_id))


def lock_collection(session: Session, *, collection_id: str) -> None:
    """Serialise writers of one collection until commit, so dates added commit in increasing order.

    A reader resuming with `added_after` = the last date added it saw must never meet, later, a row
    committed with an earlier date. SQLite writers already hold the database's one write lock from
    BEGIN IMMEDIATE; PostgreSQL takes a transaction-scoped advisory lock per collection, after
    validation, so only the insert itself is serialised.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:c, 0))"), {"c": collection_id})


def own_versions(
    session: Session, *, collection_id: str, org_id: int, ids: Sequence[str]
) -> dict[str, tuple[str, int, bytes]]:
    """For objects without their own version (SCOs): the publisher's latest stored version per id."""
    found: dict[str, tuple[str, int, bytes]] = {}
    for chunk in _chunks(ids):
        stmt = (
            select(OV.stix_id, OV.version, OV.version_us, OV.body)
            .where(
                OV.collection_id == collection_id,
                OV.stix_id.in_(chunk),
                OV.producer_id == org_id,
                OV.private_to == 0,
            )
            .order_by(OV.version_us)
        )
        for sid, ver, ver_us, body in session.execute(stmt):
            found[sid] = (ver, ver_us, body)
    return found


def stored_ids(session: Session, *, collection_id: str, ids: Sequence[str]) -> set[str]:
    """The ids among `ids` with any version stored in the collection (an importer tells new objects
    from new versions by it; a private version counts, as the insert would find it too)."""
    found: set[str] = set()
    for chunk in _chunks(ids):
        stmt = select(OV.stix_id).where(OV.collection_id == collection_id, OV.stix_id.in_(chunk))
        found.update(session.scalars(stmt))
    return found


@dataclass(frozen=True)
class StoredVersion:
    """A version of the shared record, as ingest's provenance checks need it."""

    stix_id: str
    collection_id: str
    version_us: int
    tlp: int
    producer_id: int
    body: bytes


def shared_versions(session: Session, *, ids: Sequence[str]) -> list[StoredVersion]:
    """Every version of the shared record (no private rows) of the given ids, in every collection."""
    out: list[StoredVersion] = []
    for chunk in _chunks(ids):
        stmt = select(OV.stix_id, OV.collection_id, OV.version_us, OV.tlp, OV.producer_id, OV.body).where(
            OV.stix_id.in_(chunk), OV.private_to == 0
        )
        out.extend(StoredVersion(*row) for row in session.execute(stmt.order_by(OV.seq)))
    return out


def stored_bodies(
    session: Session, *, collection_id: str, keys: Sequence[tuple[str, int, int]]
) -> dict[tuple[str, int, int], bytes]:
    """The stored bytes of the given (id, version µs, private_to) keys of one collection."""
    found: dict[tuple[str, int, int], bytes] = {}
    items = list(keys)
    for i in range(0, len(items), 300):
        chunk = items[i : i + 300]
        stmt = select(OV.stix_id, OV.version_us, OV.private_to, OV.body).where(
            OV.collection_id == collection_id,
            tuple_(OV.stix_id, OV.version_us, OV.private_to).in_(chunk),
        )
        for sid, ver, priv, body in session.execute(stmt):
            found[(sid, ver, priv)] = body
    return found


def owners(session: Session, *, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The owner organisation and first collection of each id that has one."""
    found: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(ids):
        stmt = select(ObjectOwner.stix_id, ObjectOwner.organisation_id, ObjectOwner.collection_id).where(
            ObjectOwner.stix_id.in_(chunk)
        )
        for sid, org, coll in session.execute(stmt):
            found[sid] = (org, coll)
    return found


# PostgreSQL: one statement whatever the number of ids, the ids as one JSON text (psycopg adapts a
# Python list to an array element by element, in Python; a multi-row VALUES costs more to compile than
# the insert itself). SQLite: the driver's executemany, which prepares the statement once.
_CLAIM_PG = (
    "INSERT INTO object_owners (stix_id, organisation_id, collection_id) "
    "SELECT x, %s, %s FROM json_array_elements_text(%s::json) AS x ON CONFLICT (stix_id) DO NOTHING"
)
_CLAIM_SQLITE = (
    "INSERT INTO object_owners (stix_id, organisation_id, collection_id) VALUES (?, ?, ?) "
    "ON CONFLICT (stix_id) DO NOTHING"
)


def claim_owners(session: Session, *, ids: Sequence[str], org_id: int, collection_id: str) -> bool:
    """Make `org_id` the owner of the ids nobody owns yet; True when it now owns every one of them.

    False means some were owned already, or claimed first by another writer, even in a transaction not
    yet committed (PostgreSQL's ON CONFLICT waits for that transaction, then does nothing): the caller
    looks their owners up. Rows are counted, not returned: building a result row per claimed id cost
    more than the claim.
    """
    if not ids:
        return True
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        result = conn.exec_driver_sql(_CLAIM_PG, (org_id, collection_id, orjson.dumps(list(ids)).decode()))
    else:  # executemany's rowcount is the sum over its rows
        result = conn.exec_driver_sql(_CLAIM_SQLITE, [(i, org_id, collection_id) for i in ids])
    return bool(result.rowcount == len(ids))


def _chunks(ids: Sequence[str], size: int = 500) -> list[list[str]]:
    items = list(ids)
    return [items[i : i + size] for i in range(0, len(items), size)]


class NewVersion(NamedTuple):
    """A row for object_versions, fields in column order: COPY and executemany take it as it is."""

    collection_id: str
    stix_id: str
    type: str
    spec_version: str
    version: str
    version_us: int
    date_added_us: int
    tlp: int
    redact_tlp: int | None
    producer_id: int
    private_to: int
    body: bytes


def insert_versions(
    session: Session,
    rows: list[NewVersion],
    *,
    fresh: frozenset[str] = frozenset(),
    objects: Mapping[tuple[str, str, int, int], Mapping[str, Any]] | None = None,
) -> set[tuple[str, int]]:
    """Insert object versions in one statement; a version already stored is left as it is.

    `fresh` holds lowercased ids that nobody owned before this transaction claimed them: no version of
    them can be stored, so they are not looked up. Returns the (id, version µs) pairs actually
    inserted, so callers can tell new from unchanged. The values the new versions carry go into the
    value index in the same transaction (hub.store.values; `objects` may give the parsed objects by
    (collection, id, version µs, private_to), saving a second parse).
    """
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    seqs: list[int] | None = None
    if dialect == "postgresql":
        new_rows, seqs = _pg_insert(session, rows, fresh)
    else:
        new_rows, seqs = _sqlite_insert(session, rows, fresh)
    counts.added(session, new_rows)  # statistics' counts move in the same transaction
    value_index.index_versions(session, new_rows, objects, seqs=seqs)
    return {(r.stix_id, r.version_us) for r in new_rows}


_COLUMNS = NewVersion._fields
_SQLITE_STORED = (
    "SELECT stix_id, version_us, private_to FROM object_versions "
    "WHERE collection_id = ? AND stix_id IN (SELECT value FROM json_each(?))"
)
# the versions above a seq: (n, last - n + 1, last) above last - n when the n rows just inserted (the n
# highest seqs, AUTOINCREMENT never reusing one) are exactly the run ending at last
_SQLITE_RUN = "SELECT count(*), min(seq), max(seq) FROM object_versions WHERE seq > ?"
_SQLITE_INSERT = (
    "INSERT INTO object_versions (collection_id, stix_id, type, spec_version, version, version_us, "
    "date_added_us, tlp, redact_tlp, producer_id, private_to, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _stored_candidates(rows: list[NewVersion], fresh: frozenset[str]) -> dict[str, list[str]]:
    """Per collection, the ids whose stored versions must be looked up: all but those just claimed."""
    found: dict[str, set[str]] = {}
    for r in rows:
        if r.stix_id.lower() not in fresh:
            found.setdefault(r.collection_id, set()).add(r.stix_id)
    return {coll: sorted(ids) for coll, ids in found.items()}


def _sqlite_insert(
    session: Session, rows: list[NewVersion], fresh: frozenset[str]
) -> tuple[list[NewVersion], list[int] | None]:
    """SQLite: the versions already stored are looked up, the others inserted by the driver's executemany.

    The caller holds SQLite's one write lock (`begin_write`: BEGIN IMMEDIATE), so nothing can insert
    between the lookup and the insert; a plain INSERT (no OR IGNORE) would fail loudly if that ever
    changed. SQLAlchemy's insertmanyvalues with RETURNING cost more than the insert itself.

    Also returns the new rows' seqs when they are provably the consecutive run ending at
    last_insert_rowid() (AUTOINCREMENT gives each row the largest seq ever used plus one; the run is
    checked by counting it), else None and the value index reads them back.
    """
    conn = session.connection()
    stored: set[tuple[str, str, int, int]] = set()
    for coll, ids in _stored_candidates(rows, fresh).items():
        found = conn.exec_driver_sql(_SQLITE_STORED, (coll, orjson.dumps(ids).decode()))
        stored.update((coll, *k) for k in found)
    new_rows: list[NewVersion] = []
    for r in rows:
        key = (r.collection_id, r.stix_id, r.version_us, r.private_to)
        if key in stored:
            continue
        stored.add(key)  # a second copy in the same batch is "already stored", as on PostgreSQL
        new_rows.append(r)
    if not new_rows:
        return new_rows, None
    conn.exec_driver_sql(_SQLITE_INSERT, new_rows)
    n = len(new_rows)
    last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
    run = conn.exec_driver_sql(_SQLITE_RUN, (last - n,)).one()
    if tuple(run) != (n, last - n + 1, last):
        return new_rows, None
    return new_rows, list(range(last - n + 1, last + 1))


_PG_STORED = (
    "SELECT stix_id, version_us, private_to FROM object_versions "
    "WHERE collection_id = %s AND stix_id = ANY(ARRAY(SELECT json_array_elements_text(%s::json)))"
)
_PG_TYPES = (
    "varchar", "varchar", "varchar", "varchar", "varchar", "int8", "int8", "int2", "int2", "int4", "int4",
    "bytea",
)  # fmt: skip
_PG_SEQ_TYPES = ["int8", *_PG_TYPES]
_PG_COPY_VERSIONS = f"COPY object_versions (seq, {', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"


@dataclass
class StatisticsWatch:
    """What this process inserted into object_versions since it last analyzed it (see _keep_statistics)."""

    inserted: int = 0
    look_at: int = 0  # look at the statistics again once `inserted` reaches this
    copies: int = 0  # COPYs since the last look


_watch = StatisticsWatch()


# n sequence numbers of object_versions.seq, in the order the sequence hands them out
_PG_NEXT_SEQS = (
    "SELECT nextval(pg_get_serial_sequence('object_versions', 'seq')) FROM generate_series(1, %s) ORDER BY 1"
)


def _pg_insert(
    session: Session, rows: list[NewVersion], fresh: frozenset[str]
) -> tuple[list[NewVersion], list[int]]:
    """PostgreSQL: the versions already stored are looked up, the others COPied straight into the table.

    The caller holds the advisory lock of each collection it writes (`lock_collection`), which every
    writer of a collection takes, so nothing can insert between the lookup and the COPY. COPY streams
    the rows with no SQL text to parse (a multi-row INSERT of a thousand rows has eleven thousand
    parameters), in binary, so bodies go as they are rather than hex-encoded.

    The new rows' sequence numbers are taken from the column's sequence first (one round trip of n
    integers) and COPied with them, the same numbers in the same order the column's default would
    have given, so the value index needs no read-back of what was just written. Returns the new rows
    and their seqs.
    """
    dbapi: Any = session.connection().connection.driver_connection
    stored: set[tuple[str, str, int, int]] = set()
    new_rows: list[NewVersion] = []
    with dbapi.cursor() as cur:
        for coll, ids in _stored_candidates(rows, fresh).items():
            cur.execute(_PG_STORED, (coll, orjson.dumps(ids).decode()))
            stored.update((coll, *k) for k in cur.fetchall())
        for r in rows:
            key = (r.collection_id, r.stix_id, r.version_us, r.private_to)
            if key in stored:
                continue
            stored.add(key)  # a second copy in the same batch is "already stored"
            new_rows.append(r)
        seqs: list[int] = []
        if new_rows:
            cur.execute(_PG_NEXT_SEQS, (len(new_rows),))
            seqs = [n for (n,) in cur.fetchall()]
            with cur.copy(_PG_COPY_VERSIONS) as copy:
                copy.set_types(_PG_SEQ_TYPES)
                for seq, t in zip(seqs, new_rows, strict=True):
                    copy.write_row((seq, *t))
        # the statistics are looked at (a catalog query) when this process's own inserts may have
        # crossed the next threshold, and every 16 COPYs for what other processes insert meanwhile
        _watch.inserted += len(new_rows)
        _watch.copies += 1
        if _watch.inserted >= _watch.look_at or _watch.copies >= 16:
            _keep_statistics(cur, _watch)
    return new_rows, seqs


ANALYZE_AFTER = 5000  # rows changed before the first ANALYZE of a new table


def _keep_statistics(cur: Any, watch: StatisticsWatch) -> None:
    """ANALYZE object_versions when it has grown by half since its statistics were taken, and set when
    `watch` next looks.

    Without statistics PostgreSQL plans a page as "sort everything after the position": a page of a
    100k-object collection took 200 ms instead of 10, and of a 10k one 30 ms instead of 20. Autovacuum
    does this in a default deployment; doing it here too keeps a fresh hub (or one with autovacuum off)
    fast from the first load. The threshold grows with the table, so a load of N rows analyzes about
    log2(N / 5000) times. PostgreSQL publishes a backend's row counts up to a second late, so what this
    process inserted itself counts too: a fast 10k load would otherwise end before it is seen. (Where
    another process analyzed meanwhile, that count makes this one analyze early, once.)
    """
    cur.execute(
        "SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables "
        "WHERE relid = 'object_versions'::regclass"
    )
    published, live = cur.fetchone() or (0, 0)
    changed = max(int(published), watch.inserted)
    live = max(int(live), changed)
    due = max(ANALYZE_AFTER, live // 2)
    watch.copies = 0
    if changed < due:
        watch.look_at = watch.inserted + due - changed
        return
    cur.execute("ANALYZE object_versions")
    watch.inserted = 0
    watch.look_at = due
