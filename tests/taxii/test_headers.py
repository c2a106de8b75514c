"""Security headers on every answer, and the allowed-hosts setting, through HTTP."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.settings import Settings
from tests.factories import TAXII, indicator


def hub(sm, base_url: str = "http://hub.test", **overrides) -> TestClient:
    s = Settings(database_url="sqlite://", secret_key="test-secret", **overrides)
    return TestClient(create_app(s, sessionmaker=sm), base_url=base_url, raise_server_exceptions=False)


def assert_hardened(r) -> None:
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_every_kind_of_answer_carries_no_store_and_nosniff(client, world):
    ok = client.get(world.objects_url(), headers=world.auth("cert-a"))
    posted = client.post(
        world.objects_url(),
        content=orjson.dumps({"objects": [indicator(1)]}),
        headers=world.post_headers("cert-a"),
    )
    answers = [
        ok,
        posted,
        client.get("/taxii2/", headers={"Accept": TAXII}),  # 401
        client.get("/taxii2/asia/", headers=world.auth("cert-b")),  # 403
        client.get("/nowhere", headers=world.auth("cert-a")),  # router 404
        client.get("/taxii2/", headers={**world.auth("cert-a"), "Accept": "text/html"}),  # 406
    ]
    assert [r.status_code for r in answers] == [200, 202, 401, 403, 404, 406]
    for r in answers:
        assert_hardened(r)


def test_unknown_host_is_400_when_allowed_hosts_are_set(sm, world):
    with hub(sm, base_url="http://evil.example", allowed_hosts="hub.example.org, localhost") as c:
        r = c.get("/taxii2/", headers=world.auth("cert-a"))
    assert r.status_code == 400
    assert r.headers["content-type"] == TAXII and r.json()["http_status"] == "400"
    assert "host" in r.json()["description"]
    assert_hardened(r)


@pytest.mark.parametrize(
    "base", ["http://hub.example.org", "http://HUB.example.org:8443", "http://localhost:8000"]
)
def test_allowed_hosts_with_any_port_are_answered(sm, world, base):
    with hub(sm, base_url=base, allowed_hosts="hub.example.org,localhost") as c:
        r = c.get("/taxii2/", headers=world.auth("cert-a"))
    assert r.status_code == 200
    assert r.json()["api_roots"][0].startswith(base.lower() if "HUB" in base else base)


def test_public_url_host_is_allowed_and_discovery_never_reflects_the_host(sm, world):
    settings = {"allowed_hosts": "internal.lan", "public_url": "https://taxii.example.org"}
    with hub(sm, base_url="http://taxii.example.org", **settings) as c:
        r = c.get("/taxii2/", headers=world.auth("cert-a"))
    assert r.status_code == 200
    assert r.json()["api_roots"][0] == "https://taxii.example.org/taxii2/africa/"
    with hub(sm, base_url="http://internal.lan", **settings) as c:
        roots = c.get("/taxii2/", headers=world.auth("cert-a")).json()["api_roots"]
    assert all(u.startswith("https://taxii.example.org/taxii2/") for u in roots)


def test_without_allowed_hosts_any_host_is_answered(sm, world):
    with hub(sm, base_url="http://whatever.test") as c:
        assert c.get("/taxii2/", headers=world.auth("cert-a")).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["objects/%00/", "objects/?match[id]=%00", "objects/?next=a%00b", "objects/indicator--%00/versions/"],
)
def test_a_url_holding_nul_is_400(client, world, path):
    r = client.get(world.objects_url() + path.removeprefix("objects/"), headers=world.auth("cert-a"))
    assert r.status_code == 400 and "NUL" in r.json()["description"]
