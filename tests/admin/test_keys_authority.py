"""Keys act for their account, within their scopes; a coordinator's reach over a member's keys is its group.

Through the admin API (the `api` fixture), TAXII, the device downloads and the CLI, on both databases.
The observations of issue 17 each have a test named for the rule: 2 (admin keys), 5 (one group's
coordinator and another group's keys), 6 (device keys), 7 (key ids only in paths), 14 (rotation).
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from typer.testing import CliRunner

import hub.trust.service as svc
from hub.cli import app as cli_app
from hub.store.models import AuditEvent
from hub.trust.models import Account, ApiKey, Organisation
from tests.factories import TAXII, indicator


def bearer(secret: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **extra}


def issue(api: Any, org: str, **body: Any) -> tuple[str, dict[str, Any]]:
    r = api(org, "POST", f"/organisations/{org}/keys", json=body)
    assert r.status_code == 201, r.text
    return r.json()["secret"], r.json()["key"]


def as_key(client: Any, secret: str) -> Any:
    """Call the admin API with a key that is not one of the world's."""

    def call(method: str, path: str, **kw: Any) -> Any:
        return client.request(method, "/admin/v1" + path, headers=bearer(secret), **kw)

    return call


def taxii(client: Any, secret: str, method: str, path: str, **kw: Any) -> Any:
    headers = bearer(secret, Accept=TAXII)
    if method == "POST":
        headers["Content-Type"] = TAXII
    return client.request(method, path, headers=headers, **kw)


def envelope(*objs: dict[str, Any]) -> bytes:
    return json.dumps({"objects": list(objs)}).encode()


# ---------------------------------------------------------------- observation 2: admin keys


@pytest.fixture
def ops(api: Any, admin_world: Any) -> str:
    """A non-admin key of the operator's organisation (account 'ops', beside the admin account)."""
    r = api("admin", "POST", "/organisations/hub-operator/keys", json={"account": "ops", "label": "ops"})
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


def test_a_non_admin_key_never_issues_a_key_for_a_platform_admin_account(client, api, ops):
    r = as_key(client, ops)("POST", "/organisations/hub-operator/keys", json={"account": "admin"})
    assert r.status_code == 403 and "platform admin" in r.json()["description"]
    assert as_key(client, ops)("GET", "/me").json()["platform_admin"] is False


def test_a_non_admin_key_never_rotates_or_sees_an_admin_key(client, api, admin_world, ops):
    admin_id = admin_world.keys["admin"].split("_")[1]
    call = as_key(client, ops)
    assert call("POST", f"/organisations/hub-operator/keys/{admin_id}/rotate").status_code == 404
    assert call("POST", f"/organisations/hub-operator/keys/{admin_id}/revoke").status_code == 404
    listed = call("GET", "/organisations/hub-operator/keys").json()
    assert [k["account"] for k in listed] == ["ops"]
    assert api("admin", "GET", "/me").status_code == 200  # the admin key still works


def test_a_key_issues_keys_for_its_own_account_only(client, api, admin_world):
    api("admin", "POST", "/organisations/cert-b/keys", json={"account": "laptop"})
    r = api("cert-b", "POST", "/organisations/cert-b/keys", json={"account": "laptop"})
    assert r.status_code == 403
    assert api("cert-b", "POST", "/organisations/cert-b/keys", json={"account": "new-one"}).status_code == 403
    _secret, key = issue(api, "cert-b")  # its own account, by default
    assert key["account"] == "taxii"


# ---------------------------------------------------------------- scopes


def test_a_key_is_issued_with_all_four_scopes_by_default_sorted(api):
    _secret, key = issue(api, "cert-b")
    assert key["scopes"] == ["download", "manage", "read", "write"]
    _secret, key = issue(api, "cert-b", scopes=["write", "read", "read"])
    assert key["scopes"] == ["read", "write"]
    assert api("cert-b", "GET", "/organisations/cert-b/keys").json()[0]["scopes"] == ["read", "write"]


def test_unknown_or_empty_scopes_are_422(api):
    for bad in (["root"], []):
        r = api("cert-b", "POST", "/organisations/cert-b/keys", json={"scopes": bad})
        assert r.status_code == 422, bad


