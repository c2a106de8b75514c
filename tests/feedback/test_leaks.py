"""No report, count or notice reveals an object to an organisation that cannot read it, nor a reporter
beyond the group's feedback policy.

Hypothesis builds organisations with roles and clearances, a group collection and a named-recipient
collection, indicators at every TLP, a group feedback policy and false-positive threshold, and reports
(sightings, false positives, notes, each at some TLP) by any organisation on any object or on an id
nobody stored, through the lookup API. The oracle is the stored record read directly and the policy
layer's Python rule. For every organisation: the feedback of an object it cannot read is the absent
object's 404; its counts are the distinct reporters of the reports it may read but for their audience;
reporters are named only to the reporter, the publisher and the coordinators (or to all with
`everyone`); TAXII gives it exactly the reports its audience and clearance allow; its held-objects
notice lists only its own objects, and the feedback notices its subscription would deliver are exactly
the reports it may read on its own objects and its own holds; blocklist.csv's counts match.
"""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from typing import Any

import orjson
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select

from hub.policy.rules import CollectionPolicy, Destination, GroupPolicy, Reader, may_read
from hub.policy.tlp import Tlp
from hub.store.tables import ObjectVersion as OV
from hub.store.tables import Report
from hub.sync.feedback import reports_back
from hub.sync.notify import match_new, readable_matches
from hub.sync.notify_models import Subscription
from hub.sync.outbound import outbound
from hub.trust.models import Collection, TrustGroup
from tests.factories import TLP
from tests.leak_strategies import LEVELS, generated_group, leak_settings, orgs_st

_counter = itertools.count()
TAXII = "application/taxii+json;version=2.1"

# (producer, level, to_named)
objects_st = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(LEVELS), st.booleans()), min_size=1, max_size=5
)
# (reporter, object index (past the end: an absent id), kind, tlp or None: the object's own)
reports_st = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 5),
        st.sampled_from(["sighting", "false-positive", "note"]),
        st.sampled_from(["clear", "green", "amber", "amber+strict", None]),
    ),
    min_size=1,
    max_size=8,
)


