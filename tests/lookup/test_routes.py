"""Device downloads through HTTP: authentication, stable URLs, validators, errors, audit."""

from __future__ import annotations

import base64

import orjson
import pytest
from sqlalchemy import select

from hub.store.models import AuditEvent
from tests.lookup.helpers import SHA256, file_sco, sco
from tests.taxii_helpers import store

BASE = "/console/downloads"


def key(world, org):
    return {"Authorization": f"Bearer {world.keys[org]}"}


@pytest.fixture
def data(client, world):
    store(client, world, [sco("ipv4-addr", "203.0.113.1"), sco("ipv4-addr", "203.0.113.3", tlp="amber"),
                         sco("domain-name", "evil.example"), file_sco({"SHA-256": SHA256})])  # fmt: skip


def test_blocklist_txt_with_bearer_and_basic(client, world, data):
    r = client.get(f"{BASE}/africa/blocklist.txt?kind=ip", headers=key(world, "cert-c"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert sorted(r.text.splitlines()) == ["203.0.113.1", "203.0.113.3"]
    assert r.headers["etag"] and r.headers["last-modified"] and "no-store" in r.headers["cache-control"]
    basic = base64.b64encode(f"firewall:{world.keys['vendor']}".encode()).decode()
    r = client.get(f"{BASE}/africa/blocklist.txt?kind=ip", headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200 and r.text.splitlines() == ["203.0.113.1"]


def test_csv_and_bundle(client, world, data):
    r = client.get(f"{BASE}/africa/blocklist.csv", headers=key(world, "vendor"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0] == (
        "value,type,tlp,first_seen,object_id,collection,port,reporters,sightings,false_positives"
    )
    assert "203.0.113.3" not in r.text and SHA256 in r.text
    r = client.get(f"{BASE}/africa/bundle.json?tlp_max=green", headers=key(world, "cert-c"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/stix+json;version=2.1"
    doc = orjson.loads(r.content)
    assert doc["type"] == "bundle" and len(doc["objects"]) == 3
    again = client.get(f"{BASE}/africa/bundle.json?tlp_max=green", headers=key(world, "cert-c"))
    assert again.content == r.content  # the same state gives the same bytes, bundle id included


def test_missing_or_wrong_key_is_401(client, world, data):
    r = client.get(f"{BASE}/africa/blocklist.txt?kind=ip")
    assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
    bad = {"Authorization": f"Bearer {world.keys['cert-c'][:-4]}AAAA"}
    assert client.get(f"{BASE}/africa/blocklist.txt?kind=ip", headers=bad).status_code == 401


def test_foreign_group_is_the_same_404_as_an_unknown_one(client, world, data):
    foreign = client.get(f"{BASE}/asia/blocklist.txt?kind=ip", headers=key(world, "cert-b"))
    unknown = client.get(f"{BASE}/nowhere/blocklist.txt?kind=ip", headers=key(world, "cert-b"))
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["description"].replace("asia", "G") == unknown.json()["description"].replace(
        "nowhere", "G"
    )
    assert foreign.headers.get("etag") is None
    named = world.collections["africa/a-to-b"]
    hidden = client.get(
        f"{BASE}/africa/blocklist.txt?kind=ip&collection={named}", headers=key(world, "cert-c")
    )
    missing = client.get(f"{BASE}/africa/blocklist.txt?kind=ip&collection=none", headers=key(world, "cert-c"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    outsider = client.get(f"{BASE}/africa/bundle.json", headers=key(world, "outsider"))
    assert outsider.status_code == 404 and outsider.json() == unknown.json() | {
        "description": unknown.json()["description"].replace("nowhere", "africa")
    }


def test_if_none_match_gives_304_until_something_visible_changes(client, world, data):
    url = f"{BASE}/africa/blocklist.txt?kind=ip"
    first = client.get(url, headers=key(world, "vendor"))
    etag = first.headers["etag"]
    r = client.get(url, headers={**key(world, "vendor"), "If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    store(client, world, [sco("ipv4-addr", "203.0.113.4", tlp="amber")])  # hidden from the vendor
    assert client.get(url, headers={**key(world, "vendor"), "If-None-Match": etag}).status_code == 304
    store(client, world, [sco("ipv4-addr", "203.0.113.5")])
    r = client.get(url, headers={**key(world, "vendor"), "If-None-Match": etag})
    assert r.status_code == 200 and "203.0.113.5" in r.text and r.headers["etag"] != etag
    # another parameter is another download
    other = client.get(f"{url}&tlp_max=clear", headers={**key(world, "vendor"), "If-None-Match": etag})
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=dns", "kind must be one of"),
        ("", "needs 'kind'"),
        ("kind=ip&tlp_max=purple", "unknown TLP level"),
        ("kind=ip&added_after=yesterday", "added_after"),
        ("kind=ip&tlpmax=green", "Unknown parameter 'tlpmax'"),
        ("kind=hash&algorithm=crc32", "algorithm must be one of"),
        ("kind=ip&algorithm=md5", "goes with kind=hash"),
        ("kind=ip&tlp_min=amber&tlp_max=green", "above"),
        ("kind=ip&kind=url", "once"),
        ("kind=ip&valid=maybe", "true or false"),
    ],
)
def test_bad_parameters_are_a_clear_400(client, world, data, query, message):
    r = client.get(f"{BASE}/africa/blocklist.txt?{query}", headers=key(world, "cert-c"))
    assert r.status_code == 400, r.text
    assert message in r.json()["description"]


def test_every_download_is_audited(client, world, data, sm):
    client.get(f"{BASE}/africa/blocklist.txt?kind=ip", headers=key(world, "vendor"))
    client.get(f"{BASE}/africa/bundle.json", headers=key(world, "vendor"))
    with sm() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action.like("download-%"))))
    by_action = {(e.action, e.collection_id): e.count for e in events}
    coll = world.collections["africa/indicators"]
    assert by_action[("download-txt", coll)] == 1
    assert by_action[("download-bundle", coll)] == 3
