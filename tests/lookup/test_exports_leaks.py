"""Property (issue 24): no device format tells a key holder anything above its clearance or outside
what it may read, and carries no value a device list would refuse, whatever was stored.

Hypothesis builds trust groups (members with roles and clearances, a group collection and a named one
with recipients) and indicators at every TLP level, live, revoked or expired, whose values are fit,
over-broad, public suffixes, known-benign or hold control characters; some go in through TAXII (the
door refuses the unfit ones), some are stored as an older hub did, without the door. The oracle is the
stored record and the policy layer's Python rule (`may_read`); every member's Suricata rules, Zeek
intel, RPZ zone and MISP feed (manifest, hashes and every event) are read over HTTP with its key.
"""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any

import dns.zone
import orjson
from hypothesis import example, given
from hypothesis import strategies as st
from idstools import rule as idsrule
from sqlalchemy import select

from hub.db import begin_write
from hub.ingest import Candidate, Prepared, Submission, add_prepared, now_us
from hub.lookup.benign import benign_list
from hub.lookup.formats.common import ascii_name
from hub.lookup.formats.rpz import rpz_ip
from hub.lookup.values import Value, lifecycle, problem, values_of
from hub.policy.rules import CollectionPolicy, GroupPolicy, Reader, Submitter, may_read
from hub.policy.tlp import Tlp
from hub.stix import check_and_serialise
from hub.store.tables import ObjectVersion
from hub.trust.access import collection_policy
from hub.trust.models import Collection, Organisation, TrustGroup
from tests.factories import TLP
from tests.leak_strategies import LEVELS, generated_group, leak_settings, orgs_st

_counter = itertools.count()
PATTERNS = {
    "ip": "[ipv4-addr:value = '{}']",
    "domain": "[domain-name:value = '{}']",
    "url": "[url:value = '{}']",
    "hash": "[file:hashes.MD5 = '{}']",
}
VALUES = {
    "ip": st.one_of(
        st.tuples(st.integers(1, 223), st.integers(0, 255), st.integers(0, 255)).map(
            lambda t: "{}.{}.{}.9".format(*t)
        ),
        st.sampled_from(
            ["8.8.8.8", "10.1.2.3", "0.0.0.0/1", "198.51.100.0/24", "203.0.113.0/8", "1.2.3.4\x0b"]
        ),
    ),
    "domain": st.one_of(
        st.text("abcdefghij", min_size=1, max_size=8).map(lambda s: f"{s}.example.net"),
        st.sampled_from(["com", "co.uk", "google.com", "bücher.example", "x\u2028y.example.org"]),
    ),
    "url": st.one_of(
        st.text("abcdef/;\"|", min_size=1, max_size=8).map(lambda s: f"http://u.example.net/{s}"),
        st.sampled_from(["javascript:alert(1)", "https://www.google.com/x", "ftp://f.example.org/a"]),
    ),
    "hash": st.one_of(
        st.text("0123456789abcdef", min_size=32, max_size=32),
        st.sampled_from(["d41d8cd98f00b204e9800998ecf8427e", "abc"]),
    ),
}  # fmt: skip
# (kind, value, level, state, producer, named, raw)
objects_st = st.lists(
    st.sampled_from(sorted(VALUES)).flatmap(
        lambda kind: st.tuples(
            st.just(kind), VALUES[kind], st.sampled_from(LEVELS),
            st.sampled_from(["live", "revoked", "expired"]), st.integers(0, 3), st.booleans(), st.booleans(),
        )
    ),
    min_size=1,
    max_size=10,
)  # fmt: skip


def _indicator(n: int, k: int, kind: str, value: str, level: str | None, state: str) -> dict[str, Any]:
    literal = value.replace("\\", "\\\\").replace("'", "\\'")
    obj: dict[str, Any] = {
        "type": "indicator", "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, f'{n}-{k}')}",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "pattern": PATTERNS[kind].format(literal), "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
        "name": f"<b>\"x\"; {value}</b>",  # upstream free text: never in a rule, a zone or an intel line
    }  # fmt: skip
    if level:
        obj["object_marking_refs"] = [TLP[level]]
    if state == "revoked":
        obj["revoked"] = True
    if state == "expired":
        obj["valid_until"] = "2024-06-01T00:00:00Z"
    return obj


