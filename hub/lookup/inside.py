"""The "inside" view: the objects an organisation may read whose values fall in its own confirmed
constituency, newest first, with the value and the rule that matched (read through the value index)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.orm import Session

from hub.lookup import reads
from hub.policy.tlp import Tlp
from hub.store import values
from hub.store.inside import WATCHED_KINDS, values_in
from hub.trust.constituency import confirmed_rules
from hub.trust.constituency_index import RuleIndex, hits_of
from hub.trust.service import Principal
from hub.vocab.time import format_us
from hub.vocab.values import Kind, ip_range, value_key

MAX_LIMIT = 1000


def org_index(session: Session, org_id: int) -> RuleIndex:
    """The index of one organisation's confirmed rules."""
    return RuleIndex(confirmed_rules(session, org_ids=[org_id]))


# ---------------------------------------------------------------- the inside view


@dataclass(frozen=True)
class InsideItem:
    """One row of the inside view."""

    date_added_us: int
    seq: int
    value: str
    rule: str
    object_id: str
    type: str
    collection_id: str
    collection: str
    group: str
    tlp: str
    publisher: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "date_added": format_us(self.date_added_us),
            "value": self.value,
            "rule": self.rule,
            "object_id": self.object_id,
            "type": self.type,
            "collection": self.collection_id,
            "collection_alias": self.collection,
            "group": self.group,
            "tlp": self.tlp,
            "publisher": self.publisher,
        }


@dataclass(frozen=True)
class InsidePage:
    """A page of the inside view, newest first; `next` continues to older rows."""

    items: tuple[InsideItem, ...]
    more: bool
    next: tuple[int, int] | None
    rules: int  # how many confirmed rules the organisation has (0: nothing can match)


def inside(
    session: Session,
    principal: Principal,
    *,
    added_after_us: int | None = None,
    before: tuple[int, int] | None = None,
    limit: int = 100,
    index: RuleIndex | None = None,
) -> InsidePage:
    """The objects `principal`'s organisation may read whose values fall in its confirmed constituency,
    newest first, each with the value and the rule that matched.

    Read through the value index (`hub.store.values.find`: IP values inside the constituency's
    networks, domains and URL hosts on or under its domains), which keeps only the latest version the
    reader may see of each object, by TAXII's visibility predicate with each collection's clearance
    (`hub.trust.access`). A row with optional content above the reader's clearance counts only when
    its redacted copy still holds the value.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    idx = index if index is not None else org_index(session, principal.org_id)
    if not idx:
        return InsidePage((), False, None, 0)
    accesses = reads.readable(session, principal)
    matches = list(_matches(session, idx))
    found: list[InsideItem] = []
    names: dict[int, tuple[str, str]] = {}
    for clearance, accs in reads.by_clearance(accesses).items():
        scope = values.Scope(principal.org_id, int(clearance), tuple(sorted(a.collection.id for a in accs)))
        by_id = {a.collection.id: a for a in accs}
        for match in matches:
            rows = values.find(
                session, scope, match, limit=limit + 1, before_seq=before[1] if before else None
            )
            found.extend(_items(session, rows, idx, by_id, int(clearance), names, added_after_us))
    # newest first in the order versions were stored (the index's order: hub.store.values.find)
    merged = sorted({(i.seq, i.value): i for i in found}.values(), key=lambda i: i.seq)
    merged.reverse()
    # the hits of one version sort together; cut on a version boundary, so a page never splits one
    page = merged[:limit]
    more = len(merged) > limit
    while more and len(merged) > len(page) and merged[len(page)].seq == page[-1].seq:
        page.append(merged[len(page)])
    nxt = (page[-1].date_added_us, page[-1].seq) if more and page else None
    return InsidePage(tuple(page), more, nxt, idx.size)


KEYS_PER_QUERY = 500


def _matches(session: Session, idx: RuleIndex) -> Iterator[values.Match]:
    """Index lookups by key of the values inside the constituency: first the distinct values inside its
    networks and domains (range scans of the index, hub.store.inside.values_in), then equality on
    their keys, which `values.find` joins to the versions the reader may see, newest first."""
    ranges = [r for r in (ip_range(n) for n in idx.networks()) if r is not None]
    found = sorted(values_in(session, ranges=ranges, domains=idx.domains()))
    keys = [value_key(cast(Kind, kind), value) for kind, value in found]
    for i in range(0, len(keys), KEYS_PER_QUERY):
        yield values.Match(keys=tuple(keys[i : i + KEYS_PER_QUERY]), kinds=WATCHED_KINDS)


def _items(
    session: Session,
    rows: Sequence[Any],
    idx: RuleIndex,
    by_id: Mapping[str, Any],
    clearance: int,
    names: dict[int, tuple[str, str]],
    added_after_us: int | None,
) -> list[InsideItem]:
    redacted = [r for r in rows if r.redact_tlp is not None and r.redact_tlp > clearance]
    received = (
        reads.as_received(session, redacted, clearance_of={r.collection_id: Tlp(clearance) for r in redacted})
        if redacted
        else {}
    )
    missing = {r.producer_id for r in rows} - set(names)
    if missing:
        names.update(reads.organisation_names(session, missing))
    out: list[InsideItem] = []
    for r in rows:
        if added_after_us is not None and r.date_added_us <= added_after_us:
            continue
        hits = idx.hits([(r.kind, r.value)])
        if not hits:
            continue
        if r.seq in received:
            got = received[r.seq]
            if got is None or r.value not in {h.value for h in hits_of(got.obj, idx)}:
                continue
        acc = by_id[r.collection_id]
        out.append(
            InsideItem(
                date_added_us=r.date_added_us,
                seq=r.seq,
                value=r.value,
                rule=hits[0].rule,
                object_id=r.stix_id,
                type=r.type,
                collection_id=r.collection_id,
                collection=acc.collection.alias,
                group=acc.group.slug,
                tlp=Tlp(min(r.tlp, Tlp.RED)).name.lower().replace("_", "+"),
                publisher=names.get(r.producer_id, ("", ""))[0],
            )
        )
    return out


CSV_COLUMNS = (
    "date_added",
    "value",
    "rule",
    "object_id",
    "type",
    "collection",
    "collection_alias",
    "group",
    "tlp",
    "publisher",
)


def _cell(text: str) -> str:
    # a spreadsheet runs a cell that starts with one of these as a formula
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(page: InsidePage) -> str:
    """The page as CSV (a header line, then one line per match)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for item in page.items:
        d = item.as_dict()
        w.writerow([_cell(str(d[c])) for c in CSV_COLUMNS])
    return buf.getvalue()
