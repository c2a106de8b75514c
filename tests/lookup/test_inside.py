"""GET /lookup/v1/inside: JSON and CSV, ETag and 304, added_after, pages, and bad requests."""

from __future__ import annotations

import csv
import io
import time

import pytest

from tests.factories import TLP
from tests.watch_helpers import add_ke_cirt, admin, domain_sco, ip_indicator, post


@pytest.fixture
def ke(client, world, sm):
    add_ke_cirt(sm, world)
    r = admin(client, world, "ke-cirt", "PUT", "/organisations/ke-cirt/constituency",
              json={"networks": ["41.90.0.0/16", "2c0f:fe38::/32"], "domains": ["go.ke"]})  # fmt: skip
    assert r.status_code == 200
    assert (
        admin(client, world, "cert-a", "POST", "/organisations/ke-cirt/constituency/confirm").status_code
        == 200
    )
    return world


def _get(client, world, who="ke-cirt", headers=None, **params):
    h = {"Authorization": f"Bearer {world.keys[who]}", **(headers or {})}
    return client.get("/lookup/v1/inside", params=params, headers=h)


def test_json_lists_matches_newest_first_with_value_and_rule(client, ke):
    post(client, ke, "cert-b", [ip_indicator("41.90.1.1")])
    time.sleep(0.002)
    v6 = {
        "type": "ipv6-addr", "spec_version": "2.1", "id": "ipv6-addr--2f4c1e0e-6b56-5d2e-8a5e-3f8f2c7d1a10",
        "value": "2c0f:fe38:1::1", "object_marking_refs": [TLP["green"]],
    }  # fmt: skip
    post(client, ke, "cert-b", [v6, domain_sco("www.go.ke"), domain_sco("go.ke.example.com")])
    r = _get(client, ke)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    got = [(x["value"], x["rule"]) for x in body["results"]]
    assert set(got) == {
        ("41.90.1.1", "network 41.90.0.0/16"),
        ("2c0f:fe38:1::1", "network 2c0f:fe38::/32"),
        ("www.go.ke", "domain go.ke"),
    }
    assert got[-1][0] == "41.90.1.1"  # the oldest last
    first = body["results"][0]
    assert {"object_id", "type", "collection", "group", "tlp", "publisher", "date_added"} <= set(first)
    assert body["more"] is False and body["next"] is None and body["rules"] == 3


def test_csv_has_a_header_and_one_line_per_match(client, ke):
    post(client, ke, "cert-b", [ip_indicator("41.90.1.1"), ip_indicator("41.90.1.2")])
    r = _get(client, ke, format="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(row["value"] for row in rows) == ["41.90.1.1", "41.90.1.2"]
    assert all(row["rule"] == "network 41.90.0.0/16" and row["tlp"] == "green" for row in rows)


def test_etag_gives_304_until_something_new_matches(client, ke):
    post(client, ke, "cert-b", [ip_indicator("41.90.1.1")])
    r = _get(client, ke)
    etag = r.headers["etag"]
    again = _get(client, ke, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    post(client, ke, "cert-b", [ip_indicator("41.90.1.2")])
    assert _get(client, ke, headers={"If-None-Match": etag}).status_code == 200
    # another organisation's answer never shares the tag, even when both are empty
    assert _get(client, ke, "cert-c").headers["etag"] != _get(client, ke, "vendor").headers["etag"]


def test_added_after_and_pages(client, ke):
    for i in range(5):
        post(client, ke, "cert-b", [ip_indicator(f"41.90.2.{i}")])
        time.sleep(0.002)
    everything = _get(client, ke).json()["results"]
    assert [x["value"] for x in everything] == [f"41.90.2.{i}" for i in reversed(range(5))]
    later = _get(client, ke, added_after=everything[2]["date_added"]).json()["results"]
    assert [x["value"] for x in later] == ["41.90.2.4", "41.90.2.3"]
    page = _get(client, ke, limit=2).json()
    assert [x["value"] for x in page["results"]] == ["41.90.2.4", "41.90.2.3"] and page["more"]
    rest = _get(client, ke, limit=2, before=page["next"]).json()
    assert [x["value"] for x in rest["results"]] == ["41.90.2.2", "41.90.2.1"]


@pytest.mark.parametrize(
    "params",
    [{"format": "xml"}, {"added_after": "yesterday"}, {"before": "x:y"}, {"nonsense": "1"}, {"limit": "0"}],
)
def test_bad_parameters_are_a_clear_4xx(client, ke, params):
    r = _get(client, ke, **params)
    assert r.status_code in (400, 422), r.text


def test_it_needs_a_key_with_the_read_scope(client, ke, sm):
    assert client.get("/lookup/v1/inside").status_code == 401
    r = admin(client, ke, "ke-cirt", "POST", "/organisations/ke-cirt/keys", json={"scopes": ["download"]})
    assert r.status_code == 201, r.text
    only_download = r.json()["secret"]
    r = client.get("/lookup/v1/inside", headers={"Authorization": f"Bearer {only_download}"})
    assert r.status_code == 403
