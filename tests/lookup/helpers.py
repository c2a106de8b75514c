"""Objects and calls the lookup tests share: observables, indicators, and posting them over TAXII."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import sessionmaker

from hub.trust.service import Principal, authenticate
from tests.factories import TLP, World

SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _id(stype: str, seed: str) -> str:
    return f"{stype}--{uuid.uuid5(uuid.NAMESPACE_URL, stype + seed)}"


def sco(stype: str, value: str, tlp: str | None = "green", **extra: Any) -> dict[str, Any]:
    """An observable with a `value` (ipv4-addr, domain-name, url, email-addr, ...)."""
    obj: dict[str, Any] = {"type": stype, "spec_version": "2.1", "id": _id(stype, value), "value": value}
    if tlp:
        obj["object_marking_refs"] = [TLP[tlp]]
    obj.update(extra)
    return obj


def file_sco(hashes: dict[str, str], tlp: str | None = "green", **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "file",
        "spec_version": "2.1",
        "id": _id("file", repr(sorted(hashes.items()))),
        "hashes": hashes,
    }
    if tlp:
        obj["object_marking_refs"] = [TLP[tlp]]
    obj.update(extra)
    return obj


def pattern_indicator(
    pattern: str,
    tlp: str | None = "green",
    *,
    seed: str | None = None,
    modified: str = "2024-01-01T00:00:00.000Z",
    **extra: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": _id("indicator", seed or pattern),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": modified,
        "name": "lookup test",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }
    if tlp:
        obj["object_marking_refs"] = [TLP[tlp]]
    obj.update(extra)
    return obj


def principal_of(sm: sessionmaker, world: World, org: str) -> Principal:
    with sm() as s, s.begin():
        who = authenticate(s, world.keys[org])
    assert who is not None
    return who