def test_a_key_never_grants_a_scope_it_does_not_hold(client, api):
    limited, _key = issue(api, "cert-b", scopes=["manage", "read"])
    call = as_key(client, limited)
    r = call("POST", "/organisations/cert-b/keys", json={"scopes": ["read", "write"]})
    assert r.status_code == 403 and "write" in r.json()["description"]
    assert call("POST", "/organisations/cert-b/keys", json={}).status_code == 403  # all four by default
    r = call("POST", "/organisations/cert-b/keys", json={"scopes": ["read"]})
    assert r.status_code == 201 and r.json()["key"]["scopes"] == ["read"]


def test_rotation_keeps_the_scopes(client, api):
    _secret, key = issue(api, "cert-b", scopes=["download"])
    r = api("cert-b", "POST", f"/organisations/cert-b/keys/{key['key_id']}/rotate", json={})
    assert r.status_code == 200 and r.json()["key"]["scopes"] == ["download"]


def test_taxii_reads_need_read_and_writes_need_write(client, api, world):
    url = world.objects_url()
    reader, _ = issue(api, "cert-b", scopes=["read"])
    writer, _ = issue(api, "cert-b", scopes=["write"])
    assert taxii(client, reader, "GET", "/taxii2/africa/").status_code == 200
    assert taxii(client, reader, "GET", url).status_code == 200
    r = taxii(client, reader, "POST", url, content=envelope(indicator(1)))
    assert r.status_code == 403 and r.headers["content-type"] == TAXII and "write" in r.json()["description"]
    assert taxii(client, writer, "GET", url).status_code == 403
    assert taxii(client, writer, "POST", url, content=envelope(indicator(1))).status_code == 202
    obj = indicator(1)["id"]
    assert taxii(client, reader, "DELETE", f"{url}{obj}/").status_code == 403
    assert taxii(client, writer, "DELETE", f"{url}{obj}/").status_code == 200


def test_downloads_need_download_and_the_admin_api_needs_manage(client, api):
    reader, _ = issue(api, "cert-b", scopes=["read"])
    device, _ = issue(api, "cert-b", scopes=["download"])
    manager, _ = issue(api, "cert-b", scopes=["manage"])
    txt = "/console/downloads/africa/blocklist.txt?kind=ip"
    assert client.get(txt, headers=bearer(device)).status_code == 200
    assert client.get(txt, headers=bearer(reader)).status_code == 403
    assert client.get(txt, headers=bearer(manager)).status_code == 403
    assert as_key(client, manager)("GET", "/me").status_code == 200
    assert as_key(client, reader)("GET", "/me").status_code == 403
    assert taxii(client, manager, "GET", "/taxii2/").status_code == 403
    explain = "/admin/api/groups/africa/policy/explain?object=indicator--0"  # for coordinators: cert-a
    a_device, _ = issue(api, "cert-a", scopes=["download"])
    a_reader, _ = issue(api, "cert-a", scopes=["read"])
    r = client.get(explain, headers=bearer(a_device))
    assert r.status_code == 403 and "'read' scope" in r.json()["description"]
    assert client.get(explain, headers=bearer(a_reader)).status_code != 403


# ---------------------------------------------------------------- observation 6: a device key


def test_a_download_key_mints_no_keys_revokes_nothing_and_publishes_nothing(client, api, world):
    device, _ = issue(api, "cert-b", scopes=["download"])
    other = world.keys["cert-b"].split("_")[1]
    call = as_key(client, device)
    assert call("POST", "/organisations/cert-b/keys", json={"scopes": ["download"]}).status_code == 403
    assert call("POST", f"/organisations/cert-b/keys/{other}/revoke").status_code == 403
    assert call("POST", f"/organisations/cert-b/keys/{other}/rotate").status_code == 403
    r = taxii(client, device, "POST", world.objects_url(), content=envelope(indicator(2)))
    assert r.status_code == 403
    assert client.get("/console/downloads/africa/bundle.json", headers=bearer(device)).status_code == 200
    assert api("cert-b", "GET", "/me").status_code == 200  # the organisation's other key is untouched


