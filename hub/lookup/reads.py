"""The read path lookups share: the collections a member may read, and TAXII's own visibility query.

Every lookup reads through the store's read door (`hub.store.reads`) exactly as the TAXII routes do: the
collection's clearance from `hub.trust.access` (the policy's `read_clearance`), the policy layer's
`visible` predicate in SQL, the latest version the reader may see (per publisher for cyber-observables),
and `hub.policy.granular.redact` on rows with optional content above the reader's clearance. Rows a reader
may not see are never loaded, so nothing downstream can count or leak them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import NotFound
from hub.policy.granular import redact
from hub.policy.tlp import MarkingConflict, Tlp, effective_tlp
from hub.store import reads as door
from hub.store.markings import marking_index, referenced
from hub.store.models import PRIVATE_TLP
from hub.trust import access
from hub.trust.models import Organisation
from hub.trust.service import Principal


def readable(
    session: Session, principal: Principal, *, group: str | None = None
) -> list[access.CollectionAccess]:
    """The collections `principal` may read, in all its trust groups or in `group` (404 if not its own).

    An unknown group and a group the caller is not a member of give the same NotFound.
    """
    groups, accesses = access.readable_collections(session, principal, group=group)
    if group is not None and not groups:
        raise NotFound(f"There is no trust group '{group[:64]}' you may read.")
    return accesses


def by_clearance(accesses: Iterable[access.CollectionAccess]) -> dict[Tlp, list[access.CollectionAccess]]:
    """Collections grouped by the clearance their reads use: one query serves each group."""
    out: dict[Tlp, list[access.CollectionAccess]] = {}
    for acc in accesses:
        out.setdefault(acc.clearance, []).append(acc)
    return out


@dataclass(frozen=True)
class Redacted:
    """A visible row as its reader receives it: TAXII's redacted copy, or the stored bytes."""

    obj: dict[str, Any]
    body: bytes
    redacted: bool


def as_received(
    session: Session, rows: Sequence[Any], *, clearance_of: dict[str, Tlp]
) -> dict[int, Redacted | None]:
    """Each row (seq, collection_id, body, redact_tlp) as TAXII serves it; None when it is withheld.

    The same rule as hub.taxii.routes._objects_body: only rows whose optional content is marked above
    the reader's clearance are redacted, against the marking definitions of their own collection.
    """
    out: dict[int, Redacted | None] = {}
    pending: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for r in rows:
        obj = orjson.loads(r.body)
        clearance = clearance_of[r.collection_id]
        if door.needs_redaction(r, clearance):
            pending.setdefault(r.collection_id, []).append((r.seq, obj))
        else:
            out[r.seq] = Redacted(obj, r.body, False)
    for coll, items in pending.items():
        markings = marking_index(session, collection_id=coll, refs=referenced(o for _, o in items))
        for seq, obj in items:
            try:
                cut = redact(obj, clearance_of[coll], markings)
            except MarkingConflict:
                cut = None
            out[seq] = None if cut is None else Redacted(cut, orjson.dumps(cut), True)
    return out


def display_tlp(session: Session, *, tlp: int, obj: dict[str, Any], collection_id: str, default: int) -> Tlp:
    """The TLP to show for a visible row: its stored level, or for a private version its markings'."""
    if tlp != PRIVATE_TLP:
        return Tlp(min(tlp, Tlp.RED))
    markings = marking_index(session, collection_id=collection_id, refs=referenced([obj]))
    try:
        return effective_tlp(obj, markings=markings, default=Tlp(default))
    except MarkingConflict:
        return Tlp.RED


def organisation_names(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(slug, name) of the given organisations."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Organisation.id, Organisation.slug, Organisation.name).where(Organisation.id.in_(wanted))
    )
    return {oid: (slug, name) for oid, slug, name in rows}
