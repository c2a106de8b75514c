"""The one read door: every read of stored object versions outside `hub.store` goes through here.

Who reads decides what a query may return, and that is decided once, in `select_versions`:

- a **member** (`Reader(org_id, clearance)`): the policy layer's visibility predicate (`hub.policy.sql`:
  its own versions, private ones included, or a TLP at or below its clearance in the collection);
- **something leaving** (`reader=None, ceiling=level`: a push to a peer, another group, an export): the
  shared record at or below the redistribution ceiling, minus the versions of an object its publisher
  later reclassified above the ceiling (superseded upwards: withdrawn at the peer, `reclassified`), and
  minus the feedback on an object that does not leave with it (`_leaving`);
- **feedback going back** (`reader=None, ceiling=level, back_to=org`: a two-way pull feed posting to
  the hub whose objects are published here as `org`, hub.sync.feedback): only the feedback on objects
  `org` published, at or below the ceiling in every part, its audience everyone or `org` itself;
- **the hub itself** (`reader=None, ceiling=None`: statistics, explain, provenance checks, snapshots):
  the shared record, never a private version.

Feedback (a member's sighting, opinion or note on another's object, hub.feedback) carries an
`audience` (the object's publisher): such a row is read by its reporter, that publisher and, with
`Reader(coordinator=True)`, the group's coordinators; every other member gets it as an absent object,
and nothing leaving the hub carries it, but back to the hub of that publisher (`back_to`). Its
aggregates ("seen by 3 organisations") are read through `report_rows`: the reports a reader may read
but for their audience, on objects it may read.

A member read may also take a `ceiling`: it then gets only what it may read *and* what may leave at
that level.
On top of that, `Filters` (TAXII's match parameters, a TLP range, one publisher), latest-version semantics
(`match[version]` first/last judged among the versions this reader may see, per publisher for SCOs:
`hub.store.queries.match_version`), and one keyset order. Rows come with `redact_tlp`, the redaction
hint: `needs_redaction(row, clearance)` says when `hub.policy.granular.redact` must serve a copy.

Columns are named by string (`COLUMNS`), so no caller outside the store handles the table itself
(an import-linter contract holds it to that: only `hub.store` imports `hub.store.tables`).

Three ways through the door, one query builder behind them:

- `select_versions(...)`  -> a `Select`, for the store's own modules that add a join or a group by;
- `visible_versions(session, ...)` -> the rows of one read (an optional keyset position and limit);
- `stream_versions(session, ..., with_page=...)` -> a long read in keyset pages, each in a short
  transaction of its own (`hub.db.end_read`): `with_page` runs inside the page's snapshot (read the
  markings, names, ... it needs), and what it returns is yielded after the snapshot ended, so a slow
  client or peer never holds one. With `snapshot=True` (default) the versions are those stored when the
  read began (`upto_seq`): a version written meanwhile neither adds a second copy of an object already
  sent nor removes one not yet sent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, exists, false, func, or_, select, true, tuple_
from sqlalchemy.orm import Session, aliased

from hub.db import end_read
from hub.store import queries as q
from hub.store.models import ObjectCount
from hub.store.tables import ObjectVersion as OV
from hub.store.tables import Report

COLUMNS: tuple[str, ...] = (
    "seq", "collection_id", "stix_id", "type", "spec_version", "version", "version_us", "date_added_us",
    "tlp", "redact_tlp", "producer_id", "private_to", "body", "audience",
)  # fmt: skip
"""The columns a read may name: every column of a stored version."""

REPORT_TYPES = ("sighting", "opinion", "note")
"""The STIX types of feedback (hub.feedback): a sighting, an opinion or a note on another's object."""

Order = Literal["added", "added_desc", "newest", "seq"]
"""Row order: date added then sequence (TAXII's keyset, ascending or descending), newest version first
(`version_us` then sequence, descending), or storage order (sequence)."""

T = TypeVar("T")


@dataclass(frozen=True)
class Reader:
    """A member reading: its organisation and its clearance in the collections read."""

    org_id: int
    clearance: int
    # a coordinator of the group whose collections are read: reads the feedback of its members in full
    coordinator: bool = False


