"""What a coordinator may do to members, collections and invitations, and learn, through the admin API.

Issue 17, observations 1, 4 and 10: each attack replayed as found, refused in the trust services.
"""

from __future__ import annotations

import orjson
from sqlalchemy import select, update

from hub.policy.tlp import Tlp
from hub.store.models import AuditEvent
from hub.sync.models import Feed
from hub.trust.models import CollectionRecipient, Membership, Organisation, TrustGroup
from tests.admin.conftest import set_clearance
from tests.factories import indicator
from tests.taxii_helpers import post


def _allow_red(sm):
    with sm() as s, s.begin():
        s.execute(update(TrustGroup).where(TrustGroup.slug == "africa").values(max_tlp=int(Tlp.RED)))


def _read(client, world, org, coll_id):
    return client.get(f"/taxii2/africa/collections/{coll_id}/objects/", headers=world.auth(org))


def _named_of_cert_b(api, sm, recipients=("cert-c",)):
    """cert-a (africa's coordinator) makes a named collection owned by cert-b (a contributor); its
    recipients are set as the owner would have them (directly: the owner's PATCH is tested on its own)."""
    body = {"alias": "b-red", "kind": "named", "owner": "cert-b"}
    r = api("cert-a", "POST", "/groups/africa/collections", json=body)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    with sm() as s, s.begin():
        for slug in recipients:
            oid = s.scalar(select(Organisation.id).where(Organisation.slug == slug))
            s.add(CollectionRecipient(collection_id=cid, organisation_id=oid))
    return cid


def test_a_coordinator_cannot_name_recipients_of_a_members_new_collection(api):
    body = {"alias": "b-red", "kind": "named", "owner": "cert-b", "recipients": ["cert-a"]}
    r = api("cert-a", "POST", "/groups/africa/collections", json=body)
    assert r.status_code == 403 and "Only the owner 'cert-b'" in r.json()["description"]
    assert api("cert-a", "GET", "/groups/africa/collections/b-red").status_code == 404


# ---------------------------------------------------------------- observation 1


def test_a_coordinator_cannot_add_recipients_to_a_members_named_collection(client, api, world, sm):
    _allow_red(sm)
    cid = _named_of_cert_b(api, sm)
    assert post(client, world, [indicator(1, tlp="red")], "cert-b", coll_id=cid).status_code == 202
    # the attack: the coordinator adds itself and a GREEN reader
    r = api(
        "cert-a",
        "PATCH",
        f"/groups/africa/collections/{cid}",
        json={"recipients": ["cert-c", "cert-a", "vendor"]},
    )
    assert r.status_code == 403 and "Only the owner" in r.json()["description"]
    for outsider in ("cert-a", "vendor"):
        assert _read(client, world, outsider, cid).status_code == 404
    # adding only itself is refused as well
    only_self = api(
        "cert-a", "PATCH", f"/groups/africa/collections/{cid}", json={"recipients": ["cert-c", "cert-a"]}
    )
    assert only_self.status_code == 403
    # narrowing is the coordinator's to do
    r = api("cert-a", "PATCH", f"/groups/africa/collections/{cid}", json={"recipients": []})
    assert r.status_code == 200 and r.json()["recipients"] == []
    assert _read(client, world, "cert-c", cid).status_code == 404


def test_the_owner_adds_recipients_and_sees_every_change_to_its_collection(client, api, world, sm):
    _allow_red(sm)
    cid = _named_of_cert_b(api, sm)
    assert (
        api("cert-a", "PATCH", f"/groups/africa/collections/{cid}", json={"recipients": []}).status_code
        == 200
    )
    # the owner (a contributor, not a coordinator) reads its collection and its recipients
    got = api("cert-b", "GET", f"/groups/africa/collections/{cid}")
    assert got.status_code == 200 and got.json()["recipients"] == [] and got.json()["owner"] == "cert-b"
    r = api("cert-b", "PATCH", f"/groups/africa/collections/{cid}", json={"recipients": ["cert-c"]})
    assert r.status_code == 200 and r.json()["recipients"] == ["cert-c"]
    # the owner changes recipients only; renaming is the coordinators'
    assert api("cert-b", "PATCH", f"/groups/africa/collections/{cid}", json={"title": "x"}).status_code == 403
    # another member learns nothing more than before (the coordinators' 403)
    assert api("cert-c", "GET", f"/groups/africa/collections/{cid}").status_code == 403
    audit = api("cert-b", "GET", "/audit", params={"action": "collection.update"}).json()
    changes = [(e["before"]["recipients"], e["after"]["recipients"]) for e in audit["events"]]
    assert (["cert-c"], []) in changes and ([], ["cert-c"]) in changes
    created = api("cert-b", "GET", "/audit", params={"action": "collection.create"}).json()["events"]
    assert [e["after"]["owner"] for e in created] == ["cert-b"]


