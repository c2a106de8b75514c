"""Object counts kept as versions come and go, in the same transaction: what statistics read.

One `object_counts` row per collection, UTC day added, TLP, type and publisher holds how many shared
versions there are and the latest date added among them. A statistics page at millions of objects then
sums a few hundred rows instead of counting the versions (issue 22: 9-12 s at 3M objects before).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.orm import Session

from hub.store.models import ObjectCount as OC
from hub.store.tables import ObjectVersion as OV

DAY_US = 86_400_000_000
_KEY = ("collection_id", "day", "tlp", "type", "producer_id")

Key = tuple[str, int, int, str, int]


class Counted(Protocol):
    """What a version contributes to its count (a NewVersion, or a row read before a delete)."""

    @property
    def collection_id(self) -> str: ...
    @property
    def date_added_us(self) -> int: ...
    @property
    def tlp(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def producer_id(self) -> int: ...
    @property
    def private_to(self) -> int: ...


def _group(rows: Iterable[Counted]) -> dict[Key, list[int]]:
    out: dict[Key, list[int]] = {}
    for r in rows:
        if r.private_to:
            continue  # a private version is no part of the shared record statistics count
        key = (r.collection_id, r.date_added_us // DAY_US, r.tlp, r.type, r.producer_id)
        got = out.get(key)
        if got is None:
            out[key] = [1, r.date_added_us]
        else:
            got[0] += 1
            got[1] = max(got[1], r.date_added_us)
    return out


_UPSERT = (
    "INSERT INTO object_counts (collection_id, day, tlp, type, producer_id, n, last_added_us) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) "
    "ON CONFLICT (collection_id, day, tlp, type, producer_id) DO UPDATE SET "
    "n = object_counts.n + excluded.n, "
    "last_added_us = {greatest}(object_counts.last_added_us, excluded.last_added_us)"
)
_SQLITE_UPSERT = _UPSERT.format(p="?", greatest="max")
_PG_UPSERT = _UPSERT.format(p="%s", greatest="greatest")


def added(session: Session, rows: Iterable[Counted]) -> None:
    """Count versions just inserted: one upsert a group, run by the driver's executemany (as the
    versions' own insert is: compiling a many-row statement cost more than the insert)."""
    groups = _group(rows)
    if not groups:
        return
    conn = session.connection()
    sql = _PG_UPSERT if conn.dialect.name == "postgresql" else _SQLITE_UPSERT
    # in key order, so two transactions upserting the same rows lock them in the same order
    conn.exec_driver_sql(sql, [(*key, n, last) for key, (n, last) in sorted(groups.items())])


def removed(session: Session, rows: Iterable[Counted]) -> None:
    """Uncount versions just deleted: lower their counts, drop rows at zero, and find each remaining
    row's latest date added again among the versions left (an index range of one day)."""
    for key, (n, _last) in sorted(_group(rows).items()):
        where = and_(*(getattr(OC, col) == value for col, value in zip(_KEY, key, strict=True)))
        session.execute(update(OC).where(where).values(n=OC.n - n))
        session.execute(delete(OC).where(where, OC.n <= 0))
        coll, day, tlp, typ, producer = key
        latest = (
            select(func.max(OV.date_added_us))
            .where(
                OV.collection_id == coll,
                OV.type == typ,
                OV.date_added_us >= day * DAY_US,
                OV.date_added_us < (day + 1) * DAY_US,
                OV.tlp == tlp,
                OV.producer_id == producer,
                OV.private_to == 0,
                OV.audience == 0,
            )
            .scalar_subquery()
        )
        session.execute(update(OC).where(where).values(last_added_us=latest))


def rebuild(session: Session) -> int:
    """Count every stored shared version again from scratch (what migration 0006_load's backfill does);
    for a database whose versions were changed behind the store's back. Returns the rows written."""
    session.execute(delete(OC))
    day = (OV.date_added_us // DAY_US).label("day")
    counted = (
        select(
            OV.collection_id, day, OV.tlp, OV.type, OV.producer_id, func.count(), func.max(OV.date_added_us)
        )
        .where(OV.private_to == 0, OV.audience == 0)  # feedback with an audience is nobody's statistics
        .group_by(OV.collection_id, day, OV.tlp, OV.type, OV.producer_id)
    )
    result = session.execute(insert(OC).from_select([*_KEY, "n", "last_added_us"], counted))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
