"""Nothing above a member's clearance reaches it through the console: pages, fragments, charts, search
results, object pages, downloads and error pages.

Hypothesis builds organisations with roles and clearances, a group and a named-recipient collection,
and objects at every TLP (some with several versions), pushes them over TAXII, then signs every
organisation in to the console and reads everything it can reach. The oracle is TAXII itself (its own
leak tests prove it against the policy layer): whatever id, value or version TAXII does not give an
organisation, no console answer to it may hold; a hidden id's object page and a hidden value's search
are the very pages an absent one gets; a coordinator's dashboard counts what TAXII gives it, and the
counts its audit log shows of other members' pushes add up to no more than that.
"""

from __future__ import annotations

import itertools
import re
import uuid

import orjson
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from hub.db import begin_write
from hub.store.tables import ObjectVersion
from hub.trust.models import Collection
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config
from tests.console.conftest import give_passwords, sign_in
from tests.factories import TAXII, TLP
from tests.leak_strategies import LEVELS, leak_settings, orgs_st

_counter = itertools.count()
PUSH_ROW = re.compile(r"<tr><td>[^<]*</td><td>push</td><td>([^<]*)</td><td>[^<]*</td><td>(\d+)</td>")
HIDDEN_SEEN = [0]  # organisations with something hidden, over all examples (the test is not vacuous)

# (publisher index, TLP of each version, into the named collection)
objects_st = st.lists(
    st.tuples(st.integers(0, 3), st.lists(st.sampled_from(LEVELS), min_size=1, max_size=2), st.booleans()),
    min_size=1,
    max_size=6,
)