@dataclass(frozen=True)
class Filters:
    """What a read asks for, besides who reads. Empty tuples and None mean "no restriction".

    `versions` is TAXII's `match[version]` (`last`, `first`, `all`, exact µs timestamps); `tlp_min` and
    `tlp_max` bound the stored level; `producer_id` keeps one publisher's versions; `shared_only` leaves a
    member's own private versions out of the result.
    """

    added_after_us: int | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    spec_versions: tuple[str, ...] = ()
    versions: tuple[str | int, ...] = ("last",)
    tlp_min: int | None = None
    tlp_max: int | None = None
    producer_id: int | None = None
    shared_only: bool = False  # leave private versions out (they still count for which is the latest)


ALL_VERSIONS = Filters(versions=("all",))


def _columns(names: Sequence[str]) -> list[Any]:
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise ValueError(f"no such column of a stored version: {', '.join(unknown)}")
    return [getattr(OV, n) for n in names]


def _who(
    reader: Reader | None,
    ceiling: int | None,
    table: Any = OV,
    *,
    audience: bool = True,
    back_to: int | None = None,
) -> list[ColumnElement[bool]]:
    """The rows `reader` (None: the hub) may receive, below `ceiling` when given, on `table`.

    With `audience` (always, but for `report_rows`' aggregates) a report is read only by its audience;
    the hub's own reads take one only when it goes back to the hub of its audience (`back_to`)."""
    conds: list[ColumnElement[bool]] = []
    if reader is not None:
        conds.append(q.visible(reader_org_id=reader.org_id, clearance=reader.clearance, table=table))
        if audience and not reader.coordinator:
            conds.append(
                or_(
                    table.audience == 0,
                    table.producer_id == reader.org_id,
                    table.audience == reader.org_id,
                )
            )
    else:
        conds.append(table.private_to == 0)  # the hub's own reads never see a private version
        # nor a report with an audience: it leaves only for the hub of its audience (`back_to`)
        conds.append(table.audience == 0 if back_to is None else table.audience.in_((0, back_to)))
    if ceiling is not None:
        conds.append(table.tlp <= int(ceiling))
    return conds


def _leaving(ceiling: int, back_to: int | None) -> list[ColumnElement[bool]]:
    """What feedback may leave at `ceiling` (a push, an export, another group; or, with `back_to`, the
    two-way pull feed of the hub whose objects are published here as `back_to`).

    The rule of feedback going anywhere, in one place:
    - a report leaves only with the object it is about: that object's latest shared version leaves at
      this ceiling too (a report never names an object to those it may not reach);
    - a report with an audience (the object's publisher, under the group's `publisher` and
      `everyone-anonymous` policies) goes only back to the hub of that publisher (`_who`): a push's
      account writes at the peer, where a report is ordinary content every member reads;
    - going back (`back_to`), only reports on objects `back_to` published go, by other organisations
      than `back_to`, and every part of a report is within the ceiling (it leaves marked at its highest
      level, never redacted to a lower one).
    """
    target = aliased(OV)
    if back_to is not None:
        on_theirs = exists().where(
            target.collection_id == Report.collection_id,
            target.stix_id == Report.object_id,
            target.producer_id == back_to,
            target.private_to == 0,
        )
        return [
            exists().where(Report.seq == OV.seq, on_theirs),
            OV.producer_id != back_to,
            or_(OV.redact_tlp.is_(None), OV.redact_tlp <= int(ceiling)),
        ]
    later = aliased(OV)
    leaves = exists().where(
        target.collection_id == Report.collection_id,
        target.stix_id == Report.object_id,
        target.private_to == 0,
        target.audience == 0,
        target.tlp <= int(ceiling),
        ~exists().where(
            later.collection_id == target.collection_id,
            later.stix_id == target.stix_id,
            later.producer_id == target.producer_id,
            later.private_to == 0,
            later.version_us > target.version_us,
            later.tlp > int(ceiling),
        ),
    )
    # only a report version can have an index row: the type check spares every other row the lookup
    return [or_(OV.type.not_in(REPORT_TYPES), ~exists().where(Report.seq == OV.seq, ~leaves))]


