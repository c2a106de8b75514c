"""Coordinators' and members' console pages: the same services and confinement as the admin API."""

from __future__ import annotations

import re

import orjson
from sqlalchemy import select

from hub.console.models import ConsoleCredential
from hub.sync.models import Feed
from tests.console.conftest import csrf_of, give_passwords, sign_in
from tests.factories import approve, indicator

PAGES = ("", "members", "invitations", "collections", "feeds", "audit", "explain")


def test_every_page_renders_for_a_coordinator(as_person):
    c = as_person("cert-a")
    group_pages = [f"/console/groups/africa/{p}" for p in PAGES]
    for page in ["/console/", "/console/keys", "/console/account", "/console/redeem", *group_pages]:
        r = c.get(page)
        assert r.status_code == 200, (page, r.text)
        assert r.headers["content-type"].startswith("text/html")


def test_console_pages_carry_a_strict_content_security_policy(as_person):
    c = as_person("cert-a")
    r = c.get("/console/groups/africa/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"] == "DENY"
    assert "<script>" not in r.text and " style=" not in r.text and " on" + "click=" not in r.text
    static = c.get("/console/static/htmx.min.js")
    assert static.status_code == 200 and "max-age" in static.headers["cache-control"]


def test_a_page_with_its_assets_is_well_under_200_kb(as_person):
    c = as_person("cert-a")
    page = c.get("/console/groups/africa/")
    assets = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', page.text)
    assert assets
    total = len(page.content) + sum(len(c.get(a).content) for a in assets)
    assert total < 120_000


def test_a_reader_or_contributor_has_no_coordinator_pages(as_person):
    for org in ("cert-c", "cert-b", "vendor"):
        c = as_person(org)
        for p in PAGES:
            r = c.get(f"/console/groups/africa/{p}")
            assert r.status_code == 403, (org, p)
            assert "Only the coordinators" in r.text


def test_a_group_one_is_not_in_looks_like_no_group(as_person):
    c = as_person("vendor")
    other = c.get("/console/groups/asia/members")
    absent = c.get("/console/groups/no-such-group/members")
    assert other.status_code == absent.status_code == 404
    assert other.text.replace("asia", "X") == absent.text.replace("no-such-group", "X")


