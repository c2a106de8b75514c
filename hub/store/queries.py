"""The TAXII filters, each a pure `Select -> Select` function over object_versions, composed once per read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, String, exists, false, literal_column, or_, tuple_
from sqlalchemy.orm import aliased

from hub.policy.sql import visible_clause
from hub.store.tables import ObjectVersion as OV
from hub.vocab.stix import SCO_TYPES


def visible(*, reader_org_id: int, clearance: int, table: Any = OV) -> ColumnElement[bool]:
    """The policy layer's visibility predicate on a (possibly aliased) object_versions table."""
    return visible_clause(
        reader_org_id=reader_org_id, clearance=clearance, tlp_col=table.tlp, producer_col=table.producer_id
    )


def added_after(stmt: Select[Any], after_us: int | None) -> Select[Any]:
    """TAXII `added_after`: strictly later than the given date added."""
    return stmt if after_us is None else stmt.where(OV.date_added_us > after_us)


def match_id(stmt: Select[Any], ids: Sequence[str] | None) -> Select[Any]:
    """TAXII `match[id]`: any of the given ids (bound parameters, never spliced into SQL)."""
    return stmt if not ids else stmt.where(OV.stix_id.in_(list(ids)))


def match_type(stmt: Select[Any], types: Sequence[str] | None) -> Select[Any]:
    """TAXII `match[type]`: any of the given STIX types."""
    return stmt if not types else stmt.where(OV.type.in_(list(types)))


def match_spec_version(stmt: Select[Any], versions: Sequence[str] | None) -> Select[Any]:
    """TAXII `match[spec_version]`; every stored object is STIX 2.1, so the default keeps all."""
    return stmt if not versions else stmt.where(OV.spec_version.in_(list(versions)))


def match_version(
    stmt: Select[Any],
    spec: Sequence[str | int],
    *,
    reader_org_id: int,
    clearance: int,
    upto_seq: int | None = None,
) -> Select[Any]:
    """TAXII `match[version]` for a member: `latest` with the member's visibility predicate."""
    return latest(
        stmt,
        spec,
        other_visible=lambda other: [visible(reader_org_id=reader_org_id, clearance=clearance, table=other)],
        upto_seq=upto_seq,
    )


# the other version `latest` compares with: one alias for every query, made once (making an alias's
# column proxies costs more than building the rest of a query), and only ever used inside latest's own
# NOT EXISTS, which holds no other latest: so it is never correlated with itself
_OTHER = aliased(OV)

# the SCO types as constants of the statement's text, not a bound parameter each: as an expanding IN
# list, every run of every read rendered and sent eighteen parameters again (the names are the STIX
# vocabulary's, letters and hyphens only, so they are safe to write into SQL)
assert all(t.replace("-", "").isalnum() for t in SCO_TYPES)  # noqa: S101
_SCO_LIST = tuple(literal_column(f"'{t}'", String) for t in sorted(SCO_TYPES))


def latest(
    stmt: Select[Any],
    spec: Sequence[str | int],
    *,
    other_visible: Callable[[Any], Sequence[ColumnElement[bool]]],
    upto_seq: int | None = None,
) -> Select[Any]:
    """TAXII `match[version]`: `first`, `last`, `all` and exact timestamps (µs), any of them.

    `first` and `last` are judged among the versions the reader may see (`other_visible`, the reader's
    predicate on another version), so a hidden newer version neither hides an older visible one nor
    reveals that it exists. With `upto_seq` they are judged among the versions stored up to that
    sequence: a read spread over several transactions then sees the latest versions as they were when
    it started, each object once.
    """
    if "all" in spec:
        return stmt
    conds: list[ColumnElement[bool]] = []
    for item in spec:
        if item in ("first", "last"):
            # NOT EXISTS, not `version_us = (SELECT max(...))`: PostgreSQL estimates an anti-join well
            # and walks the date-added index under the LIMIT, while it guesses an equality with a
            # subquery keeps 0.5% of rows and then sorts the whole collection for each page. It
            # needs statistics for that: see hub.store.objects._keep_statistics.
            other = _OTHER
            newer = other.version_us > OV.version_us if item == "last" else other.version_us < OV.version_us
            conds.append(
                ~exists().where(
                    other.collection_id == OV.collection_id,
                    other.stix_id == OV.stix_id,
                    newer,
                    # an SCO is one object per publisher (deterministic ids, hub.ingest): another
                    # publisher's copy never stands in for this one
                    or_(OV.type.not_in(_SCO_LIST), other.producer_id == OV.producer_id),
                    *other_visible(other),
                    *(() if upto_seq is None else (other.seq <= upto_seq,)),
                )
            )
        else:
            conds.append(OV.version_us == item)
    return stmt.where(or_(*conds) if conds else false())


def reclassified_above(ceiling: int) -> ColumnElement[bool]:
    """A later version of the same object is above `ceiling`: its publisher reclassified the object.

    Only its publisher reclassifies it: a private version (hub.ingest) or another publisher's copy of
    an SCO is no reclassification, or anyone could stop an object leaving (and have it withdrawn at
    the peer) by posting a version of its id.
    """
    later = aliased(OV)
    return exists().where(
        later.collection_id == OV.collection_id,
        later.stix_id == OV.stix_id,
        later.producer_id == OV.producer_id,
        later.private_to == 0,
        later.version_us > OV.version_us,
        later.tlp > ceiling,
    )


def earlier_within(ceiling: int) -> ColumnElement[bool]:
    """The same publisher stored an earlier version of the object at or below `ceiling`."""
    earlier = aliased(OV)
    return exists().where(
        earlier.collection_id == OV.collection_id,
        earlier.stix_id == OV.stix_id,
        earlier.producer_id == OV.producer_id,
        earlier.version_us < OV.version_us,
        earlier.tlp <= ceiling,
    )


def after_token(stmt: Select[Any], position: tuple[int, int] | None) -> Select[Any]:
    """Keyset continuation: rows strictly after (date added, sequence) of the last row served."""
    if position is None:
        return stmt
    return stmt.where(tuple_(OV.date_added_us, OV.seq) > tuple_(*position))


def page(stmt: Select[Any], limit: int) -> Select[Any]:
    """Order by date added and fetch one row more than the page, to learn whether there is more."""
    return stmt.order_by(OV.date_added_us, OV.seq).limit(limit + 1)
