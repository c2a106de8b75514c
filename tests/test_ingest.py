"""Provenance and integrity through HTTP: what a CIRT publishes stays its own, and nothing hidden shows.

Each test replays one way a member holding an ordinary contributor key tried to turn the write path
against another CIRT (hub/policy/README.md, the threat model), on SQLite and PostgreSQL. In the test
world cert-a coordinates africa, cert-b contributes there (cleared AMBER+STRICT), cert-g contributes
cleared only GREEN, the vendor reads at GREEN; asia shares africa's community, global does not.
"""

from __future__ import annotations

import base64
import struct
import uuid
from typing import Any

from sqlalchemy import select

from hub.stix import timestamp_us
from hub.store.tables import ObjectOwner
from hub.store.tables import ObjectVersion as OV
from tests.factories import TLP, indicator
from tests.taxii_helpers import post_ok


def get(client, world, org, object_id=None, group="africa", alias="indicators", suffix="", **params):
    url = world.objects_url(group, alias) + (f"{object_id}/{suffix}" if object_id else "")
    return client.get(url, params=params, headers=world.auth(org))


def objects(client, world, org, object_id=None, **kw) -> list[dict[str, Any]]:
    r = get(client, world, org, object_id, **kw)
    return r.json().get("objects", []) if r.status_code == 200 else []


def messages(status: dict[str, Any]) -> dict[str, str]:
    return {e["id"]: e["message"] for e in status.get("successes", []) + status.get("failures", [])}


def marking(n: int, level: str, created: str = "2024-01-01T00:00:00.000Z") -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid5(uuid.NAMESPACE_URL, f'marking {n}')}",
        "created": created,
        "definition_type": "tlp",
        "name": f"custom {level}",
        "definition": {"tlp": level},
    }


# ------------------------------------------------------------------ 1, 6: marking definitions


def test_a_marking_definition_cannot_be_redefined_by_another_member(client, world):
    m = marking(1, "amber")
    secret = indicator(1, tlp="green", description="the secret part")
    secret["granular_markings"] = [{"marking_ref": m["id"], "selectors": ["description"]}]
    assert post_ok(client, world, [m, secret])["success_count"] == 2
    # cert-b sees the definition (africa's default AMBER is within its clearance): refused with a reason
    lie = marking(1, "clear", created="2025-01-01T00:00:00.000Z")
    st = post_ok(client, world, [lie, indicator(2, tlp=None, object_marking_refs=[m["id"]])], org="cert-b")
    assert "never versioned" in messages(st)[m["id"]]
    assert "refused" in messages(st)[indicator(2)["id"]]
    # the vendor (GREEN) still never reads the AMBER description, and nothing went public
    [seen] = objects(client, world, "vendor", secret["id"])
    assert "description" not in seen
    assert objects(client, world, "vendor", indicator(2)["id"]) == []


def test_a_hidden_marking_definition_reposted_changes_nothing_and_answers_as_absent(client, world):
    m = marking(2, "amber")
    secret = indicator(3, tlp="green", description="amber words")
    secret["granular_markings"] = [{"marking_ref": m["id"], "selectors": ["description"]}]
    post_ok(client, world, [m, secret])
    # cert-g (GREEN) cannot see the AMBER-by-default definition: its redefinition is "stored", privately
    lie = marking(2, "clear", created="2025-01-01T00:00:00.000Z")
    absent = marking(99, "clear")
    st = post_ok(client, world, [lie, absent], org="cert-g")
    assert messages(st) == {lie["id"]: "stored", absent["id"]: "stored"}
    [seen] = objects(client, world, "vendor", secret["id"])
    assert "description" not in seen
    # only the redefining organisation reads its private copy; the record keeps the first definition
    assert objects(client, world, "cert-g", lie["id"]) == [lie]
    assert objects(client, world, "cert-c", lie["id"]) == [m]


def test_a_refused_definition_classifies_nothing_and_its_objects_are_refused(client, world):
    bad = marking(3, "clear")
    del bad["created"]
    obj = indicator(4, tlp=None, object_marking_refs=[bad["id"]])
    st = post_ok(client, world, [bad, obj])
    assert st["success_count"] == 0 and st["failure_count"] == 2
    assert "refused" in messages(st)[obj["id"]]
    assert objects(client, world, "vendor", obj["id"]) == []


# ------------------------------------------------------------------ 2, 3, 4: ownership