def test_a_coordinator_adds_a_member_and_changes_its_clearance(as_person):
    c = as_person("cert-c")  # coordinates asia
    csrf = csrf_of(c.get("/console/groups/asia/members").text)
    r = c.post(
        "/console/groups/asia/members", data={"csrf": csrf, "organisation": "cert-a", "role": "reader"}
    )
    assert r.status_code == 409  # already a member: the service's own answer
    # cert-b is unknown to cert-c (not in a group it coordinates): invite it instead
    r = c.post(
        "/console/groups/asia/members", data={"csrf": csrf, "organisation": "cert-b", "role": "reader"}
    )
    assert r.status_code == 422
    r = c.post(
        "/console/groups/asia/members/cert-a",
        data={"csrf": csrf, "role": "contributor", "clearance": "green"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "The member was changed." in page.text
    row = page.text.split('id="member-cert-a"')[1].split("</tr>")[0]
    assert (
        '<option value="contributor" selected>contributor</option>' in row and 'value="green" selected' in row
    )


def test_a_coordinator_cannot_change_its_own_membership(as_person):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/groups/africa/members").text)
    r = c.post("/console/groups/africa/members/cert-a", data={"csrf": csrf, "clearance": "red"})
    assert r.status_code in (403, 422)


def test_a_key_is_shown_once_works_and_revoked_stops(as_person, client, people):
    c = as_person("cert-b")
    csrf = csrf_of(c.get("/console/keys").text)
    r = c.post("/console/keys", data={"csrf": csrf, "label": "firewall"})
    assert r.status_code == 201
    secret = r.text.split('id="secret">')[1].split("<")[0]
    key_id = secret.split("_")[1]
    taxii = {"Authorization": f"Bearer {secret}", "Accept": "application/taxii+json;version=2.1"}
    assert c.get("/taxii2/africa/", headers=taxii).status_code == 200
    again = c.get("/console/keys")
    assert secret not in again.text and key_id in again.text
    ask = c.post(f"/console/keys/{key_id}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert ask.status_code == 200 and f"Revoke key {key_id}?" in ask.text
    assert c.get("/taxii2/africa/", headers=taxii).status_code == 200  # asked, not yet revoked
    r = c.post(
        f"/console/keys/{key_id}/revoke", data={"csrf": csrf, "confirm": "yes"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "The key was revoked" in c.get(r.headers["location"]).text
    assert c.get("/taxii2/africa/", headers=taxii).status_code == 401


def test_a_key_of_another_organisation_cannot_be_revoked(as_person, people):
    c = as_person("cert-b")
    csrf = csrf_of(c.get("/console/keys").text)
    a_key = people.keys["cert-a"].split("_")[1]
    assert c.post(f"/console/keys/{a_key}/revoke", data={"csrf": csrf}).status_code == 404
    assert c.post(f"/console/keys/{a_key}/revoke", data={"csrf": csrf, "confirm": "yes"}).status_code == 404


def test_an_invitation_is_made_and_redeemed_in_the_console(as_person, client, sm):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/groups/africa/invitations").text)
    r = c.post(
        "/console/groups/africa/invitations",
        data={"csrf": csrf, "organisation": "cert-new", "name": "CERT New", "role": "reader",
              "clearance": "green", "expires_in_hours": "24"},
    )  # fmt: skip
    assert r.status_code == 201
    token = r.text.split('id="secret">')[1].split("<")[0]
    c.cookies.clear()
    page = c.get("/console/redeem")
    password = "a brand new password"
    done = c.post(
        "/console/redeem",
        data={"csrf": csrf_of(page.text), "token": token, "account": "alice", "password": password,
              "confirm": password},
    )  # fmt: skip
    assert done.status_code == 200 and "cert-new" in done.text and "alice@cert-new" in done.text
    key = done.text.split('id="secret">')[1].split("<")[0]
    assert key.startswith("hub_") and 'id="pending"' in done.text
    assert sign_in(c, "alice@cert-new", password=password).status_code == 401  # not approved yet
    approve(sm, "cert-new")
    assert sign_in(c, "alice@cert-new", password=password).status_code == 303
    home = c.get("/console/")
    assert "africa" in home.text.lower() and "TLP:GREEN" in home.text
    # once only
    page = c.get("/console/redeem")
    again = c.post("/console/redeem", data={"csrf": csrf_of(page.text), "token": token})
    assert again.status_code == 409


def test_a_feed_is_run_now(as_person, sm):
    with sm() as session, session.begin():
        session.add(
            Feed(
                name="abuse-ch", direction="pull", format="text_blocklist", url="https://feed.example/list.txt",
                group_slug="africa", collection="indicators", publish_as="cert-a", tlp="green", tlp_version=2,
                options={}, interval_s=3600, enabled=True, next_run_at_us=4_102_444_800_000_000, failures=0,
            )
        )  # fmt: skip
    c = as_person("cert-a")
    page = c.get("/console/groups/africa/feeds")
    assert "abuse-ch" in page.text and "No runs yet" in page.text
    r = c.post("/console/groups/africa/feeds/abuse-ch/run", data={"csrf": csrf_of(page.text)},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert "The feed is due now" in c.get(r.headers["location"]).text
    with sm() as session:
        assert (
            session.scalar(select(Feed.next_run_at_us).where(Feed.name == "abuse-ch")) < 4_102_444_800_000_000
        )


def test_the_audit_log_filters_by_action(as_person):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/groups/africa/members").text)
    c.post("/console/groups/africa/members/cert-c", data={"csrf": csrf, "clearance": "green"})
    page = c.get("/console/groups/africa/audit?action=membership.update")
    assert page.status_code == 200 and "membership cert-c@africa" in page.text
    assert "console.sign-in" not in page.text
    bad = c.get("/console/groups/africa/audit?since=yesterday")
    assert bad.status_code == 422 and "since is a date" in bad.text


def test_the_dashboard_counts_only_what_the_coordinator_may_read(as_person, people, client):
    url = people.objects_url("africa", "indicators")
    objs = [indicator(i, tlp=t) for i, t in enumerate(["clear", "green", "amber", "amber+strict", "red"])]
    r = client.post(url, content=orjson.dumps({"objects": objs}), headers=people.post_headers("cert-b"))
    assert r.status_code == 202
    c = as_person("cert-a")
    page = c.get("/console/groups/africa/")
    # africa's max is AMBER+STRICT: RED was refused, and the four stored are within cert-a's clearance
    assert "4 object versions you may read" in page.text
    assert "Recent refusals" in page.text
    assert re.search(r'id="benign-flagged">[^<]*<strong>0</strong>', page.text)


def test_policy_explain_answers_for_a_hidden_object_as_for_an_absent_one(as_person, people, client):
    url = people.objects_url("africa", "a-to-b")
    hidden = indicator(99, tlp="red")
    client.post(url, content=orjson.dumps({"objects": [hidden]}), headers=people.post_headers("cert-a"))
    c = as_person("cert-a")
    shown = c.get(f"/console/groups/africa/explain?object={hidden['id']}&reader=cert-c")
    assert shown.status_code == 200


def test_the_cli_sets_a_console_password(people, sm, monkeypatch, db_url):
    from typer.testing import CliRunner

    import hub.cli

    monkeypatch.setattr(hub.cli, "make_sessionmaker", lambda _engine: sm)
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    result = CliRunner().invoke(
        hub.cli.app, ["console", "set-password", "ops@cert-a", "--create", "--generate"]
    )
    assert result.exit_code == 0, result.output
    assert "password: " in result.output
    result = CliRunner().invoke(hub.cli.app, ["console", "set-password", "ghost@cert-a", "--generate"])
    assert result.exit_code == 2 and "--create" in result.output
    result = CliRunner().invoke(
        hub.cli.app, ["console", "set-password", "ops@cert-a", "--password-stdin"], input="short\n"
    )
    assert result.exit_code == 2 and "at least 12" in result.output
    with sm() as session:
        assert session.scalar(select(ConsoleCredential.password_hash).limit(1))


def test_people_without_a_console_password_cannot_sign_in(client, world, sm):
    give_passwords(sm, orgs=("cert-a",))
    assert sign_in(client, "taxii@cert-b", password="anything at all").status_code == 401


def test_a_key_is_rotated_and_the_old_one_keeps_a_grace_period(as_person, people):
    c = as_person("cert-b")
    old_id = people.keys["cert-b"].split("_")[1]
    csrf = csrf_of(c.get("/console/keys").text)
    r = c.post(f"/console/keys/{old_id}/rotate", data={"csrf": csrf})
    assert r.status_code == 200 and "The key was rotated" in r.text
    new = r.text.split('id="secret">')[1].split("<")[0]
    taxii = {"Accept": "application/taxii+json;version=2.1"}
    for key in (new, people.keys["cert-b"]):
        assert (
            c.get("/taxii2/africa/", headers={**taxii, "Authorization": f"Bearer {key}"}).status_code == 200
        )


def test_a_coordinator_removes_a_member(as_person):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/groups/africa/members").text)
    ask = c.post("/console/groups/africa/members/vendor/remove", data={"csrf": csrf}, follow_redirects=False)
    assert ask.status_code == 200 and "Remove vendor?" in ask.text
    assert 'id="member-vendor"' in c.get("/console/groups/africa/members").text
    r = c.post(
        "/console/groups/africa/members/vendor/remove",
        data={"csrf": csrf, "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "The member was removed." in page.text and 'id="member-vendor"' not in page.text


def test_a_coordinator_creates_a_named_collection_and_changes_its_recipients(as_person):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/groups/africa/collections").text)
    r = c.post(
        "/console/groups/africa/collections",
        data={"csrf": csrf, "alias": "a-to-c", "kind": "named", "owner": "cert-a", "recipients": "cert-c"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "The collection was created." in page.text and 'value="cert-c"' in page.text
    r = c.post(
        "/console/groups/africa/collections/a-to-c/recipients",
        data={"csrf": csrf, "recipients": "cert-c, cert-b"},
    )
    assert "The recipients were changed." in r.text and 'value="cert-b, cert-c"' in r.text
    bad = c.post(
        "/console/groups/africa/collections/a-to-c/recipients", data={"csrf": csrf, "recipients": "nobody"}
    )
    assert bad.status_code == 422 and "not a member" in bad.text
    ask = c.post("/console/groups/africa/collections/a-to-c/archive", data={"csrf": csrf})
    assert "Archive a-to-c?" in ask.text and "The collection was archived" not in ask.text
    r = c.post("/console/groups/africa/collections/a-to-c/archive", data={"csrf": csrf, "confirm": "yes"})
    assert "The collection was archived" in r.text


def test_an_existing_organisation_redeems_its_invitation_signed_in(as_person):
    c = as_person("cert-c")  # coordinates asia; invites cert-g, which is on the hub already
    csrf = csrf_of(c.get("/console/groups/asia/invitations").text)
    r = c.post(
        "/console/groups/asia/invitations",
        data={"csrf": csrf, "organisation": "cert-g", "role": "reader", "clearance": "green"},
    )
    token = r.text.split('id="secret">')[1].split("<")[0]
    c.cookies.clear()
    page = c.get("/console/redeem")
    anonymous = c.post(
        "/console/redeem",
        data={"csrf": csrf_of(page.text), "token": token, "password": "x" * 12, "confirm": "x" * 12},
    )
    # the answer of a bad token: nothing tells that the invited organisation exists
    assert anonymous.status_code == 404 and "cert-g" not in anonymous.text
    g = as_person("cert-g")
    page = g.get("/console/redeem")
    assert "signed in as person@cert-g" in page.text
    done = g.post("/console/redeem", data={"csrf": csrf_of(page.text), "token": token})
    assert done.status_code == 200 and "Welcome to asia" in done.text and "hub_" not in done.text
    assert "Asia" in g.get("/console/").text


def test_the_feeds_page_withholds_counts_of_another_members_feed_as_the_audit_log_does(as_person, sm):
    from hub.sync.models import FeedRun
    from tests.admin.conftest import set_clearance

    set_clearance(sm, "cert-a", "amber")
    with sm() as session, session.begin():
        feed = Feed(
            name="b-list", direction="pull", format="text", url="https://feed.example/list.txt",
            group_slug="africa", collection="indicators", publish_as="cert-b", tlp="red", tlp_version=2,
            options={}, interval_s=3600, enabled=True, next_run_at_us=4_102_444_800_000_000, failures=1,
            last_error="no valid record in what the source served (4321 rejected, none normalised)",
        )  # fmt: skip
        session.add(feed)
        session.flush()
        session.add(
            FeedRun(
                feed_id=feed.id, worker_id="w1", started_us=1, finished_us=2, status="ok", read=9876,
                created=5432, new_versions=0, unchanged=0, rejected=0, skipped=0, refused=0, sent=0,
                error=None,
            )
        )  # fmt: skip
    page = as_person("cert-a").get("/console/groups/africa/feeds")
    assert page.status_code == 200 and "b-list" in page.text
    # counts are shown as the reader's language writes numbers (9,876 in English): neither form may show
    assert not any(n in page.text for n in ("9876", "9,876", "5432", "5,432", "4321"))
    assert "—" in page.text
    set_clearance(sm, "cert-a", "red")
    page = as_person("cert-a").get("/console/groups/africa/feeds")
    assert "9,876" in page.text and "4321" in page.text
