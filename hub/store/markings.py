"""Marking definitions for the policy layer: those in an envelope, plus those already stored."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.policy.tlp import TLP_LEVEL_BY_ID, MarkingIndex
from hub.store.tables import ObjectVersion as OV


def referenced(objects: Iterable[Any]) -> set[str]:
    """Every marking ref (object-level and granular) of the given objects."""
    refs: set[str] = set()
    for o in objects:
        if not isinstance(o, dict):
            continue
        omr = o.get("object_marking_refs")
        if isinstance(omr, list):
            refs.update(r for r in omr if isinstance(r, str))
        gm = o.get("granular_markings")
        if isinstance(gm, list):
            refs.update(
                e["marking_ref"] for e in gm if isinstance(e, dict) and isinstance(e.get("marking_ref"), str)
            )
    return refs


def marking_index(session: Session, *, collection_id: str, refs: set[str]) -> MarkingIndex:
    """A MarkingIndex of the built-in TLP definitions and the stored ones the refs need (read paths).

    Definitions come from the same collection only: a marking another collection holds says nothing
    about this one's objects. A stored definition is the first one accepted for its id: marking
    definitions have no versions (STIX 2.1 section 7.2.1), so ingest refuses later bodies, and private
    rows (hub.ingest) never classify anything.
    """
    stored = stored_definitions(session, collection_id=collection_id, ids=refs)
    return MarkingIndex({sid: md.body for sid, md in stored.items()})


@dataclass(frozen=True)
class StoredDefinition:
    """A marking definition of the shared record: its body, its own level and its publisher."""

    body: dict[str, Any]
    tlp: int
    producer_id: int


def stored_definitions(
    session: Session, *, collection_id: str, ids: Iterable[str]
) -> dict[str, StoredDefinition]:
    """The accepted definition of each id in a collection: the first stored, never a private row."""
    wanted = [i for i in ids if i.startswith("marking-definition--") and i not in TLP_LEVEL_BY_ID]
    found: dict[str, StoredDefinition] = {}
    for i in range(0, len(wanted), 500):
        stmt = (
            select(OV.stix_id, OV.body, OV.tlp, OV.producer_id)
            .where(
                OV.collection_id == collection_id,
                OV.stix_id.in_(wanted[i : i + 500]),
                OV.private_to == 0,
            )
            .order_by(OV.seq)
        )
        for sid, body, tlp, producer in session.execute(stmt):
            if sid not in found:
                found[sid] = StoredDefinition(orjson.loads(body), tlp, producer)
    return found
