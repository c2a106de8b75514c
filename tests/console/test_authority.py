"""The console's coordinator surfaces under issue 17's authority rules (observations 1 and 10)."""

from __future__ import annotations

import orjson
from sqlalchemy import update

from hub.policy.tlp import Tlp
from hub.trust.models import TrustGroup
from tests.console.conftest import csrf_of
from tests.factories import indicator


def test_the_recipients_form_does_not_let_a_coordinator_widen_a_members_collection(
    as_person, client, people, sm
):
    with sm() as s, s.begin():
        s.execute(update(TrustGroup).where(TrustGroup.slug == "africa").values(max_tlp=int(Tlp.RED)))
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/groups/africa/collections").text)
    r = c.post(
        "/console/groups/africa/collections",
        data={"csrf": csrf, "alias": "b-red", "kind": "named", "owner": "cert-b", "recipients": "cert-c"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "Only the owner" in r.text  # nor when it makes the collection
    r = c.post(
        "/console/groups/africa/collections",
        data={"csrf": csrf, "alias": "b-red", "kind": "named", "owner": "cert-b"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    refused = c.post(
        "/console/groups/africa/collections/b-red/recipients",
        data={"csrf": csrf, "recipients": "cert-a, vendor"},
    )
    assert refused.status_code == 403 and "Only the owner" in refused.text
    narrowed = c.post(
        "/console/groups/africa/collections/b-red/recipients", data={"csrf": csrf, "recipients": ""}
    )
    assert "The recipients were changed." in narrowed.text


def test_the_object_page_shows_a_reader_only_its_line_and_the_publishers(as_person, client, people):
    ind = indicator(41)
    posted = client.post(
        people.objects_url(), content=orjson.dumps({"objects": [ind]}), headers=people.post_headers("cert-b")
    )
    assert posted.status_code == 202
    page = as_person("cert-c").get(f"/console/objects/{ind['id']}")
    assert page.status_code == 200
    assert "cert-c, reader" in page.text and "cert-b, contributor" in page.text
    for hidden in ("vendor, reader", "cert-g, contributor", "cert-a, coordinator"):
        assert hidden not in page.text
    coordinator = as_person("cert-a").get(f"/console/objects/{ind['id']}")
    assert "vendor, reader" in coordinator.text and "cert-g, contributor" in coordinator.text


def test_the_owner_sees_its_collections_recipients_and_every_change_in_the_console(as_person, people):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/groups/africa/collections").text)
    data = {"csrf": csrf, "alias": "b-own", "kind": "named", "owner": "cert-b"}
    assert c.post("/console/groups/africa/collections", data=data, follow_redirects=False).status_code == 303
    owner = as_person("cert-b")  # a contributor of africa, not a coordinator
    page = owner.get("/console/groups/africa/collections")
    assert page.status_code == 200 and 'id="collection-b-own"' in page.text
    assert 'id="collection-indicators"' not in page.text and "Create collection" not in page.text
    r = owner.post(
        "/console/groups/africa/collections/b-own/recipients",
        data={"csrf": csrf_of(page.text), "recipients": "cert-c"},
    )
    assert "The recipients were changed." in r.text and 'value="cert-c"' in r.text
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/groups/africa/collections").text)
    c.post("/console/groups/africa/collections/b-own/recipients", data={"csrf": csrf, "recipients": ""})
    page = as_person("cert-b").get("/console/groups/africa/collections")
    assert "collection.update" in page.text and "cert-c → nobody" in page.text and "cert-a" in page.text
