"""No lookup tells a member of anything above its clearance: search, object page, downloads, errors.

Hypothesis builds organisations with roles and clearances, a group collection and a named-recipient
collection, and objects at every TLP: indicators with several versions, observables several members
publish (one copy each), files whose hashes are granularly marked, and ids that collide with another
member's hidden object (stored as private versions, hub.ingest). Every value is unique to the version
that holds it. The oracle is the stored record read directly and the policy layer's Python rule
(`may_read`, `read_clearance`): for every member, no lookup returns an id or a value it may not read,
and a hidden value's search answers exactly as an absent value's.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from hub.lookup import downloads
from hub.lookup.downloads import DownloadFilters
from hub.lookup.objects import object_view
from hub.lookup.search import search
from hub.policy.rules import CollectionPolicy, GroupPolicy, Reader, may_read, read_clearance
from hub.policy.tlp import TLP_LEVEL_BY_ID, Tlp
from hub.store.tables import ObjectVersion
from hub.trust.service import authenticate
from tests.factories import TLP
from tests.leak_strategies import LEVELS, generated_group, leak_settings, orgs_st

_counter = itertools.count()

# (kind, id slot, producer, level, versions, to_named, granular level)
objects_st = st.lists(
    st.tuples(
        st.sampled_from(["indicator", "ipv4-addr", "file"]),
        st.integers(0, 2),
        st.integers(0, 3),
        st.sampled_from(LEVELS),
        st.integers(1, 2),
        st.booleans(),
        st.sampled_from(LEVELS),
    ),
    min_size=1,
    max_size=7,
)


def _marked(obj: dict[str, Any], level: str | None) -> dict[str, Any]:
    if level:
        obj["object_marking_refs"] = [TLP[level]]
    return obj


def _build(n: int, k: int, spec: tuple[Any, ...], slug: str, v: int) -> dict[str, Any]:
    kind, slot, _, level, _, _, granular = spec
    if kind == "indicator":
        obj = {
            "type": "indicator", "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, f'{n}-slot-{slot}')}",
            "created": "2024-01-01T00:00:00.000Z", "modified": f"2024-01-0{v + 1}T00:00:00.000Z",
            "pattern": f"[ipv4-addr:value = '10.{n % 250}.{k}.{v}']", "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z", "description": f"secret-{n}-{k}-{v}.example",
        }  # fmt: skip
        if granular:
            obj["granular_markings"] = [{"marking_ref": TLP[granular], "selectors": ["description"]}]
        return _marked(obj, level)
    if kind == "ipv4-addr":
        # the same value (so the same id) from several publishers: one copy each
        value = f"172.16.{n % 250}.{slot}"
        return _marked(
            {"type": "ipv4-addr", "spec_version": "2.1",
             "id": f"ipv4-addr--{uuid.uuid5(uuid.NAMESPACE_DNS, value)}", "value": value},
            level,
        )  # fmt: skip
    digest = hashlib.sha256(f"{n}-{k}".encode()).hexdigest()
    obj = {
        "type": "file", "spec_version": "2.1", "id": f"file--{uuid.uuid5(uuid.NAMESPACE_DNS, digest)}",
        "name": f"tool-{n}-{k}.exe", "hashes": {"SHA-256": digest},
    }  # fmt: skip
    if granular:
        obj["granular_markings"] = [{"marking_ref": TLP[granular], "selectors": ["hashes"]}]
    return _marked(obj, level)


def _secrets(obj: dict[str, Any]) -> list[tuple[str, Tlp | None]]:
    """The searchable or exportable strings of a stored body, each with the granular level over it."""
    granular = {
        sel: TLP_LEVEL_BY_ID[e["marking_ref"]]
        for e in obj.get("granular_markings", [])
        for sel in e["selectors"]
    }
    out: list[tuple[str, Tlp | None]] = [(obj["id"], None)]
    if obj["type"] == "indicator":
        out.append((obj["pattern"].split("'")[1], None))
        out.append((obj["description"], granular.get("description")))
    elif obj["type"] == "ipv4-addr":
        out.append((obj["value"], None))
    else:
        out.append((obj["hashes"]["SHA-256"], granular.get("hashes")))
    return out


@leak_settings(15)
@given(
    orgs=orgs_st,
    objects=objects_st,
    default=st.sampled_from(LEVELS[:4]),
    recipients=st.sets(st.integers(1, 3)),
)
def test_no_lookup_reveals_anything_above_the_readers_clearance(
    client, sm, orgs, objects, default, recipients
):
    n = next(_counter)
    slugs = [f"l{n}-{i}" for i in range(len(orgs))]
    group = f"lk{n}"
    g = generated_group(sm, slugs, group, orgs, recipients, default=default)
    named_ok, recips, keys, org_ids, colls = g.named_ok, g.recips, g.keys, g.org_ids, g.colls
    for k, spec in enumerate(objects):
        producer = slugs[spec[2] % len(slugs)]
        alias = "named" if spec[5] and named_ok else "shared"
        objs = [_build(n, k, spec, producer, v) for v in range(spec[4] if spec[0] == "indicator" else 1)]
        client.post(
            f"/taxii2/{group}/collections/{colls[alias]}/objects/",
            content=orjson.dumps({"objects": objs}),
            headers={
                "Authorization": f"Bearer {keys[producer]}",
                "Content-Type": "application/taxii+json;version=2.1",
            },
        )

    # the oracle: every stored version, judged by the policy layer's Python rule
    gpol = GroupPolicy(slug=group, default_tlp=Tlp.parse(default), max_tlp=Tlp.AMBER_STRICT)
    cpols = {
        alias: CollectionPolicy(
            id=cid, kind="named" if alias == "named" else "group", group=gpol, owner_org_id=org_ids[slugs[0]],
            recipient_org_ids=frozenset(org_ids[r] for r in recips),
        )
        for alias, cid in colls.items()
    }  # fmt: skip
    alias_of = {cid: alias for alias, cid in colls.items()}
    with sm() as s:
        stored = list(
            s.execute(
                select(ObjectVersion.collection_id, ObjectVersion.tlp, ObjectVersion.producer_id,
                       ObjectVersion.private_to, ObjectVersion.body)
                .where(ObjectVersion.collection_id.in_(list(colls.values())))
            )
        )  # fmt: skip
    absent = f"192.0.2.{n % 250}"
    for i, slug in enumerate(slugs):
        role, clearance = orgs[i]
        reader = Reader(org_id=org_ids[slug], role=role, clearance=Tlp.parse(clearance))
        allowed: set[str] = set()
        forbidden: set[str] = set()
        for cid, tlp, producer, private_to, body in stored:
            cpol = cpols[alias_of[cid]]
            if private_to:
                sees = producer == reader.org_id and read_clearance(reader, cpol) is not None
            else:
                sees = may_read(reader, cpol, Tlp(tlp), producer).allowed
            ceiling = read_clearance(reader, cpol)
            for text, level in _secrets(orjson.loads(body)):
                # TAXII removes optional content marked above both the reader's clearance and the object's
                # own level (hub.ingest sets redact_tlp only then); a private version comes back whole
                if sees and (private_to or level is None or level <= max(ceiling or 0, tlp)):
                    allowed.add(text)
                else:
                    forbidden.add(text)
        forbidden -= allowed
        with sm() as s, s.begin():
            who = authenticate(s, keys[slug])
            assert who is not None
            seen: list[str] = []
            nothing = search(s, who, absent)
            for value in sorted(allowed | forbidden):
                if value.startswith(("indicator--", "ipv4-addr--", "file--", "secret-")):
                    continue
                result = search(s, who, value)
                seen.append(repr(result.hits))  # not the query: it echoes the searched text
                if value in forbidden:
                    # a hidden value is answered exactly as an absent one
                    assert (result.hits, result.more) == (nothing.hits, nothing.more) == ([], False)
                for hit in result.hits:
                    assert hit.object_id in allowed and hit.matched in allowed
            for oid in sorted(t for t in allowed | forbidden if "--" in t):
                view = object_view(s, who, oid)
                if oid in forbidden:
                    assert view is None
                else:
                    seen.append(repr(view))
            if role is not None:
                accs = downloads.scope(s, who, group)
                for fn, f in (
                    (downloads.bundle, DownloadFilters()),
                    (downloads.blocklist, DownloadFilters(kind="ip")),
                    (downloads.blocklist, DownloadFilters(kind="hash")),
                    (downloads.blocklist_csv, DownloadFilters()),
                ):
                    seen.append(b"".join(fn(s, who, accs, f)).decode())
        if role is None:
            r = client.get(
                f"/console/downloads/{group}/bundle.json", headers={"Authorization": f"Bearer {keys[slug]}"}
            )
            unknown = client.get(
                "/console/downloads/no-such-group/bundle.json",
                headers={"Authorization": f"Bearer {keys[slug]}"},
            )
            assert r.status_code == unknown.status_code == 404
            assert r.json()["description"].replace(group, "G") == unknown.json()["description"].replace(
                "no-such-group", "G"
            )
        else:
            r = client.get(
                f"/console/downloads/{group}/blocklist.csv", headers={"Authorization": f"Bearer {keys[slug]}"}
            )
            assert r.status_code == 200
            seen.append(r.text)
        everything = "\n".join(seen)
        for text in forbidden:
            assert text not in everything, (slug, text)
