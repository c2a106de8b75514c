"""No one receives what they are not entitled to, through any read endpoint; everyone gets what they are.

Hypothesis builds organisations, memberships, clearances, named-recipient collections and marked
objects, pushes them through the HTTP API, then reads every endpoint as every organisation and compares
what came back with the policy layer's own verdict (`hub.policy.rules.may_read`).
"""

from __future__ import annotations

import itertools
import uuid

import orjson
from hypothesis import given
from hypothesis import strategies as st

from hub.db import begin_write
from hub.policy.rules import CollectionPolicy, GroupPolicy, Reader, may_read
from hub.policy.tlp import Tlp
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config
from tests.factories import TAXII, TLP
from tests.leak_strategies import LEVELS, leak_settings, orgs_st

_counter = itertools.count()

objects_st = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(LEVELS), st.integers(1, 2), st.booleans()),
    min_size=1,
    max_size=8,
)


def _read_all(client, url, headers, params):
    """Follow `next` to the end; return entries and the date-added headers of each page."""
    got, pages, params = [], [], dict(params)
    for _ in range(100):
        r = client.get(url, params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        if "next" in body:
            assert body["more"] is True
        items = body.get("objects", body.get("versions", []))
        got += items
        pages.append(
            (items, r.headers.get("X-TAXII-Date-Added-First"), r.headers.get("X-TAXII-Date-Added-Last"))
        )
        if not body.get("more"):
            assert "next" not in body
            return got, pages
        params = {**params, "next": body["next"]}
    raise AssertionError("pagination did not end")


@leak_settings(25)
@given(
    orgs=orgs_st,
    objects=objects_st,
    default=st.sampled_from(LEVELS[:4]),
    recipients=st.sets(st.integers(0, 3)),
)
def test_every_reader_gets_exactly_what_it_is_entitled_to(client, sm, orgs, objects, default, recipients):
    n = next(_counter)
    slugs = [f"o{n}-{i}" for i in range(len(orgs))]
    group = f"g{n}"
    members = [
        {"org": s, "role": role, "clearance": clr} for s, (role, clr) in zip(slugs, orgs, strict=True) if role
    ]
    owner = slugs[0]
    named_ok = orgs[0][0] is not None
    recips = [slugs[i] for i in recipients if i < len(slugs) and i > 0 and orgs[i][0] is not None]
    collections = [{"alias": "shared", "title": "Shared"}]
    if named_ok:
        collections.append(
            {"alias": "named", "title": "Named", "kind": "named", "owner": owner, "recipients": recips}
        )
    cfg = {
        "organisations": [{"slug": s, "name": s, "accounts": [{"name": "k"}]} for s in slugs],
        "groups": [
            {
                "slug": group,
                "name": group,
                "default_tlp": default,
                "max_tlp": "amber+strict",
                "members": members,
                "collections": collections,
            }
        ],
    }
    with sm() as session, session.begin():
        begin_write(session)
        issued = apply_config(session, TrustConfig.model_validate(cfg))
        from sqlalchemy import select

        from hub.trust.models import Collection, Organisation

        org_ids = {
            o.slug: o.id for o in session.scalars(select(Organisation).where(Organisation.slug.in_(slugs)))
        }
        coll_ids = {
            c.alias: c.id
            for c in session.scalars(select(Collection).where(Collection.alias.in_(["shared", "named"])))
            if c.group.slug == group
        }
    keys = {k.organisation: k.key for k in issued}
    hdr = {s: {"Authorization": f"Bearer {keys[s]}", "Accept": TAXII, "Content-Type": TAXII} for s in slugs}
    gpol = GroupPolicy(slug=group, default_tlp=Tlp.parse(default), max_tlp=Tlp.AMBER_STRICT)

    # push: who may post where follows the roles; the hub's own status tells what was stored
    stored: dict[str, list[tuple[str, str, int, int]]] = {
        "shared": [],
        "named": [],
    }  # id, version, level, producer
    for k, (who, level, nversions, to_named) in enumerate(objects):
        producer = slugs[who % len(slugs)]
        alias = "named" if to_named and named_ok else "shared"
        oid = f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, f'{n}-{k}')}"
        objs = []
        for v in range(nversions):
            obj = {
                "type": "indicator",
                "spec_version": "2.1",
                "id": oid,
                "created": "2024-01-01T00:00:00.000Z",
                "modified": f"2024-01-0{v + 1}T00:00:00.000Z",
                "pattern": f"[ipv4-addr:value = '10.0.{n % 250}.{k}']",
                "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00Z",
            }
            if level:
                obj["object_marking_refs"] = [TLP[level]]
            objs.append(obj)
        r = client.post(
            f"/taxii2/{group}/collections/{coll_ids[alias]}/objects/",
            content=orjson.dumps({"objects": objs}),
            headers=hdr[producer],
        )
        if r.status_code != 202:
            assert r.status_code in (403, 404)
            continue
        eff = Tlp.parse(level) if level else gpol.default_tlp
        for s in r.json().get("successes", []):
            stored[alias].append((s["id"], s["version"], eff, org_ids[producer]))

    for alias, cid in coll_ids.items():
        cpol = CollectionPolicy(
            id=cid,
            kind="named" if alias == "named" else "group",
            group=gpol,
            owner_org_id=org_ids[owner],
            recipient_org_ids=frozenset(org_ids[r] for r in recips),
        )
        base = f"/taxii2/{group}/collections/{cid}"
        for i, s in enumerate(slugs):
            role, clr = orgs[i]
            reader = Reader(org_id=org_ids[s], role=role, clearance=Tlp.parse(clr))
            entitled = {
                (oid, ver) for oid, ver, lvl, prod in stored[alias] if may_read(reader, cpol, lvl, prod)
            }
            h = {k: v for k, v in hdr[s].items() if k != "Content-Type"}
            if role is None:
                assert client.get(f"{base}/objects/", headers=h).status_code == 403
                continue
            can_see_collection = alias == "shared" or org_ids[s] == org_ids[owner] or s in recips
            if not can_see_collection:
                assert client.get(f"{base}/objects/", headers=h).status_code == 404
                assert client.get(f"{base}/manifest/", headers=h).status_code == 404
                assert not entitled
                continue
            objs, _ = _read_all(client, f"{base}/objects/", h, {"match[version]": "all", "limit": 3})
            assert {(o["id"], o["modified"]) for o in objs} == entitled
            assert len(objs) == len(entitled)
            man, mpages = _read_all(client, f"{base}/manifest/", h, {"match[version]": "all", "limit": 2})
            assert {(m["id"], m["version"]) for m in man} == entitled
            for items, first, last in mpages:
                if items:
                    assert first == items[0]["date_added"] and last == items[-1]["date_added"]
                else:
                    assert first is None and last is None
            # latest visible version per id, by default
            latest, _ = _read_all(client, f"{base}/objects/", h, {"limit": 5})
            want_latest = {}
            for oid, ver in entitled:
                want_latest[oid] = max(want_latest.get(oid, ver), ver)
            assert {(o["id"], o["modified"]) for o in latest} == set(want_latest.items())
            for oid in {x[0] for x in stored[alias]}:
                visible_versions = sorted(v for o, v in entitled if o == oid)
                r1 = client.get(f"{base}/objects/{oid}/", headers=h)
                r2 = client.get(f"{base}/objects/{oid}/versions/", headers=h)
                if visible_versions:
                    assert r1.status_code == 200 and r2.status_code == 200
                    assert sorted(r2.json()["versions"]) == visible_versions
                else:
                    # hidden and absent look alike: no body, no headers, no count
                    assert r1.status_code == 404 and r2.status_code == 404
                    assert "X-TAXII-Date-Added-First" not in r1.headers