def test_cli_issues_a_download_key_with_scope(client, world, sm, db_url, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setattr("hub.cli.make_sessionmaker", lambda _engine: sm)
    runner = CliRunner()
    r = runner.invoke(cli_app, ["key", "create", "--org", "cert-b", "--label", "fw", "--scope", "download"])
    assert r.exit_code == 0, r.output
    device = r.output.strip()
    assert (
        client.get("/console/downloads/africa/blocklist.txt?kind=ip", headers=bearer(device)).status_code
        == 200
    )
    assert taxii(client, device, "GET", "/taxii2/").status_code == 403
    bad = runner.invoke(cli_app, ["key", "create", "--org", "cert-b", "--scope", "root"])
    assert bad.exit_code == 2 and "--scope" in bad.output


# ---------------------------------------------------------------- observation 5: a coordinator's reach


def test_a_coordinator_neither_lists_nor_revokes_another_groups_coordinators_keys(client, api, world):
    # cert-c coordinates asia, where cert-a is a reader; cert-a's key is also africa's coordinator's
    key_id = world.keys["cert-a"].split("_")[1]
    assert api("cert-c", "GET", "/organisations/cert-a/keys").status_code == 403
    assert api("cert-c", "POST", f"/organisations/cert-a/keys/{key_id}/revoke").status_code == 403
    assert api("cert-a", "GET", "/groups/africa/members").status_code == 200


def test_a_coordinators_suspension_reaches_the_members_access_to_that_group_only(client, api, world, sm):
    key_id = world.keys["cert-a"].split("_")[1]
    r = api("cert-c", "POST", f"/groups/asia/members/cert-a/keys/{key_id}/suspend")
    assert r.status_code == 200 and r.json()["suspended"] is True
    a = world.keys["cert-a"]
    r = taxii(client, a, "GET", "/taxii2/asia/")
    assert r.status_code == 403 and "suspended" in r.json()["description"]
    assert taxii(client, a, "GET", world.objects_url("asia")).status_code == 403
    assert client.get("/console/downloads/asia/blocklist.txt?kind=ip", headers=bearer(a)).status_code in (
        403,
        404,
    )
    # elsewhere the key works as before: africa's TAXII and africa's coordination
    assert taxii(client, a, "GET", world.objects_url("africa")).status_code == 200
    assert api("cert-a", "GET", "/groups/africa/members").status_code == 200
    with sm() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "key.suspend")).one()
    assert key_id in (ev.target or "") and "asia" in (ev.target or "")
    r = api("cert-c", "POST", f"/groups/asia/members/cert-a/keys/{key_id}/reinstate")
    assert r.status_code == 200 and r.json()["suspended"] is False
    assert taxii(client, a, "GET", "/taxii2/asia/").status_code == 200


def test_a_coordinators_listing_of_a_members_keys_tells_nothing_of_other_groups(api, world):
    key_id = world.keys["cert-a"].split("_")[1]
    issue(api, "cert-a", label="africa coordinator laptop")
    api("cert-a", "POST", f"/groups/africa/members/cert-a/keys/{key_id}/suspend")  # cert-a's own group
    listed = api("cert-c", "GET", "/groups/asia/members/cert-a/keys")
    assert listed.status_code == 200
    assert "africa" not in listed.text and "laptop" not in listed.text
    assert all(k["suspended"] is False for k in listed.json())
    assert key_id in {k["key_id"] for k in listed.json()}
    # another group's member, or a group the caller does not coordinate, is not reachable
    assert api("cert-c", "GET", "/groups/asia/members/cert-b/keys").status_code == 404
    assert api("cert-c", "GET", "/groups/africa/members/cert-a/keys").status_code == 403
    own = api("cert-a", "GET", "/organisations/cert-a/keys").json()
    assert next(k for k in own if k["key_id"] == key_id)["suspended_in"] == ["africa"]


def test_a_rotated_key_keeps_its_group_suspensions(client, api, world):
    key_id = world.keys["cert-a"].split("_")[1]
    api("cert-c", "POST", f"/groups/asia/members/cert-a/keys/{key_id}/suspend")
    r = api("cert-a", "POST", f"/organisations/cert-a/keys/{key_id}/rotate", json={"grace_seconds": 60})
    assert r.status_code == 200 and r.json()["key"]["suspended_in"] == ["asia"]
    assert taxii(client, r.json()["secret"], "GET", "/taxii2/asia/").status_code == 403


# ---------------------------------------------------------------- observation 7: key ids in paths