def _obj(oid: str, value: str, modified: str, level: str | None) -> dict:
    obj = {
        "type": "indicator", "spec_version": "2.1", "id": oid, "name": f"name of {value}",
        "created": "2024-01-01T00:00:00.000Z", "modified": modified,
        "pattern": f"[ipv4-addr:value = '{value}']", "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }  # fmt: skip
    if level:
        obj["object_marking_refs"] = [TLP[level]]
    return obj


def _taxii_view(client, hdr, group, coll_ids) -> tuple[set[str], set[str], int]:
    """Ids, versions and the number of versions TAXII gives an organisation in the group."""
    ids, versions, count = set(), set(), 0
    for cid in coll_ids.values():
        r = client.get(
            f"/taxii2/{group}/collections/{cid}/objects/", params={"match[version]": "all"}, headers=hdr
        )
        if r.status_code != 200:
            continue
        for o in r.json().get("objects", []):
            ids.add(o["id"])
            versions.add(o["modified"])
            count += 1
    return ids, versions, count


@leak_settings(8)
@given(
    orgs=orgs_st,
    objects=objects_st,
    default=st.sampled_from(LEVELS[:4]),
    recipients=st.sets(st.integers(1, 3)),
)
def test_no_console_answer_holds_what_taxii_hides(client, sm, orgs, objects, default, recipients):
    check(client, sm, orgs, objects, default, recipients)


def test_a_green_reader_and_an_outsider_meet_hidden_objects_and_see_none(client, sm):
    before = HIDDEN_SEEN[0]
    orgs = [("coordinator", "amber+strict"), ("reader", "green"), ("contributor", "clear"), (None, "red")]
    objects = [
        (0, ["amber"], False),
        (0, ["green", "amber+strict"], False),
        (2, ["red"], True),
        (0, [None], True),
    ]
    check(client, sm, orgs, objects, "amber", {1})
    assert HIDDEN_SEEN[0] - before >= 3


def test_a_green_coordinator_sees_no_count_of_a_members_amber_push(client, sm):
    orgs = [("coordinator", "green"), ("contributor", "amber+strict")]
    check(client, sm, orgs, [(1, ["amber"], False), (1, ["green"], False)], "green", set())


def check(client, sm, orgs, objects, default, recipients) -> None:
    """Build the world of one example and read every console page as each of its organisations."""
    n = next(_counter)
    slugs = [f"c{n}-{i}" for i in range(len(orgs))]
    group = f"cg{n}"
    members = [{"org": s, "role": r, "clearance": c} for s, (r, c) in zip(slugs, orgs, strict=True) if r]
    recips = [slugs[i] for i in recipients if i < len(slugs) and orgs[i][0] is not None]
    collections = [{"alias": "shared", "title": "Shared"}]
    if orgs[0][0] is not None:
        collections.append(
            {"alias": "named", "title": "Named", "kind": "named", "owner": slugs[0], "recipients": recips}
        )
    cfg = {
        "organisations": [{"slug": s, "name": s.upper(), "accounts": [{"name": "k"}]} for s in slugs],
        "groups": [{"slug": group, "name": group, "default_tlp": default, "max_tlp": "amber+strict",
                    "members": members, "collections": collections}],
    }  # fmt: skip
    with sm() as session, session.begin():
        begin_write(session)
        issued = apply_config(session, TrustConfig.model_validate(cfg))
        coll_ids = {
            c.alias: c.id
            for c in session.scalars(select(Collection).where(Collection.alias.in_(["shared", "named"])))
            if c.group.slug == group
        }
    give_passwords(sm, orgs=tuple(slugs))
    keys = {k.organisation: k.key for k in issued}
    hdr = {s: {"Authorization": f"Bearer {keys[s]}", "Accept": TAXII} for s in slugs}

    posted: dict[str, tuple[str, set[str]]] = {}  # id -> (value, versions)
    # who sent each id: a member's own submissions (their status, the reason a reader's indicator was
    # refused) name what it sent itself, which reveals nothing to it
    sent_by: dict[str, str] = {}
    for k, (who, levels, to_named) in enumerate(objects):
        alias = "named" if to_named and "named" in coll_ids else "shared"
        oid = f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, f'console-{n}-{k}')}"
        value = f"10.{n % 250}.{k}.77"
        mods = [f"2025-0{v + 1}-01T00:{k:02d}:00.000Z" for v in range(len(levels))]
        objs = [_obj(oid, value, m, lv) for m, lv in zip(mods, levels, strict=True)]
        client.post(
            f"/taxii2/{group}/collections/{coll_ids[alias]}/objects/",
            content=orjson.dumps({"objects": objs}),
            headers={**hdr[slugs[who % len(slugs)]], "Content-Type": TAXII},
        )
        posted[oid] = (value, set(mods))
        sent_by[oid] = slugs[who % len(slugs)]
    # an id the hub refused outright (a reader's indicator: readers add feedback only) was never stored:
    # a refusal naming it (to its sender, or on a coordinator's list of refusals) reveals no object
    with sm() as session:
        stored = set(
            session.scalars(select(ObjectVersion.stix_id).where(ObjectVersion.stix_id.in_(list(posted))))
        )
    absent_id = f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, f'console-{n}-absent')}"
    absent_value = f"10.{n % 250}.250.77"

    for i, s in enumerate(slugs):
        ids, versions, count = _taxii_view(client, hdr[s], group, coll_ids)
        hidden_ids = {o for o in (set(posted) & stored) - ids if sent_by[o] != s}
        hidden_values = {posted[o][0] for o in hidden_ids}
        hidden_versions = {m for _v, ms in posted.values() for m in ms} - versions
        client.cookies.clear()
        assert sign_in(client, f"person@{s}").status_code == 303

        def get(path: str, _s: str = s) -> str:
            r = client.get(path)
            assert r.status_code < 500, (path, r.text)
            return r.text

        pages = {p: get(p) for p in ["/console/", "/console/downloads", "/console/keys", "/console/account"]}
        for f in ("blocklist.txt?kind=ip", "blocklist.csv", "bundle.json"):
            pages[f] = get(f"/console/download/{group}/{f}")
        if orgs[i][0] == "coordinator":
            for p in ("", "members", "audit", "collections", "feeds", "invitations"):
                pages[p] = get(f"/console/groups/{group}/{p}")
            versions = "object version" if count == 1 else "object versions"
            assert f"{count:,} {versions} you may read" in pages[""]
            # a push's count is shown only where the reader reads every object the push stored
            shown = [int(n) for by, n in PUSH_ROW.findall(pages["audit"]) if by != s]
            assert sum(shown) <= count, (s, shown, count)
        absent_page = get(f"/console/objects/{absent_id}")
        absent_search = get(f"/console/search?q={absent_value}")
        absent_explain = get(f"/console/groups/{group}/explain?object={absent_id}")
        for oid, (value, _mods) in posted.items():
            page = get(f"/console/objects/{oid}")
            found = get(f"/console/search?q={value}")
            explained = get(f"/console/groups/{group}/explain?object={oid}")
            if oid in hidden_ids:
                assert page == absent_page.replace(absent_id, oid)
                assert found == absent_search.replace(absent_value, value)
                assert explained == absent_explain.replace(absent_id, oid)
            else:
                pages[f"object {oid}"] = page
                pages[f"search {value}"] = found
        HIDDEN_SEEN[0] += bool(hidden_ids)
        for name, text in pages.items():
            for secret in hidden_ids | hidden_values | hidden_versions:
                assert secret not in text, f"{s} (TAXII: {sorted(ids)}) sees {secret} on {name}"
