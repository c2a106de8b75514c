"""The lookup API (GET /lookup/v1/search): the console search's answers as JSON, for scripts."""

from __future__ import annotations

from sqlalchemy import select

from hub.store.models import AuditEvent
from tests.lookup.helpers import pattern_indicator, sco
from tests.taxii_helpers import store as post

URL = "/lookup/v1/search"


def _get(client, world, org: str, **params):
    return client.get(URL, params=params, headers={"Authorization": f"Bearer {world.keys[org]}"})


def test_search_answers_json_with_reporters_and_finds_an_address_inside_a_stored_network(client, world, sm):
    net = pattern_indicator("[ipv4-addr:value = '198.51.100.0/24']", seed="net")
    post(client, world, [net])
    post(client, world, [pattern_indicator("[ipv4-addr:value = '198.51.100.0/24']", seed="b")], org="cert-b")
    r = _get(client, world, "cert-c", q="198.51.100[.]77")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "198.51.100.77" and body["kind"] == "ip" and not body["more"]
    assert {x["publisher"] for x in body["results"]} == {"cert-a", "cert-b"}
    first = body["results"][0]
    assert first["value"] == "198.51.100.0/24" and first["reporters"] == 2 and first["tlp"] == "TLP:GREEN"
    assert {"value", "type", "object_id", "collection", "group", "tlp", "publisher", "reporters"} <= set(
        first
    )
    with sm() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "lookup-search")))
    assert sum(e.count for e in events) == 2


def test_a_value_stored_in_one_spelling_is_found_in_another(client, world):
    post(client, world, [sco("url", "HTTP://Evil.Example/Drop.bin"), sco("domain-name", "Evil.Example")])
    for q in (
        "hxxp[://]evil[.]example/Drop.bin",
        "http://EVIL.example/Drop.bin",
        "'hxxp://evil(.)example/Drop.bin'",
    ):
        r = _get(client, world, "cert-c", q=q)
        assert [x["value"] for x in r.json()["results"]] == ["http://evil.example/Drop.bin"], q
    r = _get(client, world, "cert-c", q="evil[.]example")
    assert sorted(x["type"] for x in r.json()["results"]) == ["domain-name", "url"]


def test_hidden_versions_are_neither_results_nor_counted(client, world):
    post(client, world, [sco("domain-name", "split.example", tlp="amber")])
    post(client, world, [sco("domain-name", "split.example", tlp="green")], org="cert-b")
    vendor = _get(client, world, "vendor", q="split.example").json()["results"]
    assert [(x["publisher"], x["reporters"]) for x in vendor] == [("cert-b", 1)]
    cert_c = _get(client, world, "cert-c", q="split.example").json()["results"]
    assert sorted((x["publisher"], x["reporters"]) for x in cert_c) == [("cert-a", 2), ("cert-b", 2)]
    assert _get(client, world, "outsider", q="split.example").json()["results"] == []


def test_bad_queries_and_keys_are_clear_errors(client, world):
    for q in ("", "not a value!", "x" * 3000):
        r = _get(client, world, "cert-c", q=q)
        assert r.status_code == 400, (q, r.status_code)
        assert "500" not in r.text
    assert _get(client, world, "cert-c", q="not a value!").status_code == 400
    assert (
        "is not a value the hub looks up"
        in _get(client, world, "cert-c", q="not a value!").json()["description"]
    )
    assert client.get(URL, params={"q": "1.2.3.4"}).status_code == 401
    assert _get(client, world, "cert-c", q="1.2.3.4", group="nowhere").status_code == 404


def test_the_lookup_api_is_in_its_openapi_schema(client):
    schema = client.get("/lookup/v1/openapi.json").json()
    op = schema["paths"]["/lookup/v1/search"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"q", "group", "limit"}
    assert "reporters" in schema["components"]["schemas"]["ResultRead"]["properties"]
