"""The object page's data: latest visible version, redaction, versions, collections, audience."""

from __future__ import annotations

from hub.lookup.objects import object_view
from hub.policy.tlp import Tlp
from tests.factories import TLP
from tests.lookup.helpers import SHA256, file_sco, pattern_indicator, principal_of, sco
from tests.taxii_helpers import store


def test_object_view_shows_latest_visible_version_with_publisher_and_tlp(client, world, sm):
    v1 = pattern_indicator("[domain-name:value = 'a.example']", seed="o1")
    v2 = pattern_indicator(
        "[domain-name:value = 'b.example']", seed="o1", modified="2024-03-01T00:00:00.000Z"
    )
    v3 = pattern_indicator(
        "[domain-name:value = 'c.example']", seed="o1", modified="2024-04-01T00:00:00.000Z", tlp="amber"
    )
    store(client, world, [v1])
    store(client, world, [v2])
    store(client, world, [v3])
    with sm() as s, s.begin():
        vendor = object_view(s, principal_of(sm, world, "vendor"), v1["id"])
        cert_c = object_view(s, principal_of(sm, world, "cert-c"), v1["id"])
    assert vendor is not None and cert_c is not None
    assert vendor.version == v2["modified"] and vendor.object["pattern"] == v2["pattern"]
    assert vendor.tlp == Tlp.GREEN and vendor.publisher == "CERT-A" and vendor.publisher_slug == "cert-a"
    # versions the reader may see, never the hidden AMBER one
    assert [v.version for v in vendor.versions] == [v2["modified"], v1["modified"]]
    assert cert_c.version == v3["modified"] and cert_c.tlp == Tlp.AMBER
    assert [v.version for v in cert_c.versions] == [v3["modified"], v2["modified"], v1["modified"]]
    assert [p.collection for p in vendor.collections] == ["indicators"]
    assert b"c.example" not in repr(vendor).encode()


def test_hidden_and_absent_objects_are_both_none(client, world, sm):
    amber = sco("ipv4-addr", "192.0.2.1", tlp="amber")
    store(client, world, [amber])
    with sm() as s, s.begin():
        vendor = principal_of(sm, world, "vendor")
        assert object_view(s, vendor, amber["id"]) is None
        assert object_view(s, vendor, "ipv4-addr--00000000-0000-4000-8000-000000000000") is None
        assert object_view(s, principal_of(sm, world, "outsider"), amber["id"]) is None
        assert object_view(s, vendor, "") is None and object_view(s, vendor, "x" * 400) is None
        assert object_view(s, principal_of(sm, world, "cert-c"), amber["id"]) is not None


def test_optional_content_above_clearance_is_redacted_as_taxii_does(client, world, sm):
    f = file_sco(
        {"SHA-256": SHA256}, name="tool.exe",
        granular_markings=[{"marking_ref": TLP["amber"], "selectors": ["hashes"]}],
    )  # fmt: skip
    store(client, world, [f])
    r = client.get(world.objects_url() + f["id"] + "/", headers=world.auth("vendor"))
    taxii_copy = r.json()["objects"][0]
    with sm() as s, s.begin():
        view = object_view(s, principal_of(sm, world, "vendor"), f["id"])
        full = object_view(s, principal_of(sm, world, "cert-c"), f["id"])
    assert view is not None and full is not None
    assert view.redacted and view.object == taxii_copy and "hashes" not in view.object
    assert SHA256.encode() not in view.body
    assert SHA256 not in repr(view.audience)  # the explanation names no removed property either
    assert "hashes" not in " ".join(d.explanation for a in view.audience for d in a.decisions)
    assert not full.redacted and full.object["hashes"] == {"SHA-256": SHA256}


def test_audience_lists_the_groups_members_with_their_decision(client, world, sm):
    ind = pattern_indicator("[url:value = 'http://x.example/']", tlp="amber")
    store(client, world, [ind])
    with sm() as s, s.begin():
        view = object_view(s, principal_of(sm, world, "cert-c"), ind["id"])
    assert view is not None
    [aud] = view.audience
    decisions = {d.organisation: d for d in aud.decisions}
    # cert-c reads africa: it sees its own line and the publisher's, not the group's roles and clearances
    assert set(decisions) == {"cert-a", "cert-c"}
    assert decisions["cert-c"].allowed and decisions["cert-c"].clearance == Tlp.AMBER_STRICT
    assert decisions["cert-a"].allowed  # the publisher
    with sm() as s, s.begin():
        view = object_view(s, principal_of(sm, world, "cert-a"), ind["id"])  # africa's coordinator
    assert view is not None
    decisions = {d.organisation: d for d in view.audience[0].decisions}
    assert set(decisions) == {"cert-a", "cert-b", "cert-c", "vendor", "cert-g"}  # africa's members only
    assert not decisions["vendor"].allowed and "GREEN" in decisions["vendor"].explanation


def test_named_collection_audience_names_no_other_recipient(client, world, sm):
    obj = sco("domain-name", "secret.example", tlp="red")
    store(client, world, [obj], alias="a-to-b")
    with sm() as s, s.begin():
        recipient = object_view(s, principal_of(sm, world, "cert-b"), obj["id"])
        owner = object_view(s, principal_of(sm, world, "cert-a"), obj["id"])
    assert recipient is not None and owner is not None
    assert {d.organisation for d in recipient.audience[0].decisions} == {"cert-a", "cert-b"}
    assert recipient.tlp == Tlp.RED and recipient.collections[0].kind == "named"
    owner_view = {d.organisation: d.allowed for d in owner.audience[0].decisions}
    assert owner_view["cert-b"] and not owner_view["cert-c"]


def test_author_is_named_only_when_the_reader_may_see_the_identity(client, world, sm):
    ident = {
        "type": "identity", "spec_version": "2.1", "id": "identity--1f2a0d36-5a4c-4a5e-9d35-58b0c6e8f001",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": "Upstream Vendor", "identity_class": "organization", "object_marking_refs": [TLP["amber"]],
    }  # fmt: skip
    ind = pattern_indicator("[domain-name:value = 'authored.example']", created_by_ref=ident["id"])
    own = pattern_indicator("[domain-name:value = 'own.example']", created_by_ref=world.identities["cert-a"])
    store(client, world, [ident, ind, own])
    with sm() as s, s.begin():
        c = object_view(s, principal_of(sm, world, "cert-c"), ind["id"])
        v = object_view(s, principal_of(sm, world, "vendor"), ind["id"])
        o = object_view(s, principal_of(sm, world, "vendor"), own["id"])
    assert c is not None and v is not None and o is not None
    assert c.author == "Upstream Vendor" and c.author_ref == ident["id"]
    assert v.author is None and v.author_ref == ident["id"]
    assert o.author == "CERT-A"


def test_object_in_two_groups_lists_both_collections(client, world, sm):
    obj = sco("domain-name", "twice.example")
    store(client, world, [obj])
    store(client, world, [obj], org="cert-c", group="asia")
    with sm() as s, s.begin():
        view = object_view(s, principal_of(sm, world, "cert-a"), obj["id"])
    assert view is not None
    assert [(p.group, p.collection) for p in view.collections] == [
        ("africa", "indicators"),
        ("asia", "indicators"),
    ]
    assert {a.group for a in view.audience} == {"africa", "asia"}
    # the asia copy is cert-c's; its audience lists asia's members only
    asia = next(a for a in view.audience if a.group == "asia")
    assert {d.organisation for d in asia.decisions} == {"cert-a", "cert-c"}