def select_versions(
    columns: Sequence[str],
    *,
    reader: Reader | None,
    collections: Sequence[str] | None,
    filters: Filters = Filters(),
    ceiling: int | None = None,
    upto_seq: int | None = None,
    after: tuple[int, int] | None = None,
    order: Order | None = "added",
    limit: int | None = None,
    audience: bool = True,
    back_to: int | None = None,
) -> Select[Any]:
    """The one query of stored versions: who may read them, what was asked, in which order.

    `collections` None reads every collection (the hub's own reads only: statistics, explain); a member
    read always names its collections. `after` is a keyset position (date added µs, sequence) in the
    direction of `order` ("added" or "added_desc"). `back_to` (with a ceiling, no reader) reads the
    feedback going back to the hub whose objects are published here as that organisation.
    """
    if reader is not None and collections is None:
        raise ValueError("a member reads named collections only")
    if back_to is not None and (reader is not None or ceiling is None):
        raise ValueError("feedback goes back through a leaving read: no reader, a ceiling")
    if upto_seq is None and after is None:
        # a statement is immutable (every `.where` makes a new one), so one built for the same arguments
        # serves every caller: a search builds the same door queries for each reader again and again
        key = (
            tuple(columns), reader, None if collections is None else tuple(collections), filters,
            ceiling, order, limit, audience, back_to,
        )  # fmt: skip
        try:
            return _cached_versions(key)
        except TypeError:  # unhashable filters (a list where a tuple is meant): built as below
            pass
    return _build_versions(
        columns, reader=reader, collections=collections, filters=filters, ceiling=ceiling,
        upto_seq=upto_seq, after=after, order=order, limit=limit, audience=audience, back_to=back_to,
    )  # fmt: skip


@functools.lru_cache(maxsize=512)
def _cached_versions(key: tuple[Any, ...]) -> Select[Any]:
    columns, reader, collections, filters, ceiling, order, limit, audience, back_to = key
    return _build_versions(
        columns, reader=reader, collections=collections, filters=filters, ceiling=ceiling,
        order=order, limit=limit, audience=audience, back_to=back_to,
    )  # fmt: skip


def _build_versions(
    columns: Sequence[str],
    *,
    reader: Reader | None,
    collections: Sequence[str] | None,
    filters: Filters = Filters(),
    ceiling: int | None = None,
    upto_seq: int | None = None,
    after: tuple[int, int] | None = None,
    order: Order | None = "added",
    limit: int | None = None,
    audience: bool = True,
    back_to: int | None = None,
) -> Select[Any]:
    stmt = select(*_columns(columns))
    if collections is not None:
        ids = list(collections)
        if len(ids) == 1:
            stmt = stmt.where(OV.collection_id == ids[0])
        else:  # none: nothing (an empty IN matches no row)
            stmt = stmt.where(OV.collection_id.in_(ids))
    stmt = stmt.where(*_who(reader, ceiling, audience=audience, back_to=back_to))
    if ceiling is not None:
        stmt = stmt.where(~q.reclassified_above(ceiling))
        if reader is None:
            stmt = stmt.where(*_leaving(ceiling, back_to))
    if upto_seq is not None:
        stmt = stmt.where(OV.seq <= upto_seq)
    f = filters
    stmt = q.added_after(stmt, f.added_after_us)
    stmt = q.match_id(stmt, f.ids)
    stmt = q.match_type(stmt, f.types)
    stmt = q.match_spec_version(stmt, f.spec_versions)
    if f.tlp_min is not None:
        stmt = stmt.where(OV.tlp >= int(f.tlp_min))
    if f.tlp_max is not None:
        stmt = stmt.where(OV.tlp <= int(f.tlp_max))
    if f.producer_id is not None:
        stmt = stmt.where(OV.producer_id == f.producer_id)
    if f.shared_only:
        stmt = stmt.where(OV.private_to == 0)
    # first/last are judged among the versions this reader may see (a ceiling only filters the result)
    stmt = q.latest(
        stmt,
        f.versions,
        other_visible=lambda other: _who(reader, None, other, audience=audience),
        upto_seq=upto_seq,
    )
    if after is not None:
        if order == "added":
            stmt = q.after_token(stmt, after)
        elif order == "added_desc":
            stmt = stmt.where(tuple_(OV.date_added_us, OV.seq) < tuple_(*after))
        else:
            raise ValueError("a keyset position needs the date-added order")
    if order == "added":
        stmt = stmt.order_by(OV.date_added_us, OV.seq)
    elif order == "added_desc":
        stmt = stmt.order_by(OV.date_added_us.desc(), OV.seq.desc())
    elif order == "newest":
        stmt = stmt.order_by(OV.version_us.desc(), OV.seq.desc())
    elif order == "seq":
        stmt = stmt.order_by(OV.seq)
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt


def visible_versions(
    session: Session,
    *,
    reader: Reader | None,
    collections: Sequence[str] | None,
    columns: Sequence[str],
    filters: Filters = Filters(),
    ceiling: int | None = None,
    upto_seq: int | None = None,
    after: tuple[int, int] | None = None,
    order: Order | None = "added",
    limit: int | None = None,
    back_to: int | None = None,
) -> list[Any]:
    """The rows of one read (see `select_versions`), each with the named columns as attributes."""
    stmt = select_versions(
        columns, reader=reader, collections=collections, filters=filters, ceiling=ceiling,
        upto_seq=upto_seq, after=after, order=order, limit=limit, back_to=back_to,
    )  # fmt: skip
    return list(session.execute(stmt))


def stream_versions(
    session: Session,
    *,
    reader: Reader | None,
    collections: Sequence[str],
    columns: Sequence[str],
    with_page: Callable[[list[Any]], T],
    filters: Filters = Filters(),
    ceiling: int | None = None,
    page: int = 1000,
    after: tuple[int, int] | None = None,
    snapshot: bool = True,
    back_to: int | None = None,
) -> Iterator[T]:
    """A long read in date-added keyset pages, each page in a transaction of its own.

    `with_page(rows)` runs while the page's transaction is open; its result is yielded once the
    transaction ended (`hub.db.end_read`: a transaction the caller began itself is left alone, and
    the whole read is then one snapshot). With `snapshot`, versions stored after the read began are
    left out, so `match[version]` judges the latest versions as they were when it started.
    `seq` and `date_added_us` are read whether named or not: they are the keyset.
    """
    names = list(columns) + [c for c in ("seq", "date_added_us") if c not in columns]
    upto = latest_seq(session) if snapshot else None
    position = after
    while True:
        rows = visible_versions(
            session, reader=reader, collections=collections, columns=names, filters=filters,
            ceiling=ceiling, upto_seq=upto, after=position, order="added", limit=page + 1,
            back_to=back_to,
        )  # fmt: skip
        if not rows:
            end_read(session)
            return
        batch = rows[:page]
        result = with_page(batch)
        end_read(session)
        yield result
        if len(rows) <= page:
            return
        position = (batch[-1].date_added_us, batch[-1].seq)


@dataclass
class Page:
    """One page of rows plus whether more follow."""

    rows: list[Any]
    more: bool

    @property
    def first_added(self) -> int | None:
        return self.rows[0].date_added_us if self.rows else None

    @property
    def last_added(self) -> int | None:
        return self.rows[-1].date_added_us if self.rows else None

    @property
    def last_position(self) -> tuple[int, int] | None:
        return (self.rows[-1].date_added_us, self.rows[-1].seq) if self.rows else None


def page_versions(
    session: Session,
    *,
    reader: Reader | None,
    collections: Sequence[str],
    columns: Sequence[str],
    filters: Filters = Filters(),
    after: tuple[int, int] | None = None,
    limit: int = 100,
) -> Page:
    """One page of a paged read in date-added order (TAXII's objects, manifest and versions)."""
    names = ["seq", "date_added_us", *(c for c in columns if c not in ("seq", "date_added_us"))]
    rows = visible_versions(
        session, reader=reader, collections=collections, columns=names, filters=filters, after=after,
        limit=limit + 1,
    )  # fmt: skip
    return Page(rows=rows[:limit], more=len(rows) > limit)


def counts_visible(scope: Mapping[str, Reader | None]) -> ColumnElement[bool]:
    """Statistics: the rows of the rolled-up counts (`hub.store.counts`) of the collections in `scope`
    that each one's reader may see, by the same visibility predicate as its versions (the counts keep the
    TLP and publisher of what they count). A None reader is the hub's own view (a platform admin): every
    count. Private versions are never counted, so no reader ever sees them here."""
    clauses = [
        (ObjectCount.collection_id == cid)
        & (
            true()
            if reader is None
            else q.visible(reader_org_id=reader.org_id, clearance=reader.clearance, table=ObjectCount)
        )
        for cid, reader in scope.items()
    ]
    return or_(*clauses) if clauses else false()


