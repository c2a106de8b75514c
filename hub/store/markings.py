"""Marking definitions for the policy layer: those in an envelope, plus those already stored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.policy.tlp import TLP_LEVEL_BY_ID, MarkingIndex
from hub.store.models import ObjectVersion as OV


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


def marking_index(
    session: Session,
    *,
    collection_id: str,
    refs: set[str],
    given: Mapping[str, Mapping[str, Any]] | None = None,
) -> MarkingIndex:
    """A MarkingIndex of the built-in TLP definitions, the given ones, and stored ones the refs need.

    Definitions come from the same collection only: a marking another collection holds says nothing
    about this one's objects.
    """
    given = dict(given or {})
    missing = [r for r in refs if r not in given and r not in TLP_LEVEL_BY_ID]
    for i in range(0, len(missing), 500):
        stmt = (
            select(OV.body)
            .where(OV.collection_id == collection_id, OV.stix_id.in_(missing[i : i + 500]))
            .order_by(OV.version_us)
        )
        for body in session.scalars(stmt):
            md = orjson.loads(body)
            given[md["id"]] = md  # the newest stored version wins
    return MarkingIndex(given)