def _store_raw(sm: Any, coll_id: str, producer: str, objs: list[dict[str, Any]]) -> None:
    prepared = Prepared(started=now_us())
    for obj in objs:
        prepared.candidates.append(Candidate(obj, *check_and_serialise(obj)))
    with sm() as s, s.begin():
        begin_write(s)
        coll = s.get(Collection, coll_id)
        group = s.get(TrustGroup, coll.group_id)
        org = s.scalar(select(Organisation).where(Organisation.slug == producer))
        sub = Submission(
            collection=collection_policy(coll, group, frozenset()),
            submitter=Submitter(org_id=org.id, role="contributor", identity_id=org.identity_id),
            group_id=group.id,
        )
        add_prepared(s, submission=sub, prepared=prepared)


def _fit(v: Value) -> bool:
    return problem(v) is None and benign_list(v) is None


def _forms(kind: str, value: str) -> set[str]:
    """The ways a value shows in the formats."""
    out = {value}
    if kind == "domain":
        out.add(ascii_name(value) or value)
    if kind == "ip":
        out.add(rpz_ip(value) or value)
    if kind == "url":
        out.add(value.partition("://")[2])
    return out


def _seen_values(text: str, fmt: str) -> set[tuple[str, str]]:
    """(kind, form) of every value a format carries."""
    out: set[tuple[str, str]] = set()
    if fmt == "suricata":
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            r = idsrule.parse(line)
            assert r is not None, line
            assert not set(r.msg) & set("\"';\\<>|"), r.msg
            if r.proto == "ip":
                out.add(("ip", r.dest_addr.strip("[]")))
            elif r.proto in ("dns", "tls"):
                out.add(("domain", re.search(r'content:"\.([^"]+)"', r.raw)[1]))  # type: ignore[index]
            elif "http.host" in r.raw:
                out.add(("url-host", re.search(r'http.host; content:"([^"]+)"', r.raw)[1]))  # type: ignore[index]
    elif fmt == "zeek":
        lines = text.split("\n")
        assert lines[0].startswith("#fields\tindicator\tindicator_type")
        kinds = {"Intel::ADDR": "ip", "Intel::SUBNET": "ip", "Intel::DOMAIN": "domain", "Intel::URL": "url",
                 "Intel::FILE_HASH": "hash"}  # fmt: skip
        for line in lines[1:-1]:
            cells = line.split("\t")
            assert len(cells) == 5 and all(c.isprintable() for c in cells), line
            assert "<" not in cells[3] and '"' not in cells[3]
            out.add((kinds[cells[1]], cells[0].replace("\\x5c", "\\")))
    elif fmt == "rpz":
        z = dns.zone.from_text(text, origin="rpz.test.", relativize=True)
        for name in z.nodes:
            n = name.to_text()
            if n == "@":
                continue
            if n.endswith(".rpz-ip"):
                out.add(("ip", n))
            else:
                out.add(("domain", n.removeprefix("*.")))
    return out


