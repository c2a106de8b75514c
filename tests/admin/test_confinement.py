"""A coordinator is confined to its own group: another group's things are 404, escalation is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from hub.trust.models import ApiKey


@pytest.fixture
def europe(api, admin_world):
    """A third group cert-a has nothing to do with: outsider coordinates it, with a key, an invitation,
    a named-recipient collection and audit events of its own."""
    assert api("admin", "POST", "/groups", json={"slug": "europe", "name": "Europe"}).status_code == 201
    r = api(
        "admin", "POST", "/groups/europe/members", json={"organisation": "outsider", "role": "coordinator"}
    )
    assert r.status_code == 201
    body = {"alias": "secret", "kind": "named", "owner": "outsider", "recipients": ["outsider"]}
    assert api("outsider", "POST", "/groups/europe/collections", json=body).status_code == 201
    inv = api("outsider", "POST", "/groups/europe/invitations",
              json={"organisation": "cert-eu", "name": "EU", "role": "reader"})  # fmt: skip
    assert inv.status_code == 201
    key = api("outsider", "POST", "/organisations/outsider/keys", json={"label": "eu"}).json()["key"]
    feed = {"name": "eu-feed", "format": "text", "url": "https://eu.example/list.txt", "collection": "secret",
            "publish_as": "outsider"}  # fmt: skip
    assert api("outsider", "POST", "/groups/europe/feeds", json=feed).status_code == 201
    return {"invitation": inv.json()["id"], "key_id": key["key_id"]}


def test_another_groups_things_are_not_found_for_reading(api, europe):
    for path in (
        "/groups/europe",
        "/groups/europe/members",
        "/groups/europe/members/outsider",
        "/groups/europe/invitations",
        "/groups/europe/collections",
        "/groups/europe/collections/secret",
        "/groups/europe/stats",
        "/groups/europe/feeds",
        "/groups/europe/feeds/eu-feed",
        "/groups/europe/feeds/eu-feed/runs",
        "/groups/europe/policy/explain?object=indicator--00000000-0000-4000-8000-000000000000",
        "/organisations/outsider",
        "/organisations/outsider/keys",
        "/audit?group=europe",
        "/audit/export?group=europe",
        "/audit?organisation=outsider",
    ):
        r = api("cert-a", "GET", path)
        assert r.status_code == 404, path
        assert "europe" not in r.text.replace("'europe'", "") or path.startswith("/groups/europe")


def test_another_groups_things_are_not_found_for_changing(api, europe):
    attempts = [
        ("PATCH", "/groups/europe", {"name": "Mine"}),
        ("POST", "/groups/europe/members", {"organisation": "cert-a", "role": "coordinator"}),
        ("PATCH", "/groups/europe/members/outsider", {"role": "reader"}),
        ("DELETE", "/groups/europe/members/outsider", None),
        ("POST", "/groups/europe/invitations", {"organisation": "cert-a", "role": "coordinator"}),
        ("DELETE", f"/groups/europe/invitations/{europe['invitation']}", None),
        ("POST", "/groups/europe/collections", {"alias": "mine"}),
        ("PATCH", "/groups/europe/collections/secret", {"recipients": ["cert-a"]}),
        ("POST", "/groups/europe/collections/secret/archive", None),
        (
            "POST",
            "/groups/europe/feeds",
            {
                "name": "x",
                "format": "text",
                "url": "https://x.example/",
                "collection": "secret",
                "publish_as": "cert-a",
            },
        ),
        ("PATCH", "/groups/europe/feeds/eu-feed", {"enabled": False}),
        ("POST", "/groups/europe/feeds/eu-feed/run", None),
        ("POST", "/groups/europe/feeds/eu-feed/disable", None),
        ("PATCH", "/organisations/outsider", {"name": "pwned"}),
        ("POST", "/organisations/outsider/keys", {}),
        ("POST", f"/organisations/outsider/keys/{europe['key_id']}/rotate", None),
        ("POST", f"/organisations/outsider/keys/{europe['key_id']}/revoke", None),
    ]
    for method, path, body in attempts:
        r = api("cert-a", method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
    assert api("outsider", "GET", "/groups/europe/members").json()[0]["role"] == "coordinator"
    assert {k["state"] for k in api("outsider", "GET", "/organisations/outsider/keys").json()} == {"active"}


def test_lists_never_show_another_groups_things(api, europe):
    assert api("cert-a", "PATCH", "/groups/africa", json={"description": "ours"}).status_code == 200
    assert "europe" not in {g["slug"] for g in api("cert-a", "GET", "/groups").json()}
    assert "outsider" not in {o["slug"] for o in api("cert-a", "GET", "/organisations").json()}
    events = api("cert-a", "GET", "/audit", params={"limit": 1000}).json()["events"]
    assert events and all(e["group"] in ("africa", None) for e in events)
    assert not any("europe" in (e["target"] or "") or e["organisation"] == "outsider" for e in events)
    lines = api("cert-a", "GET", "/audit/export").text
    assert "europe" not in lines and "outsider" not in lines


def test_a_member_that_is_not_coordinator_manages_nothing_of_the_group(api):
    # cert-a is a reader in asia; cert-c coordinates asia
    for method, path, body in [
        ("GET", "/groups/asia/members", None),
        ("GET", "/groups/asia/invitations", None),
        ("GET", "/groups/asia/collections", None),
        ("GET", "/audit?group=asia", None),
        ("GET", "/groups/asia/stats", None),
        ("GET", "/groups/asia/feeds", None),
        ("PATCH", "/groups/asia/members/cert-a", {"role": "coordinator"}),
        ("POST", "/groups/asia/invitations", {"organisation": "cert-x", "name": "X"}),
        ("PATCH", "/groups/asia", {"max_tlp": "amber"}),
    ]:
        r = api("cert-a", method, path, json=body)
        assert r.status_code in (403, 404), (method, path)
    assert api("cert-a", "GET", "/audit?group=asia").status_code == 403
    members = {m["organisation"]: m for m in api("cert-c", "GET", "/groups/asia/members").json()}
    assert members["cert-a"]["role"] == "reader"


def test_a_coordinator_cannot_escalate(api):
    # its own role or clearance, another group, a clearance above max_tlp, the platform itself
    assert (
        api("cert-a", "PATCH", "/groups/africa/members/cert-a", json={"clearance": "clear"}).status_code
        == 403
    )
    assert (
        api("cert-a", "PATCH", "/groups/asia/members/cert-a", json={"role": "coordinator"}).status_code == 403
    )
    r = api("cert-a", "PATCH", "/groups/africa/members/cert-b", json={"clearance": "red"})
    assert r.status_code == 422
    r = api("cert-a", "POST", "/groups/africa/invitations",
            json={"organisation": "cert-x", "name": "X", "clearance": "red"})  # fmt: skip
    assert r.status_code == 422
    assert api("cert-a", "POST", "/groups", json={"slug": "mine", "name": "Mine"}).status_code == 403
    assert api("cert-a", "PATCH", "/groups/africa", json={"community": "global"}).status_code == 403
    assert api("cert-a", "POST", "/organisations/cert-b/deactivate").status_code == 403
    assert api("cert-a", "POST", "/organisations/cert-c/keys", json={}).status_code == 403
    me = api("cert-a", "GET", "/me").json()
    assert me["platform_admin"] is False
    assert me["memberships"] == {
        "africa": {"role": "coordinator", "clearance": "amber+strict"},
        "asia": {"role": "reader", "clearance": "amber+strict"},
    }


def test_a_contributor_manages_only_its_own_keys(api):
    assert api("cert-b", "GET", "/organisations/cert-b/keys").status_code == 200
    assert api("cert-b", "GET", "/organisations/cert-a/keys").status_code == 404
    assert api("cert-b", "POST", "/organisations/cert-c/keys", json={}).status_code == 404
    assert api("cert-b", "GET", "/groups/africa/members").status_code == 403


def test_revoked_rotated_out_expired_keys_and_removed_members_fail_on_the_next_request(
    client, api, world, sm
):
    taxii = world.auth("cert-b")["Accept"]

    def ok(secret: str, path: str = "/taxii2/africa/") -> int:
        return client.get(path, headers={"Authorization": f"Bearer {secret}", "Accept": taxii}).status_code

    def issue(org: str) -> tuple[str, str]:
        body = api(org, "POST", f"/organisations/{org}/keys", json={}).json()
        return body["secret"], body["key"]["key_id"]

    revoked, rid = issue("cert-b")
    assert ok(revoked) == 200
    api("cert-b", "POST", f"/organisations/cert-b/keys/{rid}/revoke")
    assert ok(revoked) == 401

    rotated, tid = issue("cert-b")
    assert ok(rotated) == 200
    api("cert-b", "POST", f"/organisations/cert-b/keys/{tid}/rotate", json={"grace_seconds": 3600})
    assert ok(rotated) == 200  # inside the grace period
    with sm() as s, s.begin():  # the grace period ends
        s.execute(
            update(ApiKey)
            .where(ApiKey.key_id == tid)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert ok(rotated) == 401

    expiring, eid = issue("cert-b")
    assert ok(expiring) == 200
    with sm() as s, s.begin():
        s.execute(
            update(ApiKey)
            .where(ApiKey.key_id == eid)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert ok(expiring) == 401

    member, _ = issue("vendor")
    assert ok(member, world.objects_url()) == 200
    assert api("cert-a", "DELETE", "/groups/africa/members/vendor").status_code == 204
    assert ok(member, world.objects_url()) == 403
    assert ok(member) == 403
