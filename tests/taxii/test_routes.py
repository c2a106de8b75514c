"""TAXII 2.1 endpoints through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.factories import TAXII, indicator
from tests.taxii_helpers import post


def test_discovery_lists_only_the_callers_api_roots(client, world):
    r = client.get("/taxii2/", headers=world.auth("cert-b"))
    assert r.status_code == 200
    assert r.headers["content-type"] == TAXII
    assert r.json()["api_roots"] == ["http://hub.test/taxii2/africa/", "http://hub.test/taxii2/global/"]
    assert client.get("/taxii2/", headers=world.auth("outsider")).json().get("api_roots") is None


def test_missing_credentials_is_401_with_www_authenticate(client, world):
    r = client.get("/taxii2/", headers={"Accept": TAXII})
    assert r.status_code == 401
    assert "Bearer" in r.headers["www-authenticate"]
    assert r.json()["http_status"] == "401"


def test_wrong_key_is_401(client, world):
    bad = world.keys["cert-a"][:-4] + "AAAA"
    assert client.get("/taxii2/", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    assert client.get("/taxii2/", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_basic_auth_takes_the_key_as_password(client, world):
    token = base64.b64encode(f"anyone:{world.keys['cert-a']}".encode()).decode()
    r = client.get("/taxii2/africa/", headers={"Authorization": f"Basic {token}", "Accept": TAXII})
    assert r.status_code == 200
    assert r.json()["versions"] == [TAXII]


def test_api_root_of_a_group_the_caller_is_not_in_is_403_unknown_is_404(client, world):
    assert client.get("/taxii2/asia/", headers=world.auth("cert-b")).status_code == 403
    assert client.get("/taxii2/nowhere/", headers=world.auth("cert-b")).status_code == 404


def test_collections_reflect_role(client, world):
    colls = {
        c["alias"]: c
        for c in client.get("/taxii2/africa/collections/", headers=world.auth("cert-c")).json()["collections"]
    }
    assert colls["indicators"]["can_read"] and not colls["indicators"]["can_write"]
    assert "a-to-b" not in colls  # named-recipient collections are shown only to those they name
    colls = {
        c["alias"]: c
        for c in client.get("/taxii2/africa/collections/", headers=world.auth("cert-b")).json()["collections"]
    }
    assert colls["indicators"]["can_write"]
    assert colls["a-to-b"]["can_read"] and not colls["a-to-b"]["can_write"]


def test_unknown_collection_is_404_and_a_readers_post_stores_feedback_only(client, world):
    r = client.get(
        "/taxii2/africa/collections/00000000-0000-0000-0000-000000000000/", headers=world.auth("cert-a")
    )
    assert r.status_code == 404
    # a reader posts feedback (sightings, opinions, notes: hub.feedback) and nothing else
    r = post(client, world, [indicator(1)], org="cert-c")
    assert r.status_code == 202 and r.json()["failure_count"] == 1 and r.json()["success_count"] == 0
    assert "only feedback" in r.json()["failures"][0]["message"]


def test_named_collection_is_404_to_organisations_it_does_not_name(client, world):
    url = world.objects_url("africa", "a-to-b")
    assert client.get(url, headers=world.auth("cert-c")).status_code == 404


def test_post_then_get_round_trips_content(client, world):
    objs = [indicator(i) for i in range(5)]
    r = post(client, world, objs)
    assert r.status_code == 202
    status = r.json()
    assert status["success_count"] == 5 == len(status["successes"])
    assert status["failure_count"] == 0 and status["pending_count"] == 0
    assert "failures" not in status and "pendings" not in status  # TAXII 2.1: no empty lists
    got = client.get(world.objects_url(), headers=world.auth("cert-b")).json()["objects"]
    assert got == objs


def test_status_is_visible_only_to_the_submitter(client, world):
    sid = post(client, world, [indicator(1)]).json()["id"]
    assert client.get(f"/taxii2/africa/status/{sid}/", headers=world.auth("cert-a")).json()["id"] == sid
    assert client.get(f"/taxii2/africa/status/{sid}/", headers=world.auth("cert-b")).status_code == 404


def test_mixed_envelope_keeps_valid_objects_and_explains_failures(client, world):
    bad_id = indicator(2, id="indicator--not-a-uuid")
    no_spec = indicator(3)
    del no_spec["spec_version"]
    bad_pattern = indicator(4, pattern="[ipv4-addr:value = '1.2.3.4'")
    r = post(client, world, [indicator(1), bad_id, no_spec, bad_pattern, "a string", {"type": "x"}])
    st = r.json()
    assert st["success_count"] == 1
    assert st["failure_count"] == 5 == len(st["failures"])
    messages = " ".join(f["message"] for f in st["failures"])
    assert "UUID" in messages and "spec_version" in messages and "pattern" in messages
    assert len(client.get(world.objects_url(), headers=world.auth("cert-a")).json()["objects"]) == 1


def test_a_bundle_posted_as_stix2_sinks_do_is_read_as_an_envelope(client, world):
    bundle = {
        "type": "bundle",
        "id": "bundle--5d0b3c4e-6a57-4c55-9f0e-7c1f0f1a2b3c",
        "objects": [indicator(1)],
    }
    r = client.post(world.objects_url(), content=orjson.dumps(bundle), headers=world.post_headers("cert-a"))
    assert r.status_code == 202 and r.json()["success_count"] == 1


def test_reposting_the_same_version_is_idempotent(client, world):
    post(client, world, [indicator(1)])
    r = post(client, world, [indicator(1)])
    assert r.json()["success_count"] == 1
    assert r.json()["successes"][0]["message"] == "already stored"
    man = client.get(
        world.objects_url().replace("objects/", "manifest/"), headers=world.auth("cert-a")
    ).json()
    assert len(man["objects"]) == 1


def test_versions_order_and_match_version(client, world):
    v1, v2, v3 = (indicator(1, modified=f"2024-0{m}-01T00:00:00.000Z") for m in (1, 2, 3))
    post(client, world, [v3, v1])
    post(client, world, [v2])
    url = world.objects_url()
    h = world.auth("cert-a")
    assert [o["modified"] for o in client.get(url, headers=h).json()["objects"]] == [v3["modified"]]
    first = client.get(url, params={"match[version]": "first"}, headers=h).json()["objects"]
    assert [o["modified"] for o in first] == [v1["modified"]]
    every = client.get(url, params={"match[version]": "all"}, headers=h).json()["objects"]
    assert sorted(o["modified"] for o in every) == [v1["modified"], v2["modified"], v3["modified"]]
    both = client.get(url, params={"match[version]": "first,last"}, headers=h).json()["objects"]
    assert len(both) == 2
    exact = client.get(url, params={"match[version]": v2["modified"]}, headers=h).json()["objects"]
    assert [o["modified"] for o in exact] == [v2["modified"]]
    vers = client.get(f"{url}{v1['id']}/versions/", headers=h).json()["versions"]
    assert sorted(vers) == [v1["modified"], v2["modified"], v3["modified"]]


def test_match_id_type_and_spec_version(client, world):
    ident = {
        "type": "identity",
        "spec_version": "2.1",
        "id": "identity--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "x",
        "object_marking_refs": [indicator(0)["object_marking_refs"][0]],
    }
    post(client, world, [indicator(1), indicator(2), ident])
    url, h = world.objects_url(), world.auth("cert-a")
    r = client.get(url, params={"match[type]": "identity"}, headers=h).json()["objects"]
    assert [o["id"] for o in r] == [ident["id"]]
    ids = f"{indicator(1)['id']},{ident['id']}"
    assert len(client.get(url, params={"match[id]": ids}, headers=h).json()["objects"]) == 2
    assert len(client.get(url, params={"match[spec_version]": "2.1"}, headers=h).json()["objects"]) == 3
    assert client.get(url, params={"match[spec_version]": "2.0"}, headers=h).json() == {"more": False}


def test_added_after_is_exclusive(client, world):
    post(client, world, [indicator(1), indicator(2), indicator(3)])
    url, h = world.objects_url(), world.auth("cert-a")
    r = client.get(url, params={"limit": 1}, headers=h)
    first = r.headers["X-TAXII-Date-Added-First"]
    rest = client.get(url, params={"added_after": first}, headers=h).json()["objects"]
    assert [o["id"] for o in rest] == [indicator(2)["id"], indicator(3)["id"]]


def test_pagination_covers_everything_once_and_more_comes_with_next(client, world):
    objs = [indicator(i) for i in range(23)]
    post(client, world, objs)
    seen, params, pages = [], {"limit": 5}, 0
    for endpoint, key in (("objects/", "objects"), ("manifest/", "objects")):
        seen, params, pages = [], {"limit": 5}, 0
        while True:
            body = client.get(
                world.objects_url().replace("objects/", endpoint), params=params, headers=world.auth("cert-a")
            ).json()
            seen += [o["id"] for o in body.get(key, [])]
            pages += 1
            if not body.get("more"):
                assert "next" not in body
                break
            assert body["next"]
            params = {"limit": 5, "next": body["next"]}
        assert seen == [o["id"] for o in objs]
        assert pages == 5


def test_versions_endpoint_pages_with_next(client, world):
    post(client, world, [indicator(1, modified=f"2024-01-{d:02d}T00:00:00.000Z") for d in range(1, 8)])
    url = f"{world.objects_url()}{indicator(1)['id']}/versions/"
    body = client.get(url, params={"limit": 3}, headers=world.auth("cert-a")).json()
    assert body["more"] is True and body["next"] and len(body["versions"]) == 3


def test_empty_page_has_no_date_added_headers(client, world):
    r = client.get(world.objects_url(), headers=world.auth("cert-a"))
    assert r.status_code == 200
    assert "X-TAXII-Date-Added-First" not in r.headers
    assert r.json() == {"more": False}


def test_get_one_object_and_unknown_object_is_404(client, world):
    post(client, world, [indicator(1)])
    url = world.objects_url() + indicator(1)["id"] + "/"
    assert client.get(url, headers=world.auth("cert-a")).json()["objects"][0]["id"] == indicator(1)["id"]
    assert (
        client.get(world.objects_url() + indicator(9)["id"] + "/", headers=world.auth("cert-a")).status_code
        == 404
    )


def test_delete_object_contributor_own_only_coordinator_any(client, world):
    post(client, world, [indicator(1)], org="cert-b")
    post(client, world, [indicator(2)], org="cert-a")
    url = world.objects_url()
    assert client.delete(url + indicator(2)["id"] + "/", headers=world.auth("cert-b")).status_code == 404
    assert client.delete(url + indicator(1)["id"] + "/", headers=world.auth("cert-a")).status_code == 200
    assert client.get(url + indicator(1)["id"] + "/", headers=world.auth("cert-a")).status_code == 404
    assert client.get(url + indicator(2)["id"] + "/", headers=world.auth("cert-a")).status_code == 200


@pytest.mark.parametrize("accept", ["application/json", "text/html", "application/taxii+json;version=2.0"])
def test_unacceptable_accept_is_406(client, world, accept):
    r = client.get("/taxii2/", headers={**world.auth("cert-a"), "Accept": accept})
    assert r.status_code == 406
    assert r.headers["content-type"] == TAXII


def test_wrong_content_type_is_415(client, world):
    r = client.post(
        world.objects_url(),
        content=b'{"objects":[]}',
        headers={**world.auth("cert-a"), "Content-Type": "application/json"},
    )
    assert r.status_code == 415


def test_body_over_the_limit_is_413(client, world, settings):
    big = b'{"objects":["' + b"x" * (settings.max_content_length + 10) + b'"]}'
    r = client.post(world.objects_url(), content=big, headers=world.post_headers("cert-a"))
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"type":"bundle","id":"bundle--1","objects":{}}', "bundle"),
        (b"[1,2]", "envelope"),
        (b'{"objects":{"a":1}}', "objects"),
        (b"", "JSON"),
    ],
)
def test_malformed_bodies_are_400_with_a_reason(client, world, body, needle):
    r = client.post(world.objects_url(), content=body, headers=world.post_headers("cert-a"))
    assert r.status_code == 400
    assert needle in r.json()["description"]


@pytest.mark.parametrize("limit", ["-1", "0", "abc", "1.5"])
def test_bad_limit_is_400(client, world, limit):
    assert (
        client.get(world.objects_url(), params={"limit": limit}, headers=world.auth("cert-a")).status_code
        == 400
    )


def test_huge_limit_is_capped(client, world, settings):
    post(client, world, [indicator(i) for i in range(3)])
    r = client.get(world.objects_url(), params={"limit": str(10**9)}, headers=world.auth("cert-a"))
    assert r.status_code == 200 and len(r.json()["objects"]) == 3


@pytest.mark.parametrize(
    "token", ["garbage", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "' OR 1=1 --", "x" * 5000]
)
def test_next_token_forged_is_400(client, world, token):
    r = client.get(world.objects_url(), params={"next": token}, headers=world.auth("cert-a"))
    assert r.status_code == 400
    assert "next" in r.json()["description"]


@pytest.mark.parametrize(
    "value", ["' OR '1'='1", "indicator--x'); DROP TABLE object_versions; --", '{"$ne": null}']
)
def test_injection_in_match_id_finds_nothing_and_harms_nothing(client, world, value):
    post(client, world, [indicator(1)])
    r = client.get(world.objects_url(), params={"match[id]": value}, headers=world.auth("cert-a"))
    assert r.status_code == 200 and r.json() == {"more": False}
    assert len(client.get(world.objects_url(), headers=world.auth("cert-a")).json()["objects"]) == 1


def test_bad_added_after_is_400(client, world):
    r = client.get(world.objects_url(), params={"added_after": "yesterday"}, headers=world.auth("cert-a"))
    assert r.status_code == 400


def test_unknown_path_is_a_taxii_error(client, world):
    r = client.get("/taxii2/africa/nothing/", headers=world.auth("cert-a"))
    assert r.status_code == 404
    assert r.headers["content-type"] == TAXII
