"""Search by value ("have we seen 203.0.113.7?") across every collection a member may read.

The search reads the value index (hub.store.values): the values each stored version carries, in
canonical form, joined to their versions through the same visibility predicate as TAXII (the latest
version the reader may see; private versions only for their publisher). An address finds the stored
networks holding it (byte ranges, IPv4 and IPv6), a domain the URLs on it, and every hit says how many
distinct publishers the reader sees reporting the value (`reporters`). Rows whose optional content is
marked above the reader's clearance are checked against the copy the reader receives (redacted like
TAXII). bench/bench_lookup.py measures the cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import orjson
from sqlalchemy.orm import Session

from hub.feedback import summaries
from hub.lookup import reads
from hub.lookup.benign import benign_list
from hub.lookup.values import Kind, Query, Value, lifecycle, matches, parse_query, values_of
from hub.policy.tlp import Tlp
from hub.store import values as index
from hub.store.models import PRIVATE_TLP
from hub.trust import access
from hub.trust.service import Principal
from hub.vocab.time import format_us
from hub.vocab.values import host_key, query_key

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
    # distinct publishers of the visible, live versions holding the matched value, in the collections
    # searched (revoked and expired versions report nothing; what the reader cannot read never counts)
    reporters: int = 0
    key: bytes = b""  # the matched value's index key (hub.vocab.values.value_key)
    group_id: int = 0
    # feedback on the object the reader may count (hub.feedback.summaries): distinct organisations
    # reporting a sighting, a false positive; held out of device lists by false positives
    sightings: int = 0
    false_positives: int = 0
    held: bool = False
    # some searched collection holds a report or a hold on the object (hub.store.values.find): only
    # then are its feedback summaries read
    feedback: bool = False


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
    """Latest visible versions holding the value `query`, in every collection `principal` may read,
    newest first, each with its value's `reporters`.

    Raises `hub.lookup.values.QueryError` for text that is no value, `hub.errors.NotFound` for a
    `group` that is unknown or not the caller's (alike).
    """
    parsed = parse_query(query)
    limit = max(1, min(limit, MAX_LIMIT))
    accesses = reads.readable(session, principal, group=group)
    hits: list[tuple[int, int, SearchHit]] = []
    more = False
    scopes: list[index.Scope] = []
    searched = tuple(a.collection.id for a in accesses)
    for clearance, accs in reads.by_clearance(accesses).items():
        scope = index.Scope(principal.org_id, int(clearance), tuple(a.collection.id for a in accs))
        scopes.append(scope)
        found, extra = _search_at(session, parsed, accs, scope, limit, searched)
        hits.extend(found)
        more = more or extra
    hits.sort(key=lambda h: (h[0], h[1]), reverse=True)  # newest first: date added, then sequence
    more = more or len(hits) > limit
    shown = [h for _, _, h in hits[:limit]]
    with index.few_keys():  # at most MAX_LIMIT keys: planned by the value index (hub.store.values)
        counts = index.reporters(
            session,
            scopes,
            {h.key for h in shown},
            now_us=time.time_ns() // 1000,
            kinds={h.matched_kind for h in shown},
        )
    # only objects on which some searched collection holds a report or a hold (`find` says) can have
    # feedback the reader learns of: for the rest, `summaries` would find nothing at the cost of a
    # statement (most searches: no object found has any)
    reported = sorted({h.object_id for h in shown if h.feedback})
    feedback = summaries(session, principal, accesses, reported)
    shown = [
        replace(
            h,
            reporters=counts.get(h.key, 0),
            sightings=feedback[h.object_id].sightings if h.object_id in feedback else 0,
            false_positives=feedback[h.object_id].false_positives if h.object_id in feedback else 0,
            held=h.object_id in feedback and feedback[h.object_id].held,
        )
        for h in shown
    ]
    return SearchResult(parsed.text, parsed.kind, shown, more)


def match_of(parsed: Query) -> index.Match:
    """What the index is asked for a searched value: the value itself; for an address or network the
    stored networks holding it; for a domain, the URLs on it too."""
    if parsed.kind == "ip" and parsed.network is not None:
        return index.Match(holding=(parsed.network,), kinds=("ip",))
    if parsed.kind == "domain":
        return index.Match(hosts=(host_key(parsed.text),), kinds=("domain", "url"))
    return index.Match(keys=(query_key(parsed),), kinds=(parsed.kind,))


def _search_at(
    session: Session,
    parsed: Query,
    accs: list[access.CollectionAccess],
    scope: index.Scope,
    limit: int,
    searched: tuple[str, ...],
) -> tuple[list[tuple[int, int, SearchHit]], bool]:
    """Up to `limit` hits in collections read at one clearance, and whether more exist."""
    by_id = {a.collection.id: a for a in accs}
    clearance = Tlp(scope.clearance)
    match = match_of(parsed)
    out: list[tuple[int, int, SearchHit]] = []
    position: int | None = None
    now = time.time_ns() // 1000
    while True:
        rows = index.find(session, scope, match, limit=_BATCH, before_seq=position, feedback_in=searched)
        if not rows:
            return out, False
        redacted = reads.as_received(
            session,
            [r for r in rows if r.redact_tlp is not None and r.redact_tlp > scope.clearance],
            clearance_of=dict.fromkeys(by_id, clearance),
        )
        names = reads.organisation_names(session, (r.producer_id for r in rows))
        done: set[int] = set()
        for r in rows:
            if r.seq in done:
                continue
            value = Value(r.kind, r.stix_type, r.value, r.algorithm, r.in_pattern, r.port)
            obj = None
            if r.seq in redacted:  # the reader's copy: the value must still be in it
                got = redacted[r.seq]
                if got is None:
                    continue
                obj = got.obj
                if not any(v.value == value.value and matches(parsed, v) for v in values_of(obj)):
                    continue
            done.add(r.seq)
            if len(out) == limit:
                return out, True
            acc = by_id[r.collection_id]
            slug, name = names.get(r.producer_id, ("", ""))
            if r.tlp == PRIVATE_TLP and obj is None:
                obj = orjson.loads(r.body)
            tlp = (
                Tlp(min(r.tlp, Tlp.RED))
                if obj is None
                else reads.display_tlp(
                    session, tlp=r.tlp, obj=obj, collection_id=r.collection_id, default=acc.group.default_tlp
                )
            )
            state = lifecycle(obj) if obj is not None else _state(r.revoked, r.valid_until_us, now)
            hit = SearchHit(
                group=acc.group.slug, collection_id=r.collection_id, collection=acc.collection.alias,
                object_id=r.stix_id, type=r.type, matched=value.value, matched_kind=value.kind,
                in_pattern=value.in_pattern, tlp=tlp, publisher=name, publisher_slug=slug,
                version=r.version, date_added=format_us(r.date_added_us), private=r.private_to != 0,
                state=state, flagged=benign_list(value), key=r.key, group_id=acc.group.id,
                feedback=r.feedback,
            )  # fmt: skip
            out.append((r.date_added_us, r.seq, hit))
        if len({r.seq for r in rows}) < _BATCH:
            return out, False
        position = rows[-1].seq


def _state(revoked: bool, valid_until_us: int | None, now_us: int) -> str | None:
    """hub.lookup.values.lifecycle from the index's columns."""
    if revoked:
        return "revoked"
    if valid_until_us is not None and valid_until_us <= now_us:
        return "expired"
    return None
