"""Deterministic test data: a small world of trust groups, organisations, keys and STIX objects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from hub.db import begin_write
from hub.trust.models import Collection, TrustGroup
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config

TAXII = "application/taxii+json;version=2.1"

WORLD = {
    "organisations": [
        {"slug": s, "name": s.upper(), "accounts": [{"name": "taxii"}]}
        for s in ("cert-a", "cert-b", "cert-c", "vendor", "outsider", "cert-g")
    ],
    "groups": [
        {
            "slug": "africa",
            "name": "Africa",
            "community": "south",
            "members": [
                {"org": "cert-a", "role": "coordinator"},
                {"org": "cert-b", "role": "contributor"},
                {"org": "cert-c", "role": "reader"},
                {"org": "vendor", "role": "reader", "clearance": "green"},
                # a contributor that may receive no more than GREEN: it writes, yet much is hidden from it
                {"org": "cert-g", "role": "contributor", "clearance": "green"},
            ],
            "collections": [
                {"alias": "indicators", "title": "Indicators"},
                {
                    "alias": "a-to-b",
                    "title": "A to B",
                    "kind": "named",
                    "owner": "cert-a",
                    "recipients": ["cert-b"],
                },
            ],
        },
        {
            "slug": "asia",
            "name": "Asia",
            "community": "south",
            "members": [{"org": "cert-c", "role": "coordinator"}, {"org": "cert-a", "role": "reader"}],
            "collections": [{"alias": "indicators", "title": "Indicators"}],
        },
        {
            # another community: GREEN from africa or asia may not flow here
            "slug": "global",
            "name": "Global",
            "community": "north",
            "default_tlp": "green",
            "max_tlp": "green",
            "members": [
                {"org": "cert-b", "role": "contributor"},
                {"org": "cert-g", "role": "contributor", "clearance": "green"},
            ],
            "collections": [{"alias": "indicators", "title": "Indicators"}],
        },
    ],
}


@dataclass
class World:
    """Keys by organisation slug and collection ids by 'group/alias'."""

    keys: dict[str, str]
    collections: dict[str, str]
    identities: dict[str, str] = field(default_factory=dict)
    base: str = "http://hub.test"
    server: Any = None

    def auth(self, org: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[org]}", "Accept": TAXII}

    def post_headers(self, org: str) -> dict[str, str]:
        return {**self.auth(org), "Content-Type": TAXII}

    def objects_url(self, group: str = "africa", alias: str = "indicators") -> str:
        return f"/taxii2/{group}/collections/{self.collections[f'{group}/{alias}']}/objects/"


def load_world(sm: Any) -> World:
    from hub.trust.models import Organisation

    with sm() as session, session.begin():
        begin_write(session)
        issued = apply_config(session, TrustConfig.model_validate(WORLD))
    with sm() as session:
        groups = {g.id: g.slug for g in session.scalars(select(TrustGroup))}
        colls = {f"{groups[c.group_id]}/{c.alias}": c.id for c in session.scalars(select(Collection))}
        idents = {o.slug: o.identity_id for o in session.scalars(select(Organisation))}
    return World(keys={k.organisation: k.key for k in issued}, collections=colls, identities=idents)


TLP = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}


def indicator(
    n: int, *, modified: str = "2024-01-01T00:00:00.000Z", tlp: str | None = "green", **extra: Any
) -> dict[str, Any]:
    """A valid indicator whose id is stable for `n`."""
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, str(n))}",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": modified,
        "name": f"bad ip {n}",
        "pattern": f"[ipv4-addr:value = '10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }
    if tlp:
        obj["object_marking_refs"] = [TLP[tlp]]
    obj.update(extra)
    return obj


def approve(sm: Any, slug: str) -> None:
    """A platform admin approves an organisation made by redeeming an invitation."""
    from hub.trust.manage import OPERATOR, approve_organisation

    with sm() as session, session.begin():
        begin_write(session)
        approve_organisation(session, OPERATOR, slug)