def test_only_the_first_publisher_adds_versions(client, world):
    mine = indicator(10, tlp="green")
    post_ok(client, world, [mine])
    takeover = indicator(
        10, tlp="green", modified="2025-01-01T00:00:00.000Z", pattern="[url:value = 'http://x.example/']"
    )
    st = post_ok(client, world, [takeover], org="cert-b")
    assert "only its publisher adds versions" in messages(st)[mine["id"]]
    for reader in ("cert-a", "cert-b", "cert-c", "vendor"):
        assert objects(client, world, reader, mine["id"]) == [mine], reader
    # the owner itself versions it freely
    newer = indicator(10, tlp="green", modified="2025-02-01T00:00:00.000Z")
    assert messages(post_ok(client, world, [newer]))[mine["id"]] == "stored"
    assert objects(client, world, "cert-c", mine["id"]) == [newer]


def test_ownership_ignores_the_spelling_of_an_id(client, world):
    mine = indicator(11, tlp="green")
    post_ok(client, world, [mine])
    shout = dict(mine, id="indicator--" + mine["id"].split("--")[1].upper(), name="rewritten")
    st = post_ok(client, world, [shout], org="cert-b")
    assert "only its publisher adds versions" in messages(st)[shout["id"]]


def test_a_stored_version_changed_in_place_is_refused(client, world):
    post_ok(client, world, [indicator(12)])
    st = post_ok(client, world, [indicator(12, name="changed without a new modified")])
    assert "already stored with other content" in messages(st)[indicator(12)["id"]]
    assert objects(client, world, "cert-c", indicator(12)["id"]) == [indicator(12)]


def test_a_members_identity_is_published_only_by_that_member(client, world):
    fake = {
        "type": "identity",
        "spec_version": "2.1",
        "id": world.identities["cert-a"],
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2030-01-01T00:00:00.000Z",
        "name": "CERT-A (now run by someone else)",
        "identity_class": "organization",
    }
    st = post_ok(client, world, [fake], org="cert-b")
    assert "only that organisation publishes its identity" in messages(st)[fake["id"]]
    assert objects(client, world, "cert-c", fake["id"]) == []
    assert messages(post_ok(client, world, [fake], org="cert-a"))[fake["id"]] == "stored"


