"""The TLP rules as a TAXII client meets them: refusals with reasons, hidden objects, explanations, audit."""

from __future__ import annotations

from sqlalchemy import select

from hub.store.models import AuditEvent
from tests.factories import TLP, indicator
from tests.taxii_helpers import post


def ids(client, world, org, group="africa", alias="indicators", **params):
    r = client.get(
        world.objects_url(group, alias), params={"match[version]": "all", **params}, headers=world.auth(org)
    )
    return [o["id"] for o in r.json().get("objects", [])] if r.status_code == 200 else r.status_code


def test_red_is_refused_in_a_group_collection_with_a_reason(client, world):
    st = post(client, world, [indicator(1, tlp="red"), indicator(2, tlp="green")]).json()
    assert st["success_count"] == 1 and st["failure_count"] == 1
    assert st["failures"][0]["id"] == indicator(1)["id"]
    assert "TLP:RED is accepted only in named-recipient collections" in st["failures"][0]["message"]


def test_red_is_accepted_in_a_named_recipient_collection_and_seen_only_by_recipients(client, world):
    st = post(client, world, [indicator(1, tlp="red")], alias="a-to-b").json()
    assert st["success_count"] == 1
    assert ids(client, world, "cert-b", alias="a-to-b") == [indicator(1)["id"]]
    assert ids(client, world, "cert-c", alias="a-to-b") == 404


def test_created_by_ref_of_another_cirt_is_refused(client, world):
    forged = indicator(1, created_by_ref=world.identities["cert-b"])
    own = indicator(2, created_by_ref=world.identities["cert-a"])
    st = post(client, world, [forged, own]).json()
    assert st["success_count"] == 1
    assert "cannot publish as another" in st["failures"][0]["message"]


def test_amber_object_is_hidden_from_green_reader(client, world):
    post(client, world, [indicator(1, tlp="amber"), indicator(2, tlp="green"), indicator(3, tlp="clear")])
    assert sorted(ids(client, world, "vendor")) == sorted([indicator(2)["id"], indicator(3)["id"]])
    assert sorted(ids(client, world, "cert-c")) == sorted(indicator(i)["id"] for i in (1, 2, 3))
    url = world.objects_url() + indicator(1)["id"] + "/"
    assert client.get(url, headers=world.auth("vendor")).status_code == 404
    assert client.get(url + "versions/", headers=world.auth("vendor")).status_code == 404


def test_unmarked_objects_take_the_group_default(client, world):
    post(client, world, [indicator(1, tlp=None)])  # africa's default is amber
    assert ids(client, world, "vendor") == []
    assert ids(client, world, "cert-c") == [indicator(1)["id"]]


def test_producer_always_sees_its_own_objects(client, world, sm):
    from sqlalchemy import update

    from hub.trust.models import Membership, Organisation

    post(client, world, [indicator(1, tlp="amber+strict")], org="cert-b")
    with sm() as s, s.begin():
        org_id = s.scalar(select(Organisation.id).where(Organisation.slug == "cert-b"))
        s.execute(update(Membership).where(Membership.organisation_id == org_id).values(clearance=1))
    assert ids(client, world, "cert-b") == [indicator(1)["id"]]


def test_a_known_tlp_id_claiming_another_level_is_refused(client, world):
    liar = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": "TLP:GREEN",
        "definition": {"tlp": "red"},
    }
    obj = indicator(1, tlp=None, object_marking_refs=[liar["id"]])
    st = post(client, world, [liar, obj]).json()
    assert st["success_count"] == 0 and st["failure_count"] == 2
    assert all("marking refused" in f["message"] for f in st["failures"])


def test_opencti_white_id_with_clear_body_is_clear(client, world):
    opencti_white = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "TLP",
        "name": "TLP:CLEAR",
        "definition": {"TLP": "TLP:CLEAR"},
    }
    obj = indicator(1, tlp=None, object_marking_refs=[opencti_white["id"]])
    st = post(client, world, [opencti_white, obj]).json()
    assert st["success_count"] == 2, st["failures"]
    assert indicator(1)["id"] in ids(client, world, "vendor")


def test_granular_marked_optional_property_is_removed_for_low_clearance(client, world):
    obj = indicator(
        1,
        tlp="green",
        description="sensitive context",
        granular_markings=[{"marking_ref": TLP["amber"], "selectors": ["description"]}],
    )
    assert post(client, world, [obj]).json()["success_count"] == 1
    seen_by_vendor = client.get(world.objects_url(), headers=world.auth("vendor")).json()["objects"][0]
    assert "description" not in seen_by_vendor and "granular_markings" not in seen_by_vendor
    seen_by_c = client.get(world.objects_url(), headers=world.auth("cert-c")).json()["objects"][0]
    assert seen_by_c == obj