@pytest.mark.parametrize("action", ["rotate", "revoke"])
def test_a_whole_key_in_a_key_path_is_refused_without_echoing_it(api, world, action):
    secret = world.keys["cert-b"]
    for bad in (secret, secret.split("_", 2)[2], "hub_" + secret.split("_")[1], "ABCDEF0123456789"):
        r = api("cert-b", "POST", f"/organisations/cert-b/keys/{bad}/{action}", json={})
        assert r.status_code == 422, (bad, r.text)
        assert bad not in r.text and secret.split("_", 2)[2] not in r.text
        assert "16 hexadecimal" in r.json()["description"]
    r = api("cert-a", "POST", f"/groups/africa/members/cert-b/keys/{secret}/suspend")
    assert r.status_code == 422 and secret.split("_", 2)[2] not in r.text
    assert api("cert-b", "GET", "/me").status_code == 200


# ---------------------------------------------------------------- observation 14: rotation


def test_a_rotated_key_says_rotated_until_its_grace_ends_and_is_not_rotated_again(api):
    expires = datetime.now(UTC) + timedelta(days=30)
    _secret, key = issue(api, "cert-b", expires_at=expires.isoformat())
    path = f"/organisations/cert-b/keys/{key['key_id']}/rotate"
    r = api("cert-b", "POST", path, json={"grace_seconds": 3600})
    assert r.status_code == 200
    new, old = r.json()["key"], r.json()["previous"]
    assert old["state"] == "rotated" and new["state"] == "active"
    assert old["replaced_by"] == new["key_id"]
    until = datetime.fromisoformat(old["works_until"])
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
    # the new key keeps the original expiry, not the grace period's end
    assert abs(datetime.fromisoformat(new["expires_at"]) - expires) < timedelta(seconds=1)
    again = api("cert-b", "POST", path, json={"grace_seconds": 3600})
    assert again.status_code == 409 and "rotated" in again.json()["description"]
    listed = {k["key_id"]: k for k in api("cert-b", "GET", "/organisations/cert-b/keys").json()}
    assert listed[key["key_id"]]["state"] == "rotated" and listed[key["key_id"]]["works_until"]
    assert listed[new["key_id"]]["state"] == "active" and listed[new["key_id"]]["works_until"] is None


# ---------------------------------------------------------------- digests


def test_an_argon2_key_is_moved_to_a_digest_on_its_first_use(client, world, sm):
    secret = "legacy-secret-" + "x" * 30
    with sm() as s, s.begin():
        acct = s.scalar(
            select(Account).join(Organisation).where(Organisation.slug == "cert-b", Account.name == "taxii")
        )
        old_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(secret)
        s.add(ApiKey(key_id="00112233aabbccdd", account_id=acct.id, secret_hash=old_hash, label="old",
                     created_at=datetime.now(UTC)))  # fmt: skip
    key = f"hub_00112233aabbccdd_{secret}"
    assert taxii(client, "hub_00112233aabbccdd_wrong", "GET", "/taxii2/").status_code == 401
    with sm() as s:
        assert s.scalar(select(ApiKey.secret_hash).where(ApiKey.key_id == "00112233aabbccdd")) == old_hash
    assert taxii(client, key, "GET", "/taxii2/").status_code == 200
    with sm() as s:
        stored = s.scalar(select(ApiKey.secret_hash).where(ApiKey.key_id == "00112233aabbccdd"))
    assert stored == svc.key_digest(secret) and stored.startswith("sha256:")
    assert taxii(client, key, "GET", "/taxii2/").status_code == 200
    assert taxii(client, "hub_00112233aabbccdd_wrong", "GET", "/taxii2/").status_code == 401


def test_a_key_is_checked_by_a_constant_time_comparison_of_digests(client, world, monkeypatch):
    seen: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def compare(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(svc.hmac, "compare_digest", compare)
    key = world.keys["cert-c"]
    assert taxii(client, key, "GET", "/taxii2/").status_code == 200
    digest = svc.key_digest(key.split("_", 2)[2]).encode()
    assert seen == [(digest, digest)]
    seen.clear()
    assert taxii(client, key + "x", "GET", "/taxii2/").status_code == 401
    assert len(seen) == 1 and seen[0][0] == digest != seen[0][1]