def visible_extent(
    session: Session, *, reader: Reader, collection_id: str
) -> tuple[int | None, int, int | None]:
    """(last sequence, number, last date added) of every version of a collection `reader` may read,
    any version, not only the latest (None, 0, None: none): what a download's validators change with
    (hub.lookup.downloads.fingerprint), so a change the reader cannot see leaves them as they were."""
    stmt = select(func.max(OV.seq), func.count(), func.max(OV.date_added_us)).where(
        OV.collection_id == collection_id, *_who(reader, None)
    )
    top, n, added = session.execute(stmt).one()
    return top, int(n), added


def latest_seq(session: Session) -> int:
    """The sequence number of the last version stored: a read's snapshot bound (`upto_seq`)."""
    return session.scalar(select(func.max(OV.seq))) or 0


def needs_redaction(row: Any, clearance: int) -> bool:
    """The redaction hint of a row read with `redact_tlp`: optional content is marked above `clearance`,
    so the reader gets `hub.policy.granular.redact`'s copy, not the stored bytes."""
    return row.redact_tlp is not None and row.redact_tlp > clearance


def reclassified(
    session: Session, *, collection_id: str, ceiling: int, added_after_us: int | None = None
) -> list[Any]:
    """(stix_id, date_added_us) of the versions above `ceiling`, added after the cursor, of objects
    whose publisher had an earlier version within it (one a push may have sent): the peer withdraws
    them. Private versions reclassify nothing (see `hub.store.queries.reclassified_above`)."""
    stmt: Select[Any] = select(OV.stix_id, OV.date_added_us).where(  # type: ignore[assignment]
        OV.collection_id == collection_id,
        OV.tlp > ceiling,
        OV.private_to == 0,
        q.earlier_within(ceiling),
    )
    return list(session.execute(q.added_after(stmt, added_after_us)))


def report_rows(
    session: Session,
    *,
    reader: Reader,
    collections: Sequence[str],
    object_ids: Sequence[str],
    kinds: Sequence[str] = (),
) -> list[Any]:
    """The feedback on these objects that counts for `reader`: the latest shared version of each report
    it may read but for the report's audience (its TLP and collection still apply), on an object of the
    same collection it may read in the shared record (a report on an object hidden from it does not
    exist for it). Rows: the report's index columns (`hub.store.tables.Report`), its `stix_id`,
    `producer_id` and `audience`. Who may be named is the caller's policy (hub.feedback)."""
    if not object_ids or not collections:
        return []
    versions = select_versions(
        ["seq", "stix_id", "producer_id", "audience"],
        reader=reader,
        collections=collections,
        filters=Filters(types=REPORT_TYPES, shared_only=True),
        order=None,
        audience=False,
    ).subquery()
    target = aliased(OV)
    readable_target = exists().where(
        target.collection_id == Report.collection_id,
        target.stix_id == Report.object_id,
        target.private_to == 0,
        *_who(reader, None, target),
    )
    stmt = (
        select(
            Report.collection_id,
            Report.object_id,
            Report.kind,
            Report.reporter_id,
            Report.count,
            Report.first_seen_us,
            Report.last_seen_us,
            Report.date_added_us,
            versions.c.stix_id,
            versions.c.producer_id,
            versions.c.audience,
        )
        .join(versions, versions.c.seq == Report.seq)
        .where(Report.object_id.in_(sorted(set(object_ids))), readable_target)
    )
    if kinds:
        stmt = stmt.where(Report.kind.in_(list(kinds)))
    return list(session.execute(stmt.order_by(Report.date_added_us, Report.seq)))


def readable_object(session: Session, *, reader: Reader, collection_id: str, object_id: str) -> Any | None:
    """The latest shared version of one object `reader` may read in a collection (None: hidden or
    absent, alike), with its `stix_id`, `type`, `producer_id`, `tlp`, `audience` and `body`."""
    rows = visible_versions(
        session,
        reader=reader,
        collections=[collection_id],
        columns=["seq", "stix_id", "type", "producer_id", "tlp", "audience", "body", "version"],
        filters=Filters(ids=(object_id,), shared_only=True),
        order="newest",
        limit=1,
    )
    return rows[0] if rows else None
