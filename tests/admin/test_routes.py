"""The admin API (/admin/v1) through HTTP, every operation, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from hub.store.models import AuditEvent
from hub.store.tables import ObjectVersion
from hub.trust.models import Collection, Invitation, Organisation
from tests.factories import TLP, indicator
from tests.taxii_helpers import post


def taxii_get(client, world, org, path="/taxii2/africa/"):
    return client.get(path, headers=world.auth(org))


def events(sm, action):
    with sm() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# ---------------------------------------------------------------- who am I, schema, docs


def test_me_says_who_the_caller_is(api):
    r = api("cert-a", "GET", "/me")
    assert r.status_code == 200
    assert r.json()["memberships"]["africa"] == {"role": "coordinator", "clearance": "amber+strict"}
    assert r.json()["platform_admin"] is False
    assert api("admin", "GET", "/me").json()["platform_admin"] is True


def test_no_key_is_401_with_a_taxii_error_resource(api):
    r = api(None, "GET", "/groups")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["http_status"] == "401" and r.json()["title"] == "Unauthorized"


def test_openapi_schema_and_docs_are_served(api):
    schema = api(None, "GET", "/openapi.json").json()
    assert "/admin/v1/groups/{group}/members" in schema["paths"]
    assert "MemberCreate" in schema["components"]["schemas"]
    assert "swagger" in api(None, "GET", "/docs").text.lower()


# ---------------------------------------------------------------- organisations


def test_admin_creates_an_organisation_and_a_duplicate_is_409(api, sm):
    r = api("admin", "POST", "/organisations", json={"slug": "cert-d", "name": "D", "country": "MU"})
    assert r.status_code == 201, r.text
    assert r.json()["identity"].startswith("identity--") and r.json()["active"] is True
    dup = api("admin", "POST", "/organisations", json={"slug": "cert-d", "name": "D again"})
    assert dup.status_code == 409 and "already exists" in dup.json()["description"]
    (ev,) = [e for e in events(sm, "organisation.create") if e.target == "organisation cert-d"]
    assert json.loads(ev.after)["slug"] == "cert-d" and ev.before is None


def test_bad_organisation_values_are_422_with_the_field(api):
    r = api("admin", "POST", "/organisations", json={"slug": "Not A Slug", "name": "x"})
    assert r.status_code == 422 and "body.slug" in r.json()["description"]
    r = api("admin", "POST", "/organisations", json={"slug": "ok", "name": "x", "country": "mu"})
    assert r.status_code == 422 and "country" in r.json()["description"]
    r = api("admin", "POST", "/organisations", json={"slug": "ok", "name": "x", "colour": "red"})
    assert r.status_code == 422 and "colour" in r.json()["description"]


def test_a_coordinator_cannot_create_organisations(api):
    r = api("cert-a", "POST", "/organisations", json={"slug": "cert-d", "name": "D"})
    assert r.status_code == 403 and "invite" in r.json()["description"]


def test_an_organisation_updates_its_own_record_but_not_anothers(api, sm):
    r = api("cert-b", "PATCH", "/organisations/cert-b", json={"name": "CERT B", "contact": "soc@b.example"})
    assert r.status_code == 200 and r.json()["name"] == "CERT B"
    (ev,) = events(sm, "organisation.update")
    assert json.loads(ev.before)["name"] == "CERT-B" and json.loads(ev.after)["name"] == "CERT B"
    assert api("cert-a", "PATCH", "/organisations/cert-b", json={"name": "x"}).status_code == 403
    assert api("cert-b", "PATCH", "/organisations/cert-b", json={"active": False}).status_code == 403


def test_deactivating_an_organisation_refuses_its_keys_at_once_and_keeps_its_objects(client, api, world, sm):
    assert post(client, world, [indicator(1)], org="cert-b").status_code == 202
    assert taxii_get(client, world, "cert-b").status_code == 200  # its key is verified and cached
    r = api("admin", "POST", "/organisations/cert-b/deactivate")
    assert r.status_code == 200 and r.json()["active"] is False
    assert taxii_get(client, world, "cert-b").status_code == 401
    assert api("cert-b", "GET", "/me").status_code == 401
    objs = client.get(world.objects_url(), headers=world.auth("cert-c")).json()["objects"]
    assert [o["id"] for o in objs] == [indicator(1)["id"]]
    assert events(sm, "organisation.deactivate")
    assert api("admin", "PATCH", "/organisations/cert-b", json={"active": True}).status_code == 200
    assert taxii_get(client, world, "cert-b").status_code == 200


def test_organisations_listed_are_only_those_the_caller_may_know(api):
    assert {o["slug"] for o in api("cert-a", "GET", "/organisations").json()} == {
        "cert-a", "cert-b", "cert-c", "vendor", "cert-g"
    }  # fmt: skip
    assert {o["slug"] for o in api("cert-b", "GET", "/organisations").json()} == {"cert-b"}
    assert "outsider" in {o["slug"] for o in api("admin", "GET", "/organisations").json()}
    assert api("cert-b", "GET", "/organisations/cert-b").status_code == 200
    assert api("cert-b", "GET", "/organisations/cert-a").status_code == 404


# ---------------------------------------------------------------- trust groups


def test_admin_creates_a_group_and_bad_levels_are_422(api, sm):
    body = {"slug": "europe", "name": "Europe", "default_tlp": "green", "max_tlp": "amber"}
    r = api("admin", "POST", "/groups", json=body)
    assert r.status_code == 201 and r.json()["api_root"] == "/taxii2/europe/"
    assert api("admin", "POST", "/groups", json=body).status_code == 409
    r = api(
        "admin", "POST", "/groups", json={"slug": "x", "name": "X", "default_tlp": "red", "max_tlp": "amber"}
    )
    assert r.status_code == 422 and "default_tlp" in r.json()["description"]
    r = api("admin", "POST", "/groups", json={"slug": "x", "name": "X", "max_tlp": "red"})
    assert r.status_code == 422 and "named-recipient" in r.json()["description"]
    r = api("admin", "POST", "/groups", json={"slug": "x", "name": "X", "max_tlp": "purple"})
    assert r.status_code == 422 and "max_tlp" in r.json()["description"]
    assert api("cert-a", "POST", "/groups", json={"slug": "y", "name": "Y"}).status_code == 403
    assert len(events(sm, "group.create")) == 1


def test_a_coordinator_updates_its_group_but_not_its_community(api, sm):
    r = api("cert-a", "PATCH", "/groups/africa", json={"description": "AfricaCERT", "max_tlp": "amber"})
    assert r.status_code == 200 and r.json()["max_tlp"] == "amber"
    (ev,) = events(sm, "group.update")
    assert json.loads(ev.before)["max_tlp"] == "amber+strict" and json.loads(ev.after)["max_tlp"] == "amber"
    r = api("cert-a", "PATCH", "/groups/africa", json={"community": "everyone"})
    assert r.status_code == 403 and "community" in r.json()["description"]
    assert api("admin", "PATCH", "/groups/africa", json={"community": "everyone"}).status_code == 200
    assert api("cert-b", "PATCH", "/groups/africa", json={"name": "Mine"}).status_code == 403


def test_members_see_their_groups(api):
    assert [g["slug"] for g in api("cert-b", "GET", "/groups").json()] == ["africa", "global"]
    assert api("cert-b", "GET", "/groups/africa").status_code == 200
    assert api("cert-b", "GET", "/groups/asia").status_code == 404


# ---------------------------------------------------------------- memberships


def test_coordinator_lists_and_changes_members(api, sm):
    members = {m["organisation"]: m for m in api("cert-a", "GET", "/groups/africa/members").json()}
    assert members["vendor"]["clearance"] == "green"
    r = api(
        "cert-a", "PATCH", "/groups/africa/members/vendor", json={"clearance": "amber", "role": "contributor"}
    )
    assert r.status_code == 200 and r.json() == {**r.json(), "clearance": "amber", "role": "contributor"}
    (ev,) = events(sm, "membership.update")
    assert json.loads(ev.before) == {"clearance": "green", "role": "reader"}
    assert json.loads(ev.after) == {"clearance": "amber", "role": "contributor"}
    assert api("cert-a", "GET", "/groups/africa/members/vendor").json()["role"] == "contributor"
    assert api("cert-a", "GET", "/groups/africa/members/outsider").status_code == 404


def test_clearance_above_max_tlp_unknown_tlp_and_unknown_role_are_422(api):
    r = api("cert-a", "PATCH", "/groups/africa/members/vendor", json={"clearance": "red"})
    assert r.status_code == 422 and "above the group's max_tlp" in r.json()["description"]
    r = api("cert-a", "PATCH", "/groups/africa/members/vendor", json={"clearance": "ultra"})
    assert r.status_code == 422 and "clearance" in r.json()["description"]
    r = api("cert-a", "PATCH", "/groups/africa/members/vendor", json={"role": "owner"})
    assert r.status_code == 422 and "role" in r.json()["description"]
    assert api("cert-a", "GET", "/groups/africa/members/vendor").json()["clearance"] == "green"


def test_members_are_added_and_removed_and_removal_refuses_the_next_request(client, api, world, sm):
    r = api("cert-a", "POST", "/groups/africa/members", json={"organisation": "outsider", "role": "reader"})
    assert r.status_code == 422 and "invite it" in r.json()["description"]  # not one the coordinator knows
    nobody = api(
        "cert-a", "POST", "/groups/africa/members", json={"organisation": "nobody", "role": "reader"}
    )
    assert nobody.status_code == 422 and nobody.json()["description"] == r.json()["description"].replace(
        "outsider", "nobody"
    )
    r = api("admin", "POST", "/groups/africa/members", json={"organisation": "outsider", "role": "reader"})
    assert r.status_code == 201 and r.json()["clearance"] == "amber"
    r = api("admin", "POST", "/groups/africa/members", json={"organisation": "outsider", "role": "reader"})
    assert r.status_code == 409
    assert post(client, world, [indicator(7)], org="cert-b").status_code == 202
    assert taxii_get(client, world, "cert-b").status_code == 200
    assert api("cert-a", "DELETE", "/groups/africa/members/cert-b").status_code == 204
    assert taxii_get(client, world, "cert-b").status_code == 403
    assert client.get(world.objects_url(), headers=world.auth("cert-b")).status_code == 403
    seen = client.get(world.objects_url(), headers=world.auth("cert-c")).json()["objects"]
    assert [o["id"] for o in seen] == [indicator(7)["id"]]  # what it published stays
    (ev,) = events(sm, "membership.remove")
    assert json.loads(ev.before)["role"] == "contributor" and ev.after is None


def test_a_coordinator_cannot_change_or_remove_its_own_membership(api):
    r = api("cert-a", "PATCH", "/groups/africa/members/cert-a", json={"clearance": "green"})
    assert r.status_code == 403 and "own" in r.json()["description"]
    assert api("cert-a", "DELETE", "/groups/africa/members/cert-a").status_code == 403


# ---------------------------------------------------------------- invitations


def _invite(api, who="cert-a", **body):
    body = {
        "organisation": "cert-new",
        "name": "CERT New",
        "role": "contributor",
        "clearance": "green",
        **body,
    }
    return api(who, "POST", "/groups/africa/invitations", json=body)


def test_an_invited_new_cirt_redeems_once_and_gets_its_own_key(client, api, sm):
    r = _invite(api, country="KE")
    assert r.status_code == 201 and r.json()["state"] == "pending"
    token = r.json()["token"]
    with sm() as s:
        stored = s.scalar(select(Invitation))
        assert token.split("_", 2)[2] not in (stored.token_digest, stored.token_id)
    done = api(None, "POST", "/invitations/redeem", json={"token": token, "account": "soc"})
    assert done.status_code == 201, done.text
    assert done.json()["organisation"] == "cert-new" and done.json()["key"].startswith("hub_")
    assert done.json()["pending_approval"] is True
    key = done.json()["key"]
    assert client.get("/admin/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert api("admin", "POST", "/organisations/cert-new/approve").json()["active"] is True
    me = client.get("/admin/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert me["memberships"] == {"africa": {"role": "contributor", "clearance": "green"}}
    again = api(None, "POST", "/invitations/redeem", json={"token": token})
    assert again.status_code == 409 and "redeemed" in again.json()["description"]
    listed = api("cert-a", "GET", "/groups/africa/invitations").json()
    assert [i["state"] for i in listed] == ["redeemed"] and "token" not in listed[0]
    assert {e.action for e in events(sm, "invitation.redeem")} == {"invitation.redeem"}


def test_inviting_an_existing_or_a_new_organisation_looks_the_same_to_the_coordinator(api):
    existing = _invite(api, organisation="outsider", name="").json()
    new = _invite(api, organisation="cert-zz", name="").json()
    assert set(existing) == set(new) and existing["state"] == new["state"] == "pending"


def test_an_existing_organisation_redeems_only_with_its_own_key(api, world):
    r = api("admin", "POST", "/organisations/outsider/keys", json={})  # outsider is in no group
    token = _invite(api, organisation="outsider", name="", role="reader", clearance="amber").json()["token"]
    # without the organisation's key the answer is a bad token's: it never tells that 'outsider' exists
    bad = api(None, "POST", "/invitations/redeem", json={"token": token[:-4] + "AAAA"})
    assert bad.status_code == 404
    assert api(None, "POST", "/invitations/redeem", json={"token": token}).content == bad.content
    assert api("cert-b", "POST", "/invitations/redeem", json={"token": token}).content == bad.content
    done = api("outsider", "POST", "/invitations/redeem", json={"token": token})
    assert done.status_code == 201 and done.json()["key"] is None
    assert r.status_code == 201
    assert api("outsider", "GET", "/me").json()["memberships"]["africa"]["role"] == "reader"


def test_expired_revoked_and_forged_invitations_are_refused(api, sm):
    token = _invite(api).json()["token"]
    with sm() as s, s.begin():
        s.execute(update(Invitation).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    r = api(None, "POST", "/invitations/redeem", json={"token": token})
    assert r.status_code == 409 and "expired" in r.json()["description"]
    second = _invite(api, organisation="cert-two").json()
    assert api("cert-a", "DELETE", f"/groups/africa/invitations/{second['id']}").json()["state"] == "revoked"
    assert api(None, "POST", "/invitations/redeem", json={"token": second["token"]}).status_code == 409
    forged = second["token"][:-4] + "AAAA"
    assert api(None, "POST", "/invitations/redeem", json={"token": forged}).status_code == 404
    assert api(None, "POST", "/invitations/redeem", json={"token": "nonsense"}).status_code == 404
    with sm() as s:
        assert s.scalar(select(Organisation).where(Organisation.slug.in_(["cert-new", "cert-two"]))) is None


def test_bad_invitations_are_422_or_409(api):
    r = _invite(api, clearance="red")
    assert r.status_code == 422 and "max_tlp" in r.json()["description"]
    assert _invite(api, organisation="cert-b").status_code == 409  # already a member
    assert _invite(api, expires_in_hours=0).status_code == 422
    assert _invite(api, who="cert-b").status_code == 403


# ---------------------------------------------------------------- collections


def test_named_recipient_collection_is_created_renamed_and_its_recipients_changed(client, api, world, sm):
    body = {
        "alias": "a-to-c",
        "title": "A to C",
        "kind": "named",
        "owner": "cert-a",
        "recipients": ["cert-c"],
    }
    r = api("cert-a", "POST", "/groups/africa/collections", json=body)
    assert r.status_code == 201 and r.json()["recipients"] == ["cert-c"]
    cid = r.json()["id"]
    assert post(client, world, [indicator(3, tlp="red")], org="cert-a", coll_id=cid).status_code == 202
    url = f"/taxii2/africa/collections/{cid}/objects/"
    assert len(client.get(url, headers=world.auth("cert-c")).json()["objects"]) == 1
    assert client.get(url, headers=world.auth("cert-b")).status_code == 404
    r = api(
        "cert-a",
        "PATCH",
        f"/groups/africa/collections/{cid}",
        json={"recipients": ["cert-b"], "alias": "a-to-b2"},
    )
    assert r.status_code == 200 and r.json()["alias"] == "a-to-b2" and r.json()["recipients"] == ["cert-b"]
    assert client.get(url, headers=world.auth("cert-c")).status_code == 404
    assert len(client.get(url, headers=world.auth("cert-b")).json()["objects"]) == 1
    (ev,) = events(sm, "collection.update")
    assert json.loads(ev.before)["recipients"] == ["cert-c"] and json.loads(ev.after)["recipients"] == [
        "cert-b"
    ]
    assert api("cert-a", "GET", "/groups/africa/collections/a-to-b2").json()["id"] == cid


def test_bad_collections_are_refused_and_nothing_is_half_made(api, sm):
    body = {"alias": "x", "kind": "named", "owner": "cert-a", "recipients": ["cert-b", "outsider"]}
    r = api("cert-a", "POST", "/groups/africa/collections", json=body)
    assert r.status_code == 422 and "'outsider' is not a member" in r.json()["description"]
    assert (
        api("cert-a", "POST", "/groups/africa/collections", json={"alias": "indicators"}).status_code == 409
    )
    r = api("cert-a", "POST", "/groups/africa/collections", json={"alias": "y", "kind": "named"})
    assert r.status_code == 422 and "owner" in r.json()["description"]
    with sm() as s:
        assert (
            s.scalar(select(func.count()).select_from(Collection).where(Collection.alias.in_(["x", "y"])))
            == 0
        )
    assert events(sm, "collection.create") == []


def test_an_archived_collection_is_read_only_and_keeps_its_objects(client, api, world):
    assert post(client, world, [indicator(1)], org="cert-b").status_code == 202
    r = api("cert-a", "POST", "/groups/africa/collections/indicators/archive")
    assert r.status_code == 200 and r.json()["archived_at"]
    refused = post(client, world, [indicator(2)], org="cert-b")
    assert refused.status_code == 403 and "archived" in refused.json()["description"]
    stix_id = indicator(1)["id"]
    assert client.delete(world.objects_url() + f"{stix_id}/", headers=world.auth("cert-a")).status_code == 403
    assert len(client.get(world.objects_url(), headers=world.auth("cert-c")).json()["objects"]) == 1
    coll = client.get(f"/taxii2/africa/collections/{world.collections['africa/indicators']}/",
                      headers=world.auth("cert-b")).json()  # fmt: skip
    assert coll["can_write"] is False and coll["can_read"] is True
    assert api("cert-a", "POST", "/groups/africa/collections/indicators/archive").status_code == 409
    assert (
        api("cert-a", "PATCH", "/groups/africa/collections/indicators", json={"title": "x"}).status_code
        == 409
    )


# ---------------------------------------------------------------- API keys


def test_keys_are_issued_listed_without_secrets_and_revoked(client, api, sm):
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    r = api("cert-b", "POST", "/organisations/cert-b/keys", json={"label": "laptop", "expires_at": expires})
    assert r.status_code == 201
    secret, key_id = r.json()["secret"], r.json()["key"]["key_id"]
    h = {"Authorization": f"Bearer {secret}"}
    assert client.get("/admin/v1/me", headers=h).status_code == 200
    listing = api("cert-b", "GET", "/organisations/cert-b/keys")
    assert key_id in listing.text and secret.split("_", 2)[2] not in listing.text
    assert api("cert-b", "POST", f"/organisations/cert-b/keys/{key_id}/revoke").json()["state"] == "revoked"
    assert client.get("/admin/v1/me", headers=h).status_code == 401
    assert [json.loads(e.after)["revoked"] for e in events(sm, "key.revoke")] == [True]
    assert api("cert-b", "POST", "/organisations/cert-b/keys/0000000000000000/revoke").status_code == 404


def test_an_expiry_in_the_past_is_422(api):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = api("cert-b", "POST", "/organisations/cert-b/keys", json={"expires_at": past})
    assert r.status_code == 422 and "in the past" in r.json()["description"]


def test_rotation_gives_a_new_key_and_the_old_one_works_for_the_grace_period(client, api, world):
    key_id = world.keys["cert-b"].split("_")[1]
    r = api("cert-b", "POST", f"/organisations/cert-b/keys/{key_id}/rotate", json={"grace_seconds": 3600})
    assert r.status_code == 200, r.text
    assert r.json()["previous"]["expires_at"] and r.json()["key"]["label"] == r.json()["previous"]["label"]
    new = {"Authorization": f"Bearer {r.json()['secret']}", "Accept": world.auth("cert-b")["Accept"]}
    assert client.get("/taxii2/africa/", headers=new).status_code == 200
    assert taxii_get(client, world, "cert-b").status_code == 200  # within the grace period
    r2 = api("cert-b", "POST", f"/organisations/cert-b/keys/{r.json()['key']['key_id']}/rotate",
             json={"grace_seconds": 0}, headers={"Authorization": new["Authorization"]})  # fmt: skip
    assert r2.status_code == 200
    assert client.get("/taxii2/africa/", headers=new).status_code == 401  # rotated out, no grace


def test_a_coordinator_suspends_in_its_group_but_never_revokes_or_issues_a_members_keys(api, world):
    key_id = world.keys["cert-b"].split("_")[1]
    assert api("cert-a", "GET", "/organisations/cert-b/keys").status_code == 403
    assert api("cert-a", "POST", "/organisations/cert-b/keys", json={}).status_code == 403
    assert api("cert-a", "POST", f"/organisations/cert-b/keys/{key_id}/rotate").status_code == 403
    assert api("cert-a", "POST", f"/organisations/cert-b/keys/{key_id}/revoke").status_code == 403
    assert api("cert-a", "GET", "/groups/africa/members/cert-b/keys").status_code == 200
    r = api("cert-a", "POST", f"/groups/africa/members/cert-b/keys/{key_id}/suspend")
    assert r.status_code == 200 and r.json()["suspended"] is True
    assert api("cert-b", "GET", "/me").status_code == 200  # suspended in africa, not revoked
    assert api("vendor", "GET", "/organisations/cert-a/keys").status_code == 404


# ---------------------------------------------------------------- audit log and statistics


def test_audit_log_filters_paginates_and_exports(api):
    for n in range(5):
        api("cert-a", "PATCH", "/groups/africa", json={"description": f"v{n}"})
    api("cert-a", "PATCH", "/groups/africa/members/vendor", json={"clearance": "clear"})
    page = api("cert-a", "GET", "/audit", params={"action": "group.update", "limit": 2}).json()
    assert [e["after"]["description"] for e in page["events"]] == ["v4", "v3"]
    seen, cursor = [], None
    while True:
        params = {"group": "africa", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api("cert-a", "GET", "/audit", params=params).json()
        seen += [e["id"] for e in body["events"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert len(seen) == 6 and seen == sorted(seen, reverse=True)
    by_org = api("cert-a", "GET", "/audit", params={"organisation": "vendor"}).json()["events"]
    assert [e["action"] for e in by_org] == ["membership.update"]
    assert by_org[0]["organisation"] == "cert-a" and by_org[0]["target_organisation"] == "vendor"
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert api("cert-a", "GET", "/audit", params={"since": future}).json()["events"] == []
    assert len(api("cert-a", "GET", "/audit", params={"until": future}).json()["events"]) == 6
    lines = api("cert-a", "GET", "/audit/export", params={"group": "africa"})
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(x)["id"] for x in lines.text.splitlines()] == seen
    assert api("cert-a", "GET", "/audit", params={"cursor": "abc"}).status_code == 422
    assert api("cert-a", "GET", "/audit", params={"cursor": "1²"}).status_code == 422  # isdigit() says yes


def test_group_statistics_count_what_the_caller_may_read(client, api, world):
    assert post(client, world, [indicator(1), indicator(2, tlp="amber")], org="cert-b").status_code == 202
    stats = api("cert-a", "GET", "/groups/africa/stats").json()
    assert stats["total"] == 2 and stats["by_tlp"] == {"green": 1, "amber": 1}
    assert stats["by_type"] == {"indicator": 2}
    assert sum(stats["per_day"].values()) == 2
    assert stats["last_push"]["cert-b"] and stats["last_push"]["cert-c"] is None
    assert api("cert-b", "GET", "/groups/africa/stats").status_code == 403
    assert api("admin", "GET", "/groups/africa/stats").json()["total"] == 2


def test_statistics_never_count_private_versions(client, api, world):
    # cert-b's AMBER+STRICT object is hidden from cert-g, whose re-post of its id is a private version:
    # no one's statistics count it, and it must not break them either
    hidden = indicator(7, tlp="amber+strict")
    assert post(client, world, [hidden], org="cert-b").status_code == 202
    guess = dict(hidden, object_marking_refs=[TLP["green"]], name="guessed")
    r = post(client, world, [guess], org="cert-g")
    assert r.json()["successes"][0]["message"] == "stored"
    for who in ("admin", "cert-a"):
        stats = api(who, "GET", "/groups/africa/stats")
        assert stats.status_code == 200, stats.text
        assert stats.json()["total"] == 1 and stats.json()["by_tlp"] == {"amber+strict": 1}, who


def test_statistics_never_count_what_the_coordinator_may_not_read(client, api, world, sm):
    # a RED object in the named-recipient collection cert-a owns, then cert-a demoted to GREEN clearance
    cid = world.collections["africa/a-to-b"]
    assert post(client, world, [indicator(5, tlp="red")], org="cert-a", coll_id=cid).status_code == 202
    assert post(client, world, [indicator(6, tlp="amber")], org="cert-b").status_code == 202
    r = api(
        "admin", "PATCH", "/groups/africa/members/cert-c", json={"role": "coordinator", "clearance": "green"}
    )
    assert r.status_code == 200
    stats = api("cert-c", "GET", "/groups/africa/stats").json()
    assert stats["total"] == 0 and stats["by_tlp"] == {}
    with sm() as s:
        assert s.scalar(select(func.count()).select_from(ObjectVersion)) == 2


def test_policy_explain_is_served_at_both_paths(client, api, world):
    assert post(client, world, [indicator(1)], org="cert-b").status_code == 202
    params = {"object": indicator(1)["id"], "reader": "vendor"}
    old = client.get("/admin/api/groups/africa/policy/explain", params=params, headers=world.auth("cert-a"))
    new = api("cert-a", "GET", "/groups/africa/policy/explain", params=params)
    assert old.status_code == new.status_code == 200 and old.json() == new.json()


def test_nul_characters_are_refused_not_a_database_error(api):
    r = api("admin", "POST", "/organisations", json={"slug": "cert-n", "name": "a\x00b"})
    assert r.status_code == 422 and "NUL" in r.json()["description"]
    # a NUL anywhere in the URL is refused for every surface before routing (hub/middleware.py)
    assert api("admin", "GET", "/groups/a%00b").status_code == 400
    assert api("admin", "GET", "/audit", params={"action": "x\x00"}).status_code == 400
