"""Reports (STIX 2.1 sightings, opinions, notes) the feedback tests post."""

from __future__ import annotations

import uuid
from typing import Any

from tests.factories import TLP


def sighting(
    target: str, *, tlp: str = "green", count: int = 3, identity: str | None = None, **extra: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": "2026-12-01T00:00:00.000Z",
        "modified": "2026-12-01T00:00:00.000Z",
        "sighting_of_ref": target,
        "count": count,
        "first_seen": "2026-11-30T10:00:00.000Z",
        "last_seen": "2026-12-01T09:00:00.000Z",
        "object_marking_refs": [TLP[tlp]],
    }
    if identity:
        obj["created_by_ref"] = identity
        obj["where_sighted_refs"] = [identity]
    obj.update(extra)
    return obj


def false_positive(
    target: str, *, tlp: str = "green", identity: str | None = None, **extra: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "opinion",
        "spec_version": "2.1",
        "id": f"opinion--{uuid.uuid4()}",
        "created": "2026-12-01T00:00:00.000Z",
        "modified": "2026-12-01T00:00:00.000Z",
        "opinion": "strongly-disagree",
        "explanation": "our resolver",
        "object_refs": [target],
        "object_marking_refs": [TLP[tlp]],
    }
    if identity:
        obj["created_by_ref"] = identity
    obj.update(extra)
    return obj
