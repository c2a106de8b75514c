"""Search by value ("have we seen 203.0.113.7?") across every collection a member may read.

There is no table of extracted values: the search reads the stored JSON bytes of the latest visible
versions of the candidate types only (the `(collection_id, type, ...)` index), looking for the value as
it is written there: `"value":"203.0.113.7"` in an observable, `'203.0.113.7'` inside a pattern, a hash
as a quoted string. Each candidate is then read as its reader receives it (redacted like TAXII) and
kept only if one of its values really answers the query. bench/bench_lookup.py measures the cost.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import orjson
from sqlalchemy import ColumnElement, and_, or_, tuple_
from sqlalchemy.orm import Session

from hub.lookup import reads
from hub.lookup.benign import benign_list
from hub.lookup.values import Kind, Query, lifecycle, matches, parse_query, values_of
from hub.policy.tlp import Tlp
from hub.stix import format_us
from hub.store.models import ObjectVersion as OV
from hub.trust import access
from hub.trust.service import Principal

__all__ = ["MAX_LIMIT", "SearchHit", "SearchResult", "search"]

MAX_LIMIT = 500
_BATCH = 200  # candidate rows read per query while filling a page of hits


@dataclass(frozen=True)
class SearchHit:
    """One object that holds the searched value, in one collection the member may read."""

    group: str
    collection_id: str
    collection: str  # the collection's alias
    object_id: str
    type: str
    matched: str  # the value as the object holds it
    matched_kind: Kind
    in_pattern: bool  # the value is compared in an indicator's pattern
    tlp: Tlp
    publisher: str  # the publishing organisation's name
    publisher_slug: str
    version: str  # the object's modified (created; date first added for an observable)
    date_added: str
    private: bool  # a version only its publisher reads (hub.ingest)
    state: str | None = None  # "revoked" or "expired" (hub.lookup.values.lifecycle): off device lists
    flagged: str | None = None  # the known-benign list holding the matched value (hub.lookup.benign)


@dataclass(frozen=True)
class SearchResult:
    """The hits, newest first, at most `limit`; `more` when further hits exist beyond them."""

    query: str  # the value searched, refanged and normalised
    kind: Kind
    hits: list[SearchHit]
    more: bool


def search(
    session: Session, principal: Principal, query: str, *, limit: int = 50, group: str | None = None
) -> SearchResult:
    """Latest visible versions holding the value `query`, in every collection `principal` may read.

    Raises `hub.lookup.values.QueryError` for text that is no value, `hub.errors.NotFound` for a
    `group` that is unknown or not the caller's (alike).
    """
    parsed = parse_query(query)
    limit = max(1, min(limit, MAX_LIMIT))
    accesses = reads.readable(session, principal, group=group)
    hits: list[tuple[int, int, SearchHit]] = []
    more = False
    for clearance, accs in reads.by_clearance(accesses).items():
        found, extra = _search_at(session, principal, parsed, accs, clearance, limit)
        hits.extend(found)
        more = more or extra
    hits.sort(key=lambda h: (h[0], h[1]), reverse=True)
    more = more or len(hits) > limit
    return SearchResult(parsed.text, parsed.kind, [h for _, _, h in hits[:limit]], more)


def _search_at(
    session: Session,
    principal: Principal,
    parsed: Query,
    accs: list[access.CollectionAccess],
    clearance: Tlp,
    limit: int,
) -> tuple[list[tuple[int, int, SearchHit]], bool]:
    """Up to `limit` hits in collections read at one clearance, and whether more exist."""
    by_id = {a.collection.id: a for a in accs}
    clearance_of = dict.fromkeys(by_id, clearance)
    stmt = reads.visible_rows(
        (OV.seq, OV.collection_id, OV.stix_id, OV.type, OV.tlp, OV.redact_tlp, OV.producer_id,
         OV.private_to, OV.version, OV.date_added_us, OV.body),
        collection_ids=list(by_id), reader_org_id=principal.org_id, clearance=clearance,
    ).where(_candidates(parsed))  # fmt: skip
    stmt = stmt.order_by(OV.date_added_us.desc(), OV.seq.desc())
    out: list[tuple[int, int, SearchHit]] = []
    position: tuple[int, int] | None = None
    while True:
        page = stmt if position is None else stmt.where(tuple_(OV.date_added_us, OV.seq) < tuple_(*position))
        rows = list(session.execute(page.limit(_BATCH)))
        if not rows:
            return out, False
        received = reads.as_received(session, rows, clearance_of=clearance_of)
        names = reads.organisation_names(session, (r.producer_id for r in rows))
        for r in rows:
            got = received[r.seq]
            if got is None:
                continue
            value = next((v for v in values_of(got.obj) if matches(parsed, v)), None)
            if value is None:
                continue
            if len(out) == limit:
                return out, True
            acc = by_id[r.collection_id]
            slug, name = names.get(r.producer_id, ("", ""))
            tlp = reads.display_tlp(
                session, tlp=r.tlp, obj=got.obj, collection_id=r.collection_id, default=acc.group.default_tlp
            )
            hit = SearchHit(
                group=acc.group.slug, collection_id=r.collection_id, collection=acc.collection.alias,
                object_id=r.stix_id, type=r.type, matched=value.value, matched_kind=value.kind,
                in_pattern=value.in_pattern, tlp=tlp, publisher=name, publisher_slug=slug,
                version=r.version, date_added=format_us(r.date_added_us), private=r.private_to != 0,
                state=lifecycle(got.obj), flagged=benign_list(value),
            )  # fmt: skip
            out.append((r.date_added_us, r.seq, hit))
        if len(rows) < _BATCH:
            return out, False
        position = (rows[-1].date_added_us, rows[-1].seq)


def _json_text(value: str) -> bytes:
    """`value` as it is written inside a JSON string by orjson (quotes and backslashes escaped)."""
    return orjson.dumps(value)[1:-1]


def _candidates(parsed: Query) -> ColumnElement[bool]:
    """Rows of the candidate types whose stored bytes hold the value in one of its written forms."""
    sco: dict[str, set[bytes]] = {}
    in_patterns: set[bytes] = set()
    variants = [parsed.text]
    if parsed.kind == "hash":
        variants.append(parsed.text.upper())
    for v in variants:
        t = _json_text(v)
        if parsed.kind == "hash":
            for stype in ("file", "artifact"):
                sco.setdefault(stype, set()).add(b'"' + t + b'"')
        else:
            for stype in parsed.types:
                if stype != "indicator":
                    sco.setdefault(stype, set()).add(b'"value":"' + t + b'"')
        in_patterns.add(b"'" + t + b"'")
    cidr_sco: set[bytes] = set()
    cidr_patterns: set[bytes] = set()
    if parsed.kind == "ip" and parsed.network is not None:
        for net in _enclosing(parsed.network):
            t = _json_text(str(net))
            cidr_sco.add(b'"value":"' + t + b'"')
            cidr_patterns.add(b"'" + t + b"'")
    if parsed.kind == "domain":
        # URLs on the domain: the host follows "://" and ends at a path, port, query or the value's end
        host = b"://" + _json_text(parsed.text)
        urls = {host + end for end in (b"/", b":", b"?", b"#", b'"')}
        sco.setdefault("url", set()).update(urls)
        in_patterns.update(host + end for end in (b"/", b":", b"?", b"#", b"'"))
    conds = [_any(needles, type_=stype) for stype, needles in sorted(sco.items())]
    conds.append(_any(in_patterns, type_="indicator"))
    if cidr_sco and parsed.network is not None:
        # networks holding the address: a dozen needles or more, so each row is first asked for the two
        # bytes every one of them holds (a "/" and the first group of the address, quoted)
        head = _json_text(
            parsed.text.split(".")[0] if parsed.network.version == 4 else parsed.text.split(":")[0]
        )
        sco_type = f"ipv{parsed.network.version}-addr"
        conds.append(_any(cidr_sco, type_=sco_type, guard=(b"/", b'"value":"' + head)))
        conds.append(_any(cidr_patterns, type_="indicator", guard=(b"/", b"'" + head)))
    return or_(*conds)


def _any(needles: set[bytes], *, type_: str, guard: tuple[bytes, ...] = ()) -> ColumnElement[bool]:
    """Rows of `type_` holding one of the needles (after each guard, when given)."""
    found = or_(*(reads.body_contains(n) for n in sorted(needles)))
    return and_(OV.type == type_, *(reads.body_contains(g) for g in guard), found)


def _enclosing(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks written as CIDR values that contain `network`: /8 to /32, or IPv6 /16 to /128 by 4."""
    top = network.prefixlen + 1
    lengths = range(8, top) if network.version == 4 else range(16, top, 4)
    return [network.supernet(new_prefix=n) for n in lengths]