def test_a_collection_holding_upstream_amber_gains_no_recipients(client, api, world, sm):
    cid = _named_of_cert_b(api, sm, recipients=())
    with sm() as s, s.begin():
        s.add(
            Feed(
                name="upstream-hub",
                direction="pull",
                format="taxii",
                url="https://peer.example/taxii2/x/",
                group_slug="africa",
                collection="b-red",
                publish_as="cert-b",
                tlp="amber",
                tlp_version=2,
                options={},
                interval_s=3600,
                enabled=False,
                next_run_at_us=0,
                failures=0,
            )
        )
    assert post(client, world, [indicator(2, tlp="amber")], "cert-b", coll_id=cid).status_code == 202
    r = api("cert-b", "PATCH", f"/groups/africa/collections/{cid}", json={"recipients": ["cert-c"]})
    assert r.status_code == 409 and "pulled from another hub" in r.json()["description"]
    assert _read(client, world, "cert-c", cid).status_code == 404


# ---------------------------------------------------------------- observation 4


def _redeem_sock(api, client, sm, **invite):
    body = {
        "organisation": "sock",
        "name": "Sock",
        "role": "coordinator",
        "clearance": "amber+strict",
        **invite,
    }
    token = api("cert-a", "POST", "/groups/africa/invitations", json=body).json()["token"]
    done = api(None, "POST", "/invitations/redeem", json={"token": token})
    assert done.status_code == 201, done.text
    return done.json()


def test_an_organisation_made_by_an_invitation_waits_for_an_admins_approval(client, api, world, sm):
    done = _redeem_sock(api, client, sm)
    assert done["pending_approval"] is True
    sock = {"Authorization": f"Bearer {done['key']}"}
    assert client.get("/admin/v1/me", headers=sock).status_code == 401
    assert [o["slug"] for o in api("admin", "GET", "/organisations", params={"pending": True}).json()] == [
        "sock"
    ]
    assert api("cert-a", "POST", "/organisations/sock/approve").status_code == 403
    assert api("admin", "POST", "/organisations/sock/approve").json()["pending_approval"] is False
    assert client.get("/admin/v1/me", headers=sock).status_code == 200
    assert api("admin", "POST", "/organisations/sock/approve").status_code == 409
    assert api("admin", "GET", "/organisations", params={"pending": True}).json() == []
    assert [e.action for e in _events(sm, "organisation.approve")] == ["organisation.approve"]


def test_self_service_setting_makes_a_redeemed_organisation_active_at_once(client, api, world, sm):
    client.app.state.settings = client.app.state.settings.model_copy(
        update={"invitations_self_service": True}
    )
    done = _redeem_sock(api, client, sm)
    assert done["pending_approval"] is False
    assert client.get("/admin/v1/me", headers={"Authorization": f"Bearer {done['key']}"}).status_code == 200


def test_a_coordinator_cannot_raise_its_own_clearance_through_an_organisation_it_invited(
    client, api, world, sm
):
    set_clearance(sm, "cert-a", "green")
    done = _redeem_sock(api, client, sm)
    api("admin", "POST", "/organisations/sock/approve")
    world.keys["sock"] = done["key"]
    # the attack: the new coordinator raises its inviter's clearance, or makes it... anything
    for change in ({"clearance": "amber+strict"}, {"role": "reader"}):
        r = api("sock", "PATCH", "/groups/africa/members/cert-a", json=change)
        assert r.status_code == 403 and "invited or added by 'cert-a'" in r.json()["description"]
    assert api("sock", "DELETE", "/groups/africa/members/cert-a").status_code == 403
    # nor does the inviter act on the organisation its invitation created (it may be itself)
    assert api("cert-a", "PATCH", "/groups/africa/members/sock", json={"role": "reader"}).status_code == 403
    # transitively: an organisation the invited one invites is refused too
    token = api(
        "sock",
        "POST",
        "/groups/africa/invitations",
        json={"organisation": "sock2", "role": "coordinator", "clearance": "amber"},
    ).json()["token"]
    world.keys["sock2"] = api(None, "POST", "/invitations/redeem", json={"token": token}).json()["key"]
    api("admin", "POST", "/organisations/sock2/approve")
    r = api("sock2", "PATCH", "/groups/africa/members/cert-a", json={"clearance": "amber+strict"})
    assert r.status_code == 403
    # the membership is as the platform left it; a platform admin may change it
    with sm() as s:
        m = s.scalar(
            select(Membership)
            .join(Organisation)
            .where(Organisation.slug == "cert-a", Membership.group_id == _africa(s))
        )
        assert m.clearance == Tlp.GREEN and m.role == "coordinator"
    assert (
        api("admin", "PATCH", "/groups/africa/members/cert-a", json={"clearance": "amber"}).status_code == 200
    )
    # an ordinary coordinator's work on other members is untouched
    assert (
        api("sock", "PATCH", "/groups/africa/members/cert-c", json={"clearance": "green"}).status_code == 200
    )


