"""The OASIS taxii2-client (2.3, `taxii2client.v21`) against the live hub, on SQLite and PostgreSQL.

Every call goes through taxii2-client's own response checks: the Content-Type must be the TAXII 2.1
media type, a Status must have counts that add up and lists as long as their counts, a Collection must
carry `id`, `title`, `can_read` and `can_write`, an API root `title`, `versions` and
`max_content_length`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from taxii2client.exceptions import AccessError
from taxii2client.v21 import Status, as_pages

from tests.factories import TAXII, indicator
from tests.interop.conftest import STIX, hub_collection, hub_root, hub_server

pytestmark = pytest.mark.interop


def envelope(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"objects": objs}


def ids_versions(objs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((o["id"], o.get("modified") or o["version"]) for o in objs)


def malware(n: int, **extra: Any) -> dict[str, Any]:
    obj = {
        "type": "malware",
        "spec_version": "2.1",
        "id": f"malware--00000000-0000-4000-8000-{n:012d}",
        "created": "2024-02-01T00:00:00.000Z",
        "modified": "2024-02-01T00:00:00.000Z",
        "name": f"family {n}",
        "is_family": True,
    }
    obj.update(extra)
    return obj


# ------------------------------------------------------------------ discovery, API roots, collections


def test_discovery_lists_the_callers_api_roots_with_default(live):
    server = hub_server(live, "cert-a")
    assert server.title
    assert [r.url for r in server.api_roots] == [f"{live.base}/taxii2/africa/", f"{live.base}/taxii2/asia/"]
    assert server.default is not None
    assert server.default.url == f"{live.base}/taxii2/africa/"


def test_discovery_for_an_organisation_in_no_group_has_no_api_roots(live):
    server = hub_server(live, "outsider")
    assert server.api_roots == []
    assert server.default is None


def test_api_root_information_satisfies_taxii2_client(live):
    root = hub_server(live, "cert-b").api_roots[0]
    assert root.title == "Africa"
    assert root.versions == [TAXII]
    assert root.max_content_length == live.server.settings.max_content_length


def test_collections_carry_role_permissions_and_stix_media_type(live):
    root = hub_server(live, "cert-c").api_roots[0]  # africa: cert-c is a reader
    by_alias = {c.alias: c for c in root.collections}
    assert set(by_alias) == {"indicators"}  # a-to-b names only cert-b
    coll = by_alias["indicators"]
    assert coll.id == live.collections["africa/indicators"]
    assert (coll.can_read, coll.can_write) == (True, False)
    assert coll.media_types == [STIX]
    with pytest.raises(AccessError):  # taxii2-client refuses locally from can_write
        coll.add_objects(envelope([indicator(1)]))


def test_wrong_key_is_an_http_401_for_taxii2_client(live):
    server = hub_server(live, "cert-a")
    server._conn.session.auth = requests.auth.HTTPBasicAuth("x", live.keys["cert-a"][:-3] + "xyz")
    with pytest.raises(requests.HTTPError) as exc:
        server.refresh()
    assert exc.value.response.status_code == 401


# ------------------------------------------------------------------ add objects and status


def test_add_objects_envelope_dict_returns_a_complete_status_whose_counts_check(live):
    coll = hub_collection(live, "cert-b")
    objs = [indicator(n) for n in range(100, 105)]
    status = coll.add_objects(envelope(objs))
    assert isinstance(status, Status)
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count, status.pending_count) == (
        5,
        5,
        0,
        0,
    )
    assert sorted((s["id"], s["version"]) for s in status.successes) == ids_versions(objs)


def test_add_objects_json_string_with_one_bad_object_stores_the_rest(live):
    coll = hub_collection(live, "cert-b")
    good = [indicator(n) for n in range(110, 113)]
    bad = indicator(113, pattern="[this is not a pattern")
    status = coll.add_objects(json.dumps(envelope([*good, bad])))
    assert (status.total_count, status.success_count, status.failure_count) == (4, 3, 1)
    assert status.failures[0]["id"] == bad["id"]
    assert status.failures[0]["message"]
    got = coll.get_objects(id=[o["id"] for o in [*good, bad]])["objects"]
    assert ids_versions(got) == ids_versions(good)


def test_status_endpoint_serves_the_same_status_at_the_url_taxii2_client_derives(live):
    coll = hub_collection(live, "cert-b")
    status = coll.add_objects(envelope([indicator(120), indicator(121)]))
    # taxii2-client builds <collection>/../../status/<id> (then adds the trailing slash)
    assert status.url == f"{live.base}/taxii2/africa/status/{status.id}/"
    first = dict(status._raw)
    status.refresh()
    assert status._raw == first
    again = hub_root(live, "cert-b", "africa").get_status(status.id)
    assert again._raw == first


def test_status_is_hidden_from_another_organisation(live):
    status = hub_collection(live, "cert-b").add_objects(envelope([indicator(125)]))
    with pytest.raises(requests.HTTPError) as exc:
        hub_root(live, "cert-a", "africa").get_status(status.id)
    assert exc.value.response.status_code == 404


# ------------------------------------------------------------------ reads


def test_get_objects_serves_posted_objects_unchanged(live):
    coll = hub_collection(live, "cert-a")
    objs = [indicator(n, description=f"ünïcode {n} ✓") for n in range(130, 134)]
    coll.add_objects(envelope(objs))
    got = hub_collection(live, "vendor").get_objects(id=[o["id"] for o in objs])
    assert got["more"] is False
    assert sorted(got["objects"], key=lambda o: o["id"]) == sorted(objs, key=lambda o: o["id"])


def test_get_object_serves_latest_by_default_and_every_version_with_version_all(live):
    coll = hub_collection(live, "cert-b")
    versions = [indicator(140, modified=f"2024-03-0{d}T00:00:00.000Z") for d in (1, 2, 3)]
    coll.add_objects(envelope(versions))
    oid = versions[0]["id"]
    assert coll.get_object(oid)["objects"] == [versions[-1]]
    assert ids_versions(coll.get_object(oid, version="all")["objects"]) == ids_versions(versions)
    assert coll.get_object(oid, version="first")["objects"] == [versions[0]]


def test_get_object_unknown_id_is_404(live):
    coll = hub_collection(live, "cert-a")
    with pytest.raises(requests.HTTPError) as exc:
        coll.get_object(indicator(99_999)["id"])
    assert exc.value.response.status_code == 404


def test_manifest_lists_id_version_date_added_and_media_type(live):
    coll = hub_collection(live, "cert-b")
    objs = [indicator(150), indicator(150, modified="2024-05-01T00:00:00.000Z"), indicator(151)]
    coll.add_objects(envelope(objs))
    entries = coll.get_manifest(id=[indicator(150)["id"], indicator(151)["id"]], version="all")["objects"]
    assert ids_versions(entries) == ids_versions(objs)
    assert {e["media_type"] for e in entries} == {STIX}
    added = [e["date_added"] for e in entries]
    assert added == sorted(added)  # date-added order
    latest = coll.get_manifest(id=indicator(150)["id"])["objects"]
    assert [e["version"] for e in latest] == ["2024-05-01T00:00:00.000Z"]


def test_object_versions_lists_every_version_oldest_first(live):
    coll = hub_collection(live, "cert-b")
    stamps = ["2024-04-01T00:00:00.000Z", "2024-04-02T00:00:00.000Z", "2024-04-03T12:30:00.123Z"]
    coll.add_objects(envelope([indicator(160, modified=s) for s in stamps]))
    got = coll.object_versions(indicator(160)["id"])
    assert got["versions"] == stamps
    assert got["more"] is False


def test_delete_object_removes_every_version(live):
    writer, coordinator = hub_collection(live, "cert-b"), hub_collection(live, "cert-a")
    oid = indicator(170)["id"]
    writer.add_objects(envelope([indicator(170), indicator(170, modified="2024-06-01T00:00:00.000Z")]))
    assert len(coordinator.get_object(oid, version="all")["objects"]) == 2
    coordinator.delete_object(oid)
    with pytest.raises(requests.HTTPError) as exc:
        coordinator.get_object(oid)
    assert exc.value.response.status_code == 404
    with pytest.raises(requests.HTTPError) as exc:
        coordinator.delete_object(oid)
    assert exc.value.response.status_code == 404


def test_delete_object_one_version_keeps_the_others(live):
    coll = hub_collection(live, "cert-b")
    stamps = ["2024-07-01T00:00:00.000Z", "2024-07-02T00:00:00.000Z"]
    coll.add_objects(envelope([indicator(175, modified=s) for s in stamps]))
    oid = indicator(175)["id"]
    coll.delete_object(oid, version=stamps[1])
    assert coll.object_versions(oid)["versions"] == stamps[:1]


# ------------------------------------------------------------------ pagination


def test_as_pages_receives_every_object_once_in_date_added_order(live):
    # asia/indicators is written only by this test in this module: the collection is exactly these
    coll = hub_collection(live, "cert-c", "asia")
    posted: list[dict[str, Any]] = []
    for start, size in ((1000, 90), (1090, 110), (1200, 50)):  # three envelopes, 250 objects
        batch = [indicator(n) for n in range(start, start + size)]
        status = coll.add_objects(envelope(batch))
        assert status.success_count == size
        posted += batch
    pages = list(as_pages(coll.get_objects, per_request=100))
    assert [len(p["objects"]) for p in pages] == [100, 100, 50]
    assert [p["more"] for p in pages] == [True, True, False]
    assert all("next" in p for p in pages[:-1])
    assert "next" not in pages[-1]
    served = [o["id"] for p in pages for o in p["objects"]]
    assert served == [o["id"] for o in posted]  # each once, in the order they were added

    manifest = [e for p in as_pages(coll.get_manifest, per_request=60) for e in p["objects"]]
    assert [e["id"] for e in manifest] == served
    added = [e["date_added"] for e in manifest]
    assert added == sorted(added)
    assert len(set(added)) == len(added)


def test_as_pages_with_a_filter_keeps_the_filter_on_every_page(live):
    coll = hub_collection(live, "cert-b")
    families = [malware(n) for n in range(1, 8)]
    coll.add_objects(envelope([*families, *(indicator(n) for n in range(180, 186))]))
    pages = list(as_pages(coll.get_objects, per_request=3, type="malware"))
    assert [len(p["objects"]) for p in pages] == [3, 3, 1]
    assert [o["id"] for p in pages for o in p["objects"]] == [o["id"] for o in families]


# ------------------------------------------------------------------ filters


def test_added_after_returns_only_objects_added_strictly_later(live):
    coll = hub_collection(live, "cert-b")
    first, second = [indicator(n) for n in range(200, 203)], [indicator(n) for n in range(203, 206)]
    coll.add_objects(envelope(first))
    last_of_first = coll.get_manifest(id=[o["id"] for o in first])["objects"][-1]["date_added"]
    coll.add_objects(envelope(second))
    every = [o["id"] for o in first + second]
    got = coll.get_objects(added_after=last_of_first, id=every)["objects"]
    assert [o["id"] for o in got] == [o["id"] for o in second]


def test_match_type_selects_by_stix_type(live):
    coll = hub_collection(live, "cert-b")
    tool = {
        "type": "tool",
        "spec_version": "2.1",
        "id": "tool--7e1e0a7e-6c60-4f3b-9a4e-2f1c1b3c8d01",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "nmap",
    }
    coll.add_objects(envelope([tool, indicator(210)]))
    assert [o["id"] for o in coll.get_objects(type="tool")["objects"]] == [tool["id"]]
    both = coll.get_objects(type=["tool", "indicator"], id=[tool["id"], indicator(210)["id"]])["objects"]
    assert sorted(o["type"] for o in both) == ["indicator", "tool"]


def test_match_version_first_last_all_and_exact_timestamp(live):
    coll = hub_collection(live, "cert-b")
    stamps = ["2024-08-01T00:00:00.000Z", "2024-08-02T00:00:00.000Z", "2024-08-03T00:00:00.000Z"]
    objs = [indicator(220, modified=s) for s in stamps]
    coll.add_objects(envelope(objs))
    oid = objs[0]["id"]

    def versions(**kw: Any) -> list[str]:
        return sorted(o["modified"] for o in coll.get_objects(id=oid, **kw)["objects"])

    assert versions() == stamps[2:]
    assert versions(version="last") == stamps[2:]
    assert versions(version="first") == stamps[:1]
    assert versions(version="all") == stamps
    assert versions(version=stamps[1]) == stamps[1:2]
    assert versions(version=["first", "last"]) == [stamps[0], stamps[2]]


# ------------------------------------------------------------------ Bearer authentication


def test_bearer_auth_object_works_for_every_endpoint(live):
    server = hub_server(live, "cert-b", bearer=True)
    root = server.api_roots[0]
    assert root.title == "Africa"
    coll = next(c for c in root.collections if c.alias == "indicators")
    objs = [indicator(n) for n in range(300, 303)]
    status = coll.add_objects(envelope(objs))
    assert status.success_count == 3
    assert root.get_status(status.id).success_count == 3
    assert ids_versions(coll.get_objects(id=[o["id"] for o in objs])["objects"]) == ids_versions(objs)
    assert coll.object_versions(objs[0]["id"])["versions"] == [objs[0]["modified"]]
    assert len(coll.get_manifest(id=[o["id"] for o in objs])["objects"]) == 3


def test_bearer_auth_with_a_wrong_key_is_401(live):
    root = hub_root(live, "cert-b", "africa", bearer=True)
    root._conn.session.auth.key = "not-a-key"
    with pytest.raises(requests.HTTPError) as exc:
        root.refresh_information()
    assert exc.value.response.status_code == 401
