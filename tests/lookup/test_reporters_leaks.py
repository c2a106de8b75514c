"""No `reporters` count and no lookup API result reflects a version its reader cannot read.

Hypothesis builds organisations with roles and clearances, a group collection and a named-recipient
collection, and a few shared values reported at every TLP: observables several members publish (one
copy each), indicators with a second version that changes or revokes the value, and ids another member
posts while hidden from it (kept as private versions, hub.ingest). The oracle is the stored record read
directly and the policy layer's Python rule: for each reader, the latest versions it may see of each
object (per publisher for observables), and for each value the distinct publishers of those that hold it
and are not revoked. The lookup API, the object page and blocklist.csv must agree with it exactly.
"""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from hub.lookup.objects import object_view
from hub.policy.rules import CollectionPolicy, GroupPolicy, Reader, may_read, read_clearance
from hub.policy.tlp import Tlp
from hub.stix import SCO_TYPES
from hub.store.tables import ObjectVersion as OV
from hub.trust.service import authenticate
from tests.factories import TLP
from tests.leak_strategies import LEVELS, generated_group, leak_settings, orgs_st

_counter = itertools.count()
TAXII = "application/taxii+json;version=2.1"

# (kind, value index, second value index or None, id slot, producer, level, to_named, revoke)
objects_st = st.lists(
    st.tuples(
        st.sampled_from(["indicator", "domain-name"]),
        st.integers(0, 1),
        st.one_of(st.none(), st.integers(0, 1)),
        st.integers(0, 2),
        st.integers(0, 3),
        st.sampled_from(LEVELS),
        st.booleans(),
        st.booleans(),
    ),
    min_size=3,
    max_size=9,
)


def _objects(n: int, spec: tuple[Any, ...], values: list[str]) -> list[list[dict[str, Any]]]:
    """The envelopes one spec posts, in order."""
    kind, first, second, slot, _, level, _, revoke = spec
    marks = {"object_marking_refs": [TLP[level]]} if level else {}
    if kind == "domain-name":
        value = values[first]
        sid = f"domain-name--{uuid.uuid5(uuid.NAMESPACE_DNS, value)}"
        return [[{"type": "domain-name", "spec_version": "2.1", "id": sid, "value": value, **marks}]]
    base = {
        "type": "indicator", "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, f'{n}-slot-{slot}')}",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "pattern": f"[domain-name:value = '{values[first]}']", "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z", **marks,
    }  # fmt: skip
    out = [[base]]
    if second is not None or revoke:
        later = {**base, "modified": "2024-02-01T00:00:00.000Z"}
        if second is not None:
            later["pattern"] = f"[domain-name:value = '{values[second]}']"
        if revoke:
            later["revoked"] = True
        out.append([later])
    return out


def _value_of(obj: dict[str, Any]) -> str:
    return str(obj["value"]) if obj["type"] == "domain-name" else str(obj["pattern"].split("'")[1])


@leak_settings(20)
@given(
    orgs=orgs_st,
    objects=objects_st,
    default=st.sampled_from(LEVELS[:4]),
    recipients=st.sets(st.integers(1, 3)),
)
def test_reporters_and_lookup_results_reflect_only_what_the_reader_may_read(
    client, sm, orgs, objects, default, recipients
):
    n = next(_counter)
    slugs = [f"r{n}-{i}" for i in range(len(orgs))]
    group = f"rp{n}"
    values = [f"v{k}.n{n}.example" for k in range(2)]
    g = generated_group(sm, slugs, group, orgs, recipients, default=default)
    named_ok, recips, keys, org_ids, colls = g.named_ok, g.recips, g.keys, g.org_ids, g.colls
    slug_of = {oid: slug for slug, oid in org_ids.items()}
    for spec in objects:
        producer = slugs[spec[4] % len(slugs)]
        alias = "named" if spec[6] and named_ok else "shared"
        for envelope in _objects(n, spec, values):
            client.post(
                f"/taxii2/{group}/collections/{colls[alias]}/objects/",
                content=orjson.dumps({"objects": envelope}),
                headers={"Authorization": f"Bearer {keys[producer]}", "Content-Type": TAXII},
            )

    gpol = GroupPolicy(slug=group, default_tlp=Tlp.parse(default), max_tlp=Tlp.AMBER_STRICT)
    cpols = {
        cid: CollectionPolicy(
            id=cid, kind="named" if alias == "named" else "group", group=gpol, owner_org_id=org_ids[slugs[0]],
            recipient_org_ids=frozenset(org_ids[r] for r in recips),
        )
        for alias, cid in colls.items()
    }  # fmt: skip
    with sm() as s:
        stored = list(
            s.execute(
                select(OV.collection_id, OV.stix_id, OV.type, OV.version_us, OV.tlp, OV.producer_id,
                       OV.private_to, OV.body).where(OV.collection_id.in_(list(colls.values())))
            )
        )  # fmt: skip
    for i, slug in enumerate(slugs):
        role, clearance = orgs[i]
        reader = Reader(org_id=org_ids[slug], role=role, clearance=Tlp.parse(clearance))
        # the oracle: the latest versions this reader may see, per object (per publisher for observables)
        visible = []
        for row in stored:
            cpol = cpols[row.collection_id]
            if row.private_to:
                sees = row.producer_id == reader.org_id and read_clearance(reader, cpol) is not None
            else:
                sees = may_read(reader, cpol, Tlp(row.tlp), row.producer_id).allowed
            if sees:
                visible.append(row)

        def obj_key(r: Any) -> tuple[Any, ...]:
            return (r.collection_id, r.stix_id, r.producer_id if r.type in SCO_TYPES else None)

        newest: dict[tuple[Any, ...], int] = {}
        for r in visible:
            newest[obj_key(r)] = max(newest.get(obj_key(r), r.version_us), r.version_us)
        latest = [r for r in visible if r.version_us == newest[obj_key(r)]]
        expected_hits: dict[str, set[tuple[str, str, str]]] = {v: set() for v in values}
        reporters: dict[str, set[int]] = {v: set() for v in values}
        for r in latest:
            obj = orjson.loads(r.body)
            value = _value_of(obj)
            expected_hits[value].add((r.collection_id, r.stix_id, slug_of[r.producer_id]))
            if obj.get("revoked") is not True:
                reporters[value].add(r.producer_id)

        auth = {"Authorization": f"Bearer {keys[slug]}"}
        for value in values:
            r = client.get("/lookup/v1/search", params={"q": value}, headers=auth)
            assert r.status_code == 200, r.text
            results = r.json()["results"]
            got = {(x["collection_id"], x["object_id"], x["publisher"]) for x in results}
            assert got == expected_hits[value], (slug, value)
            for x in results:
                assert x["reporters"] == len(reporters[value]), (slug, value, x)
        with sm() as s, s.begin():
            who = authenticate(s, keys[slug])
            assert who is not None
            for oid in sorted({h[1] for hits in expected_hits.values() for h in hits}):
                view = object_view(s, who, oid)
                assert view is not None
                for value, count in view.reporters:
                    assert count == len(reporters[value]), (slug, oid, value)
        if role is not None:
            r = client.get(
                f"/console/downloads/{group}/blocklist.csv", params={"kind": "domain"}, headers=auth
            )
            assert r.status_code == 200
            for row in csv.DictReader(io.StringIO(r.text)):
                assert int(row["reporters"]) == len(reporters[row["value"]]), (slug, row)