def test_another_members_identity_as_author_is_refused_a_third_party_is_kept(client, world):
    forged = indicator(13, created_by_ref=world.identities["cert-a"])
    vendor = indicator(14, created_by_ref="identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
    st = post_ok(client, world, [forged, vendor], org="cert-b")
    assert "cannot publish as another" in messages(st)[forged["id"]]
    assert messages(st)[vendor["id"]] == "stored"
    assert objects(client, world, "cert-c", vendor["id"]) == [vendor]


def sco(note: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
        "value": "198.51.100.3",
    }
    if note:
        obj["x_note"] = note
    return obj


def test_an_sco_posted_first_by_another_member_never_stands_in_for_yours(client, world):
    assert messages(post_ok(client, world, [sco("planted")], org="cert-b"))[sco()["id"]] == "stored"
    st = post_ok(client, world, [sco()], org="cert-a")
    assert messages(st)[sco()["id"]] == "stored"  # not "already stored": that content is not cert-a's
    for reader in ("cert-a", "cert-c"):
        copies = objects(client, world, reader, sco()["id"])
        assert sco() in copies and sco("planted") in copies, reader
    # a re-post of one's own copy is the one thing told "already stored"
    assert messages(post_ok(client, world, [sco()], org="cert-a"))[sco()["id"]] == "already stored"


# ------------------------------------------------------------------ 5: existence oracles


def test_reposting_a_hidden_object_answers_exactly_as_an_absent_one(client, world):
    hidden = indicator(20, tlp="amber+strict")
    post_ok(client, world, [hidden])
    guess = dict(hidden, name="guessed", object_marking_refs=[TLP["green"]])
    absent = indicator(21, tlp="green")
    st = post_ok(client, world, [guess, absent], org="cert-g")
    assert messages(st) == {hidden["id"]: "stored", absent["id"]: "stored"}
    st = post_ok(client, world, [guess, absent], org="cert-g")
    assert messages(st) == {hidden["id"]: "already stored", absent["id"]: "already stored"}
    # cert-g reads back its own content, as it would had the id been free; nobody else ever does
    assert objects(client, world, "cert-g", hidden["id"]) == [guess]
    assert objects(client, world, "cert-c", hidden["id"]) == [hidden]
    assert objects(client, world, "vendor", hidden["id"]) == []
    assert get(client, world, "vendor", hidden["id"]).status_code == 404


def test_date_added_spacing_counts_no_hidden_objects(client, world):
    mixed = [indicator(30, tlp="green"), indicator(31, tlp="amber"), indicator(32, tlp="amber+strict")]
    mixed += [indicator(33, tlp="amber"), indicator(34, tlp="green"), indicator(35, tlp="clear")]
    post_ok(client, world, mixed)
    post_ok(client, world, [indicator(36, tlp="green")])
    entries = get(client, world, "vendor", suffix="", limit=100).json()["objects"]
    r = client.get(world.objects_url().replace("objects/", "manifest/"), headers=world.auth("vendor"))
    added = [e["date_added"] for e in r.json()["objects"]]
    assert len(entries) == 4
    # the vendor's three objects of the first envelope lie one microsecond apart: no gap for hidden ones
    us = [timestamp_us(a, "date_added") for a in added[:3]]
    assert us[1] - us[0] == 1 and us[2] - us[1] == 1


def test_next_tokens_carry_no_readable_sequence(client, world, session):
    post_ok(client, world, [indicator(40 + i, tlp="green") for i in range(3)])
    first = get(client, world, "vendor", limit=1).json()
    again = get(client, world, "vendor", limit=1).json()
    assert first["next"] != again["next"]  # a fresh nonce each time: nothing to compare
    seq = session.scalar(select(OV.seq).where(OV.stix_id == first["objects"][0]["id"]))
    raw = base64.urlsafe_b64decode(first["next"] + "==")
    assert struct.pack(">q", seq) not in raw
    tampered = first["next"][:-2] + ("A" if first["next"][-2] != "A" else "B") + first["next"][-1]
    assert get(client, world, "vendor", limit=1, next=tampered).status_code == 400
    assert get(client, world, "vendor", limit=1, next=first["next"]).status_code == 200


def test_an_unparsable_selector_is_refused_at_the_door(client, world):
    obj = indicator(50, tlp="green", description="x")
    obj["granular_markings"] = [{"marking_ref": TLP["amber"], "selectors": ["description..x"]}]
    st = post_ok(client, world, [obj])
    assert "not a STIX 2.1 selector" in messages(st)[obj["id"]]
    assert get(client, world, "vendor", obj["id"]).status_code == 404
    assert get(client, world, "cert-a", obj["id"]).status_code == 404


# ------------------------------------------------------------------ 7, 8: canonical refs, bundles


def test_non_canonical_tlp_ids_are_refused(client, world):
    red1 = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
    cases = [red1.upper().replace("MARKING-DEFINITION", "marking-definition"), TLP["red"].upper(), red1 + " "]
    objs = [indicator(60 + i, tlp=None, object_marking_refs=[ref]) for i, ref in enumerate(cases)]
    st = post_ok(client, world, objs)
    assert st["failure_count"] == 3
    assert all("canonical marking-definition identifier" in f["message"] for f in st["failures"])
    assert objects(client, world, "cert-c") == []


def test_a_bundle_inside_an_envelope_is_refused(client, world):
    nested = {
        "type": "bundle",
        "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982",
        "spec_version": "2.1",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "object_marking_refs": [TLP["clear"]],
        "objects": [indicator(70, tlp="red")],
    }
    st = post_ok(client, world, [nested, indicator(71, tlp="green")])
    assert "a bundle is not a STIX object" in messages(st)[nested["id"]]
    assert [o["id"] for o in objects(client, world, "vendor")] == [indicator(71)["id"]]


# ------------------------------------------------------------------ 11: originator control


def test_an_object_brought_into_another_group_follows_the_rule_of_its_first_group(client, world):
    green, amber, clear = indicator(80, tlp="green"), indicator(81, tlp="amber"), indicator(82, tlp="clear")
    post_ok(client, world, [green, amber, clear])  # cert-a, in africa (community south)
    # cert-b read them in africa and re-posts them unchanged into global (community north)
    st = post_ok(client, world, [green, amber, clear], org="cert-b", group="global")
    msgs = messages(st)
    assert msgs[clear["id"]] == "stored"
    assert "originator control" in msgs[green["id"]]
    # the AMBER one is above global's ceiling anyway; into asia (same community) it is still refused
    st = post_ok(client, world, [green, amber], org="cert-c", group="asia")
    assert messages(st)[green["id"]] == "stored"
    assert "originator control" in messages(st)[amber["id"]]
    # its publisher shares its own object wherever the collection accepts it
    own = indicator(83, tlp="green")
    post_ok(client, world, [own], org="cert-b")
    assert messages(post_ok(client, world, [own], org="cert-b", group="global"))[own["id"]] == "stored"


def test_the_first_publisher_is_recorded_as_owner(client, world, session):
    post_ok(client, world, [indicator(90)], org="cert-b")
    post_ok(client, world, [indicator(90)], org="cert-a")
    owner = session.get(ObjectOwner, indicator(90)["id"])
    assert owner is not None
    from hub.trust.models import Organisation

    assert session.get(Organisation, owner.organisation_id).slug == "cert-b"
