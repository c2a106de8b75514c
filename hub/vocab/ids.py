"""Deterministic STIX ids: SCOs (STIX 2.1 section 2.9), member identities, and the objects connectors derive.

Each namespace is fixed forever: changing one would give every object ever stored or imported a new id.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Final

import orjson

__all__ = [
    "HUB_NAMESPACE",
    "IDENTITY_NAMESPACE",
    "SCO_NAMESPACE",
    "canonical_json",
    "identity_id",
    "indicator_id",
    "object_id",
    "relationship_id",
    "sco_id",
    "uuid5",
]

# STIX 2.1 section 2.9: the namespace of deterministic SCO identifiers.
SCO_NAMESPACE: Final = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

# The connectors' own deterministic ids (indicators, relationships, reports and the SDOs a MISP event
# becomes). It is uuid5(NAMESPACE_URL, "urn:cirt-hub:connectors"), written out so nobody has to
# recompute it.
HUB_NAMESPACE: Final = uuid.UUID("0268e13d-eb46-5b99-be21-e1be8155b010")

# Organisation identities get the same ids on every hub that loads the same configuration, so peers and
# re-runs agree.
IDENTITY_NAMESPACE: Final = uuid.UUID("5d0b3c4e-6a57-4c55-9f0e-7c1f0f1a2b3c")


def uuid5(namespace: uuid.UUID, name: str) -> str:
    """`str(uuid.uuid5(namespace, name))`, without building a UUID object (a third of a record's cost)."""
    digest = bytearray(
        hashlib.sha1(namespace.bytes + name.encode("utf-8"), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 for the values ids are made of (strings, integers, lists, objects).

    Sorted keys, no whitespace, UTF-8 unescaped: what orjson writes with OPT_SORT_KEYS.
    """
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def sco_id(sco_type: str, contributing: dict[str, Any]) -> str:
    """STIX 2.1 section 2.9: UUIDv5 over the canonical JSON of the id-contributing properties."""
    name = canonical_json(contributing).decode("utf-8")
    return f"{sco_type}--{uuid5(SCO_NAMESPACE, name)}"


def identity_id(slug: str) -> str:
    """The STIX identity id of the member organisation `slug`."""
    return f"identity--{uuid5(IDENTITY_NAMESPACE, slug)}"


def indicator_id(producer_id: str, pattern: str) -> str:
    """Indicator id from the producer and the pattern, so two CIRTs reporting one value stay apart."""
    name = "\n".join((producer_id, pattern))
    return f"indicator--{uuid5(HUB_NAMESPACE, name)}"


def relationship_id(source_ref: str, relationship_type: str, target_ref: str) -> str:
    """Relationship id from its source, type and target."""
    name = "\n".join((source_ref, relationship_type, target_ref))
    return f"relationship--{uuid5(HUB_NAMESPACE, name)}"


def object_id(stix_type: str, producer_id: str, *parts: str) -> str:
    """Id for any other object the connectors derive (a MISP event's report, a re-identified SDO)."""
    name = "\n".join((producer_id, stix_type, *parts))
    return f"{stix_type}--{uuid5(HUB_NAMESPACE, name)}"