@leak_settings(8)
@given(
    orgs=orgs_st,
    objects=objects_st,
    default=st.sampled_from(LEVELS[:4]),
    recipients=st.sets(st.integers(1, 3)),
)
# a URL whose '|' leaves an empty part once put the MD5 of nothing in hashes.csv: the empty file's hash,
# here held by an AMBER object the GREEN member may not read
@example(
    orgs=[("contributor", "green"), ("contributor", "amber")],
    objects=[
        ("url", "http://u.example.net/a|", "green", "live", 0, False, False),
        ("hash", "d41d8cd98f00b204e9800998ecf8427e", "amber", "live", 1, False, True),
    ],
    default="green",
    recipients=set(),
)
def test_no_format_carries_anything_above_clearance_unreadable_or_unfit(
    client, sm, orgs, objects, default, recipients
):  # fmt: skip
    n = next(_counter)
    slugs = [f"x{n}-{i}" for i in range(len(orgs))]
    group = f"xg{n}"
    g = generated_group(sm, slugs, group, orgs, recipients, default=default)
    named_ok, recips, keys, org_ids, colls = g.named_ok, g.recips, g.keys, g.org_ids, g.colls
    for k, (kind, value, level, state, producer_i, named, raw) in enumerate(objects):
        producer = slugs[producer_i % len(slugs)]
        alias = "named" if named and named_ok else "shared"
        obj = _indicator(n, k, kind, value, level, state)
        try:
            check_and_serialise(obj)
        except (ValueError, TypeError):
            continue
        if raw and orgs[producer_i % len(slugs)][0] is not None:
            _store_raw(sm, colls[alias], producer, [obj])
        else:
            client.post(
                f"/taxii2/{group}/collections/{colls[alias]}/objects/",
                content=orjson.dumps({"objects": [obj]}),
                headers={"Authorization": f"Bearer {keys[producer]}",
                         "Content-Type": "application/taxii+json;version=2.1"},
            )  # fmt: skip

    gpol = GroupPolicy(slug=group, default_tlp=Tlp.parse(default), max_tlp=Tlp.AMBER_STRICT)
    cpols = {
        cid: CollectionPolicy(
            id=cid, kind="named" if alias == "named" else "group", group=gpol, owner_org_id=org_ids[slugs[0]],
            recipient_org_ids=frozenset(org_ids[r] for r in recips),
        )
        for alias, cid in colls.items()
    }  # fmt: skip
    with sm() as s:
        stored = list(s.execute(
            select(ObjectVersion.collection_id, ObjectVersion.tlp, ObjectVersion.producer_id,
                   ObjectVersion.private_to, ObjectVersion.body)
            .where(ObjectVersion.collection_id.in_(list(colls.values())))
        ))  # fmt: skip
    for i, slug in enumerate(slugs):
        role, clearance = orgs[i]
        if role is None:
            continue
        reader = Reader(org_id=org_ids[slug], role=role, clearance=Tlp.parse(clearance))
        live: set[tuple[str, str]] = set()
        readable: set[tuple[str, str]] = set()
        hidden: set[tuple[str, str]] = set()
        for cid, tlp, producer, private_to, body in stored:
            obj = orjson.loads(body)
            sees = (
                (producer == reader.org_id)
                if private_to
                else may_read(reader, cpols[cid], Tlp(tlp), producer).allowed
            )
            for v in values_of(obj, simple_only=True):
                forms = {(v.kind, f) for f in _forms(v.kind, v.value)}
                if not sees:
                    hidden |= forms
                elif _fit(v):
                    readable |= forms
                    if lifecycle(obj) is None:
                        live |= forms
                        if v.kind == "url":
                            live.add(("url-host", v.value.partition("://")[2].split("/")[0]))
        hidden -= readable | {(k, f) for k, f in live}
        headers = {"Authorization": f"Bearer {keys[slug]}"}
        base = f"/console/downloads/{group}"
        texts = []
        for fmt, path in (("suricata", "suricata.rules"), ("zeek", "zeek.intel"), ("rpz", "rpz.zone")):
            r = client.get(f"{base}/{path}", headers=headers)
            assert r.status_code == 200, r.text
            texts.append(r.text)
            for kind, form in _seen_values(r.text, fmt):
                assert (kind, form) in live, (slug, fmt, kind, form)
        manifest = client.get(f"{base}/misp-feed/manifest.json", headers=headers)
        assert manifest.status_code == 200
        texts += [manifest.text, client.get(f"{base}/misp-feed/hashes.csv", headers=headers).text]
        for eid in manifest.json():
            ev = client.get(f"{base}/misp-feed/{eid}.json", headers=headers)
            assert ev.status_code == 200
            texts.append(ev.text)
            for a in ev.json()["Event"]["Attribute"]:
                kind = {"ip-dst": "ip", "ip-dst|port": "ip", "domain": "domain", "url": "url", "md5": "hash"}[
                    a["type"]
                ]
                value = a["value"].split("|")[0] if a["type"] == "ip-dst|port" else a["value"]
                assert (kind, value) in (live if a["to_ids"] else readable), (slug, a)
        everything = "\n".join(texts)
        for kind, form in hidden:
            if kind == "ip" or len(form) >= 12:  # short generated strings may occur inside others by chance
                assert not re.search(rf"(?<![\w.]){re.escape(form)}(?![\w])", everything), (slug, kind, form)
