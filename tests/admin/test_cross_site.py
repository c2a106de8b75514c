"""The admin API and TAXII writes refuse requests another site's page sends (observation 11)."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.factories import TAXII, indicator


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"x:{key}".encode()).decode()}


def archived(api, collection: str) -> bool:
    listed = api("cert-a", "GET", "/groups/africa/collections").json()
    return next(c for c in listed if c["id"] == collection)["archived_at"] is not None


@pytest.mark.parametrize(
    "foreign",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://hub.test.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://hub.test"},
    ],
)
def test_cross_site_form_post_to_the_admin_api_is_403_and_changes_nothing(client, api, admin_world, foreign):
    coll = admin_world.collections["africa/indicators"]
    r = client.post(
        f"/admin/v1/groups/africa/collections/{coll}/archive",
        headers={
            **basic(admin_world.keys["cert-a"]),
            **foreign,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        content=b"x=1",
    )
    assert r.status_code == 403 and r.headers["content-type"] == "application/json"
    assert "cross-site" in r.json()["description"]
    assert not archived(api, coll)


def test_cross_site_taxii_write_is_403_and_stores_nothing(client, admin_world):
    url = admin_world.objects_url()
    body = orjson.dumps({"objects": [indicator(977)]})
    refused = client.post(
        url, content=body, headers={**admin_world.post_headers("cert-b"), "Origin": "https://evil.example"}
    )
    assert refused.status_code == 403 and refused.headers["content-type"].startswith(TAXII)
    got = client.get(url, params={"match[id]": indicator(977)["id"]}, headers=admin_world.auth("cert-b"))
    assert got.status_code == 200 and "objects" not in got.json()


def test_clients_without_origin_and_the_hubs_own_pages_keep_writing(client, api, admin_world):
    coll = admin_world.collections["africa/indicators"]
    url = admin_world.objects_url()
    # a TAXII client (no Origin, pre-emptive Basic) and a same-origin page both publish
    taxii_client = {**basic(admin_world.keys["cert-b"]), "Accept": TAXII, "Content-Type": TAXII}
    no_origin = client.post(url, content=orjson.dumps({"objects": [indicator(978)]}), headers=taxii_client)
    assert no_origin.status_code == 202, no_origin.text
    same = client.post(url, content=orjson.dumps({"objects": [indicator(979)]}),
                       headers={**admin_world.post_headers("cert-b"), "Origin": "http://hub.test",
                                "Sec-Fetch-Site": "same-origin"})  # fmt: skip
    assert same.status_code == 202, same.text
    # reads are not writes: a cross-site GET is answered as before (CORS keeps its body from the page)
    assert (
        client.get(url, headers={**admin_world.auth("cert-b"), "Origin": "https://evil.example"}).status_code
        == 200
    )
    done = api("cert-a", "POST", f"/groups/africa/collections/{coll}/archive")
    assert done.status_code == 200 and archived(api, coll)


def test_the_public_url_is_the_hubs_origin(db_kind, sm, settings, admin_world):
    from fastapi.testclient import TestClient

    from hub.app import create_app

    app = create_app(settings.model_copy(update={"public_url": "https://hub.example.org/"}), sessionmaker=sm)
    with TestClient(app) as c:
        headers = {**admin_world.post_headers("cert-b"), "Origin": "https://hub.example.org"}
        ok = c.post(
            admin_world.objects_url(), content=orjson.dumps({"objects": [indicator(980)]}), headers=headers
        )
        assert ok.status_code == 202, ok.text
        headers["Origin"] = "http://hub.example.org"  # another scheme is another origin
        bad = c.post(
            admin_world.objects_url(), content=orjson.dumps({"objects": [indicator(981)]}), headers=headers
        )
        assert bad.status_code == 403


def test_the_401_challenge_offers_bearer_only_and_basic_still_authenticates(client, admin_world):
    r = client.get("/admin/v1/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="hub"'
    assert "Basic" not in client.get("/taxii2/", headers={"Accept": TAXII}).headers["www-authenticate"]
    assert client.get("/admin/v1/me", headers=basic(admin_world.keys["cert-a"])).status_code == 200
