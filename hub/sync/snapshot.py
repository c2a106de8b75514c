"""Snapshot feeds: an indicator the source no longer lists gets a revoked version by its publisher.

A source such as Feodo Tracker's blocklist lists everything current; an entry that disappears is no
longer a threat. A feed declaring `connector.snapshot: true` revokes, after each full download, the
indicators its publishing organisation authored in the feed's collection that the download did not
hold. Give such a feed a collection (or a publishing organisation) of its own: the scope is "what this
organisation authored in this collection", since the connectors' deterministic ids carry no feed name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
from sqlalchemy.orm import Session, sessionmaker

from connectors import Normalised, Rejected
from hub.lookup.benign import benign_list
from hub.lookup.values import Value, values_of
from hub.policy.tlp import Tlp
from hub.stix import timestamp_us
from hub.store.reads import Filters, Reader, visible_versions
from hub.sync.importer import ImportReport, Target, resolve_submission, run_import
from hub.vocab.time import format_us


def listed(results: Iterable[Normalised | Rejected], ids: set[str]) -> Iterator[Normalised | Rejected]:
    """Pass a connector's results through, noting the ids of the indicators they hold."""
    for r in results:
        if isinstance(r, Normalised) and r.obj.get("type") == "indicator":
            ids.add(str(r.obj.get("id")))
        yield r


def flagged(
    results: Iterable[Normalised | Rejected],
    hits: dict[str, int],
    listed_by: Callable[[Value], str | None] = benign_list,
) -> Iterator[Normalised | Rejected]:
    """Pass a connector's results through, counting their values on known-benign lists, per list (a
    feed run's notes say how many of its values device lists will leave out); `listed_by` is the
    group's guard (hub.trust.benign), its own list included."""
    for r in results:
        if isinstance(r, Normalised):
            for v in values_of(r.obj, simple_only=True):
                name = listed_by(v)
                if name is not None:
                    hits[name] = hits.get(name, 0) + 1
        yield r


def _unlisted(
    session: Session, target: Target, producer_id: str, ids: set[str], now_us: int
) -> list[dict[str, Any]]:
    submission, _org = resolve_submission(session, target)
    rows = visible_versions(
        session,
        reader=Reader(org_id=submission.org_id, clearance=int(Tlp.RED)),
        collections=[submission.collection_id],
        columns=("stix_id", "body"),
        filters=Filters(types=("indicator",), producer_id=submission.org_id, shared_only=True),
        order=None,
    )
    out = []
    for row in rows:
        if row.stix_id in ids:
            continue
        obj = orjson.loads(row.body)
        if obj.get("revoked") is True or obj.get("created_by_ref") != producer_id:
            continue
        modified = max(now_us, timestamp_us(obj["modified"], "modified") + 1000)
        out.append({**obj, "modified": format_us(modified), "revoked": True})
    return out


def revoke_unlisted(
    sm: sessionmaker[Session], *, target: Target, producer_id: str, ids: set[str], now_us: int
) -> int:
    """Revoke the publisher's indicators in the target collection that `ids` does not hold; how many."""
    with sm() as session:
        gone = _unlisted(session, target, producer_id, ids, now_us)
    if not gone:
        return 0
    report = run_import(
        sm,
        target=target,
        results=[Normalised(obj, f"{obj['id']}: no longer listed by the source") for obj in gone],
        report=ImportReport(),
    )
    return report.created + report.new_versions