def test_a_coordinator_cannot_bring_an_organisation_it_created_into_another_group(client, api, world, sm):
    done = _redeem_sock(api, client, sm)
    api("admin", "POST", "/organisations/sock/approve")
    world.keys["sock"] = done["key"]
    assert api("admin", "POST", "/groups", json={"slug": "europe", "name": "Europe"}).status_code == 201
    body = {"organisation": "cert-a", "role": "coordinator", "clearance": "amber"}
    assert api("admin", "POST", "/groups/europe/members", json=body).status_code == 201
    # cert-a may know 'sock' (a member of africa), but adding it anywhere is a change by its creator
    r = api("cert-a", "POST", "/groups/europe/members", json={**body, "organisation": "sock"})
    assert (
        r.status_code == 403 and "created by redeeming an invitation of 'cert-a'" in r.json()["description"]
    )
    # nor through an invitation of the existing organisation, redeemed with its own key
    token = api("cert-a", "POST", "/groups/europe/invitations", json={"organisation": "sock"}).json()["token"]
    assert api("sock", "POST", "/invitations/redeem", json={"token": token}).status_code == 403
    with sm() as s:
        europe = s.scalar(select(TrustGroup.id).where(TrustGroup.slug == "europe"))
        assert (
            s.scalar(
                select(Membership.id)
                .where(Membership.group_id == europe)
                .join(Organisation)
                .where(Organisation.slug == "sock")
            )
            is None
        )


def test_redeeming_never_tells_that_a_slug_is_taken(client, api, world, sm):
    forged = api(None, "POST", "/invitations/redeem", json={"token": "inv_0000000000000000_nothing"})
    assert forged.status_code == 404
    # a slug of an existing organisation outside the coordinator's groups ('outsider'), and a slug taken
    # between the invitation and its redemption: both answer as a forged token
    taken = api(
        "cert-a",
        "POST",
        "/groups/africa/invitations",
        json={"organisation": "outsider", "name": "CERT-FR (France)"},
    ).json()["token"]
    later = api("cert-a", "POST", "/groups/africa/invitations", json={"organisation": "cert-fr"}).json()[
        "token"
    ]
    assert (
        api("admin", "POST", "/organisations", json={"slug": "cert-fr", "name": "CERT-FR"}).status_code == 201
    )
    for token in (taken, later):
        r = api(None, "POST", "/invitations/redeem", json={"token": token})
        assert r.status_code == 404 and r.content == forged.content
    with sm() as s:
        assert s.scalar(select(Organisation.name).where(Organisation.slug == "outsider")) == "OUTSIDER"


def _africa(s):
    return s.scalar(select(TrustGroup.id).where(TrustGroup.slug == "africa"))


def _events(sm, action):
    with sm() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# ---------------------------------------------------------------- observation 10


def test_policy_explain_answers_an_unknown_reader_or_group_as_an_absent_one(client, api, world):
    ind = indicator(7)
    assert (
        client.post(
            world.objects_url(),
            content=orjson.dumps({"objects": [ind]}),
            headers=world.post_headers("cert-b"),
        ).status_code
        == 202
    )
    url = "/groups/africa/policy/explain"

    def ask(**q):
        return api("cert-a", "GET", url, params={"object": ind["id"], **q})

    # cert-a may name africa's members and its own groups
    assert ask(reader="vendor").status_code == 200 and ask(to="asia").status_code == 200
    # 'outsider' exists but is in none of cert-a's groups; 'global' exists but cert-a is not a member
    for field, hidden, absent in (("reader", "outsider", "no-such-org"), ("to", "global", "no-such-group")):
        a, b = ask(**{field: hidden}), ask(**{field: absent})
        assert a.status_code == b.status_code == 400
        assert a.content == b.content
    # a platform admin may ask about anything
    assert api("admin", "GET", url, params={"object": ind["id"], "to": "global"}).status_code == 200
