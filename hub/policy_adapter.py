"""Temporary bridge from ingest to the policy layer (replaced when hub.policy.rules lands)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.store.models import ObjectVersion as OV

KNOWN = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": 0,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": 1,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": 2,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": 4,
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": 0,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": 1,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": 2,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": 3,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": 4,
}


class MarkingConflict(ValueError):
    pass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def resolve_markings(session: Session, collection_id: str, objects: list[Any], markings: dict[str, Any]) -> dict[str, Any]:
    wanted: set[str] = set()
    for o in objects:
        if isinstance(o, dict):
            for r in o.get("object_marking_refs") or ():
                if isinstance(r, str) and r not in KNOWN and r not in markings:
                    wanted.add(r)
    if wanted:
        for body in session.scalars(select(OV.body).where(OV.collection_id == collection_id, OV.stix_id.in_(wanted))):
            md = orjson.loads(body)
            markings.setdefault(md["id"], md)
    return markings


def storage_levels(obj: dict[str, Any], *, markings: dict[str, Any], default: int) -> tuple[int, int | None]:
    levels = [KNOWN[r] for r in obj.get("object_marking_refs") or () if r in KNOWN]
    return (max(levels) if levels else default), None


def accept(obj: dict[str, Any], *, submission: Any, level: int) -> Decision:
    ceiling = 4 if submission.collection_kind == "named" else submission.max_tlp
    if level > ceiling:
        return Decision(False, "above ceiling")
    cbr = obj.get("created_by_ref")
    if cbr is not None and cbr != submission.identity_id:
        return Decision(False, f"created_by_ref {cbr} is not your organisation's identity {submission.identity_id}")
    return Decision(True, "ok")