@leak_settings(15)
# a report marked below the object it names, under `everyone`: it may not carry that object out
@example(
    orgs=[("coordinator", "amber"), ("reader", "amber")],
    objects=[(0, "amber", False), (0, "green", False)],
    reports=[(1, 0, "note", "clear"), (1, 1, "sighting", "clear"), (1, 0, "sighting", None)],
    policy="everyone",
    threshold=2,
    recipients=set(),
)
@given(
    orgs=orgs_st,
    objects=objects_st,
    reports=reports_st,
    policy=st.sampled_from(["publisher", "everyone-anonymous", "everyone"]),
    threshold=st.integers(1, 3),
    recipients=st.sets(st.integers(1, 3)),
)
def test_feedback_reveals_nothing_beyond_the_policy(
    client, sm, orgs, objects, reports, policy, threshold, recipients
):
    n = next(_counter)
    slugs = [f"f{n}-{i}" for i in range(len(orgs))]
    group = f"fb{n}"
    g = generated_group(
        sm,
        slugs,
        group,
        orgs,
        recipients,
        default="green",
        community="south",
        feedback_visibility=policy,
        false_positive_threshold=threshold,
    )
    named_ok, recips, keys, org_ids, colls = g.named_ok, g.recips, g.keys, g.org_ids, g.colls
    slug_of = {oid: slug for slug, oid in org_ids.items()}
    # every organisation subscribes to feedback notices (delivered below without a network: the notices
    # a delivery would carry, read as the notifier reads them)
    with sm() as s, s.begin():
        s.add_all(
            Subscription(
                organisation_id=oid, kind="email", to_addr="soc@example.org", events="feedback",
                digest="immediate", active=True, created_at_us=0, cursor=0, next_attempt_us=0,
                attempts=0, delivered=0,
            )
            for oid in org_ids.values()
        )  # fmt: skip
    ids: list[str] = []
    for i, (producer, level, to_named) in enumerate(objects):
        sid = f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, f'fb{n}-{i}')}"
        ids.append(sid)
        obj = {
            "type": "indicator", "spec_version": "2.1", "id": sid,
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "pattern": f"[domain-name:value = 'o{i}.fb{n}.example']", "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z",
            **({"object_marking_refs": [TLP[level]]} if level else {}),
        }  # fmt: skip
        alias = "named" if to_named and named_ok else "shared"
        client.post(
            f"/taxii2/{group}/collections/{colls[alias]}/objects/", content=orjson.dumps({"objects": [obj]}),
            headers={"Authorization": f"Bearer {keys[slugs[producer % len(slugs)]]}", "Content-Type": TAXII},
        )  # fmt: skip
    absent = f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, f'fb{n}-absent')}"
    for reporter, target, kind, tlp in reports:
        oid = ids[target] if target < len(ids) else absent
        body: dict[str, Any] = {"kind": kind, "text": "seen here"}
        if tlp:
            body["tlp"] = tlp
        who = {"Authorization": f"Bearer {keys[slugs[reporter % len(slugs)]]}"}
        r = client.post(f"/lookup/v1/objects/{oid}/feedback", json=body, headers=who)
        assert r.status_code in (201, 404), r.text

    match_new(sm, worker_id=f"leak-{n}", settle_s=0)
    with sm() as s:
        subs = {sub.organisation_id: sub for sub in s.scalars(
            select(Subscription).where(Subscription.organisation_id.in_(list(org_ids.values())))
        )}  # fmt: skip
        notices = {oid: [it.data for it in readable_matches(s, sub)[0]] for oid, sub in subs.items()}

    gpol = GroupPolicy(slug=group, default_tlp=Tlp.GREEN, max_tlp=Tlp.AMBER_STRICT)
    cpols = {
        cid: CollectionPolicy(
            id=cid, kind="named" if alias == "named" else "group", group=gpol, owner_org_id=org_ids[slugs[0]],
            recipient_org_ids=frozenset(org_ids[r] for r in recips),
        )
        for alias, cid in colls.items()
    }  # fmt: skip
    with sm() as s:
        stored = {
            r.stix_id: r
            for r in s.execute(
                select(OV.collection_id, OV.stix_id, OV.tlp, OV.producer_id).where(
                    OV.collection_id.in_(list(colls.values())), OV.type == "indicator", OV.private_to == 0
                )
            )
        }
        reps = list(
            s.execute(
                select(
                    Report.object_id, Report.kind, Report.reporter_id, OV.stix_id, OV.tlp, OV.collection_id
                )
                .join(OV, OV.seq == Report.seq)
                .where(OV.collection_id.in_(list(colls.values())))
            )
        )
    roles = {org_ids[s]: r for s, (r, _) in zip(slugs, orgs, strict=True)}
    fps: dict[str, set[int]] = {}
    for r in reps:
        # only what a reporter may read was taken
        reader = Reader(
            org_id=r.reporter_id,
            role=roles[r.reporter_id],
            clearance=Tlp.parse(orgs[slugs.index(slug_of[r.reporter_id])][1]),
        )
        t = stored[r.object_id]
        assert may_read(reader, cpols[t.collection_id], Tlp(t.tlp), t.producer_id).allowed
        if r.kind == "false-positive":
            fps.setdefault(r.object_id, set()).add(r.reporter_id)
    held = {oid for oid, who in fps.items() if len(who) >= threshold}

    def reads(reader: Reader, cid: str, tlp: int, producer: int) -> bool:
        return may_read(reader, cpols[cid], Tlp(tlp), producer).allowed

    for i, slug in enumerate(slugs):
        role, clearance = orgs[i]
        me = org_ids[slug]
        reader = Reader(org_id=me, role=role, clearance=Tlp.parse(clearance))
        auth = {"Authorization": f"Bearer {keys[slug]}"}
        coordinator = role == "coordinator"
        for oid in [*ids, absent]:
            got = client.get(f"/lookup/v1/objects/{oid}/feedback", headers=auth)
            t = stored.get(oid)
            if t is None or not may_read(reader, cpols[t.collection_id], Tlp(t.tlp), t.producer_id).allowed:
                assert got.status_code == 404, (slug, oid, got.text)
                continue
            assert got.status_code == 200, got.text
            fb = got.json()
            counted = [
                r for r in reps
                if r.object_id == oid and reads(reader, r.collection_id, r.tlp, r.reporter_id)
            ]  # fmt: skip
            for kind, field in (("sighting", "sightings"), ("false-positive", "false_positives")):
                assert fb[field] == len({r.reporter_id for r in counted if r.kind == kind}), (slug, oid, fb)
            assert fb["held"] == (oid in held)
            privileged = coordinator or me == t.producer_id
            named = sorted(
                slug_of[r.reporter_id]
                for r in counted
                if privileged or me == r.reporter_id or policy == "everyone"
            )
            assert sorted(x["reporter"] for x in fb["reports"] if x["reporter"]) == named, (slug, policy, fb)
            if policy == "publisher":
                assert len(fb["reports"]) == len(named)
        # TAXII: the reports themselves, by audience and clearance
        for alias, cid in colls.items():
            only = {"match[type]": "sighting,opinion,note"}
            r = client.get(f"/taxii2/{group}/collections/{cid}/objects/", params=only,
                           headers={**auth, "Accept": TAXII})  # fmt: skip
            if r.status_code != 200:
                continue
            seen = {o["id"] for o in r.json().get("objects", [])}
            want = {
                r.stix_id for r in reps
                if r.collection_id == cid
                and may_read(reader, cpols[cid], Tlp(r.tlp), r.reporter_id).allowed
                and (policy == "everyone" or coordinator
                     or me in (r.reporter_id, stored[r.object_id].producer_id))
            }  # fmt: skip
            assert seen == want, (slug, alias, policy)
        notice = client.get("/lookup/v1/feedback/held", headers=auth).json()["held"]
        assert {h["object_id"] for h in notice} == {oid for oid in held if stored[oid].producer_id == me}
        # feedback notices: only on its own objects, only reports it may read, and each hold of its own
        told = {(d["notice"], d["object_id"], d.get("report_id"), d.get("reporter")) for d in notices[me]}
        assert told == {
            (r.kind, r.object_id, r.stix_id, slug_of[r.reporter_id])
            for r in reps
            if stored[r.object_id].producer_id == me
            and r.reporter_id != me
            and reads(reader, r.collection_id, r.tlp, r.reporter_id)
        } | {("held", oid, None, None) for oid in held if stored[oid].producer_id == me}, (slug, policy)
        if role is not None:
            r = client.get(
                f"/console/downloads/{group}/blocklist.csv", params={"kind": "domain"}, headers=auth
            )
            assert r.status_code == 200
            for row in csv.DictReader(io.StringIO(r.text)):
                assert row["object_id"] not in held
                counted = [
                    x for x in reps
                    if x.object_id == row["object_id"]
                    and may_read(reader, cpols[x.collection_id], Tlp(x.tlp), x.reporter_id).allowed
                ]  # fmt: skip
                assert int(row["false_positives"]) == len(
                    {x.reporter_id for x in counted if x.kind == "false-positive"}
                )

    # leaving the hub (hub.store.reads._leaving): a push to a peer of the group's community and an export
    # carry a report only under `everyone`, within their ceiling, and only with the object it names; a
    # two-way feed publishing as an organisation takes back only the reports of others on its objects
    report_ids = {r.stix_id for r in reps}
    with sm() as s:
        grp = s.scalar(select(TrustGroup).where(TrustGroup.slug == group))
        for cid in colls.values():
            coll = s.get(Collection, cid)
            for dest in (
                Destination(kind="peer", name="peer", community="south"),
                Destination(kind="export", name="export"),
            ):
                ceiling = Tlp.GREEN if dest.kind == "peer" else Tlp.CLEAR
                out = {
                    orjson.loads(i.body)["id"]
                    for i in outbound(s, collection=coll, group=grp, destination=dest)
                }
                assert out & report_ids == {
                    r.stix_id for r in reps
                    if r.collection_id == cid and policy == "everyone" and r.tlp <= ceiling
                    and stored[r.object_id].tlp <= ceiling
                }, (dest.kind, policy)  # fmt: skip
            for oid in org_ids.values():
                back = reports_back(s, collection=coll, origin_org_id=oid, ceiling=Tlp.GREEN)
                assert {orjson.loads(i.body)["id"] for i in back} == {
                    r.stix_id for r in reps
                    if r.collection_id == cid and stored[r.object_id].producer_id == oid
                    and r.reporter_id != oid and r.tlp <= Tlp.GREEN
                }, policy  # fmt: skip