def test_granular_marked_required_property_withholds_the_object(client, world):
    obj = indicator(
        1, tlp="green", granular_markings=[{"marking_ref": TLP["amber"], "selectors": ["pattern"]}]
    )
    assert post(client, world, [obj]).json()["success_count"] == 1
    assert ids(client, world, "vendor") == []
    assert ids(client, world, "cert-c") == [obj["id"]]


def test_status_of_another_organisations_post_is_not_found(client, world):
    sid = post(client, world, [indicator(1)], org="cert-b").json()["id"]
    assert client.get(f"/taxii2/africa/status/{sid}/", headers=world.auth("cert-a")).status_code == 404


def test_pushes_pulls_refusals_and_deletes_are_audited(client, world, sm):
    post(client, world, [indicator(1), indicator(2, tlp="red")])
    ids(client, world, "cert-c")
    client.delete(world.objects_url() + indicator(1)["id"] + "/", headers=world.auth("cert-a"))
    with sm() as s:
        events = [(e.action, e.count) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert ("push", 1) in events and ("push-refused", 1) in events
    assert ("pull-objects", 1) in events and ("delete", 1) in events


def test_policy_explain_api_is_for_the_groups_coordinators(client, world):
    post(client, world, [indicator(1, tlp="amber")], org="cert-b")
    url = "/admin/api/groups/africa/policy/explain"
    r = client.get(
        url, params={"object": indicator(1)["id"], "reader": "vendor"}, headers=world.auth("cert-a")
    )
    assert r.status_code == 200
    text = r.json()["answers"][0]["text"]
    assert "may not see" in text and "TLP:AMBER" in text and "TLP:GREEN" in text
    r = client.get(url, params={"object": indicator(1)["id"], "to": "asia"}, headers=world.auth("cert-a"))
    assert "never leaves" in r.json()["answers"][0]["text"]
    r = client.get(
        url, params={"object": indicator(1)["id"], "reader": "vendor"}, headers=world.auth("cert-b")
    )
    assert r.status_code == 403
    r = client.get(
        "/admin/api/groups/asia/policy/explain",
        params={"object": indicator(1)["id"], "reader": "vendor"},
        headers=world.auth("cert-c"),
    )
    assert (
        r.status_code == 400
    )  # cert-c coordinates asia, and the object is not there: it learns nothing else


def test_policy_explain_api_reveals_nothing_above_the_coordinators_clearance(client, world, sm):
    from sqlalchemy import update

    from hub.trust.models import Membership, Organisation

    post(client, world, [indicator(1, tlp="amber")], org="cert-b")
    with sm() as s, s.begin():
        org_id = s.scalar(select(Organisation.id).where(Organisation.slug == "cert-a"))
        s.execute(update(Membership).where(Membership.organisation_id == org_id).values(clearance=1))
    r = client.get(
        "/admin/api/groups/africa/policy/explain",
        params={"object": indicator(1)["id"], "reader": "vendor"},
        headers=world.auth("cert-a"),
    )
    assert r.status_code == 400 and "no object" in r.json()["description"]


def test_policy_explain_cli(client, world, sm, engine, db_url, monkeypatch):
    from typer.testing import CliRunner

    from hub.cli import app

    post(client, world, [indicator(1, tlp="green")], org="cert-b")
    # the CLI opens its own connection: commit the data it must see on this test's database
    with sm() as s, s.begin():
        pass
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setattr("hub.cli.make_sessionmaker", lambda _engine: sm)
    r = CliRunner().invoke(app, ["policy", "explain", "--object", indicator(1)["id"], "--reader", "vendor"])
    assert r.exit_code == 0, r.output
    assert "vendor may see" in r.output
    r = CliRunner().invoke(app, ["policy", "explain", "--object", indicator(1)["id"], "--export"])
    assert "may not go to export" in r.output


def test_policy_explain_names_the_publisher_and_a_member_author(client, world):
    post(client, world, [indicator(2, created_by_ref=world.identities["cert-b"])], org="cert-b")
    r = client.get(
        "/admin/api/groups/africa/policy/explain",
        params={"object": indicator(2)["id"], "reader": "vendor"},
        headers=world.auth("cert-a"),
    )
    text = r.json()["answers"][0]["text"]
    assert "Published in the hub by cert-b" in text
    assert f"is authored by member cert-b ({world.identities['cert-b']})" in text
