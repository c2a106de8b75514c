"""A group's feeds through the admin API: declare, change, enable/disable, run now, history."""

from __future__ import annotations

import pytest

from hub.sync.worker import run_named
from tests.sync.conftest import cli, web  # noqa: F401  (`hub` on the test database, the loopback feed site)

BLOCKLIST = b"# a blocklist\n198.51.100.7\nevil.example\nhttp://bad.example/x\nnot a thing at all!\n"


@pytest.fixture(autouse=True)
def loopback_feed_site_allowed(monkeypatch):
    """The feed site of these tests is on 127.0.0.1, which the operator allows as an internal upstream."""
    monkeypatch.setenv("HUB_OUTBOUND_ALLOW", "127.0.0.1")


def declare(api, who="cert-a", **extra):
    body = {"name": "a-list", "format": "text", "url": "https://feeds.example/list.txt",
            "collection": "indicators", "publish_as": "cert-a", "tlp": "green", **extra}  # fmt: skip
    return api(who, "POST", "/groups/africa/feeds", json=body)


def test_a_coordinator_declares_runs_and_reads_the_history_of_a_feed(api, sm, web):  # noqa: F811
    folder, base = web
    (folder / "list.txt").write_bytes(BLOCKLIST)
    r = declare(api, url=f"{base}/list.txt", interval="10m")
    assert r.status_code == 201, r.text
    assert r.json()["interval_s"] == 600 and r.json()["enabled"] is True
    assert [f["name"] for f in api("cert-a", "GET", "/groups/africa/feeds").json()] == ["a-list"]
    done = run_named(sm, "a-list", worker_id="w1")
    assert done.outcome.ok, done.outcome.error
    runs = api("cert-a", "GET", "/groups/africa/feeds/a-list/runs").json()
    assert [(x["status"], x["created"], x["rejected"]) for x in runs] == [("ok", 3, 1)]
    health = api("cert-a", "GET", "/groups/africa/stats").json()["feeds"]
    assert health[0]["name"] == "a-list" and health[0]["healthy"] is True
    scheduled = api("cert-a", "GET", "/groups/africa/feeds/a-list").json()["next_run_at"]
    ran = api("cert-a", "POST", "/groups/africa/feeds/a-list/run")
    assert ran.status_code == 200 and ran.json()["next_run_at"] < scheduled  # due now, not in 10 minutes


def test_change_enable_disable_are_audited(api):
    assert declare(api).status_code == 201
    r = api("cert-a", "PATCH", "/groups/africa/feeds/a-list", json={"interval": 120, "tlp": "clear"})
    assert r.status_code == 200 and r.json()["interval_s"] == 120 and r.json()["tlp"] == "clear"
    assert api("cert-a", "POST", "/groups/africa/feeds/a-list/disable").json()["enabled"] is False
    refused = api("cert-a", "POST", "/groups/africa/feeds/a-list/run")
    assert refused.status_code == 409 and "disabled" in refused.json()["description"]
    assert api("cert-a", "POST", "/groups/africa/feeds/a-list/enable").json()["enabled"] is True
    actions = [
        e["action"] for e in api("cert-a", "GET", "/audit", params={"group": "africa"}).json()["events"]
    ]
    assert actions[:4] == ["feed.enable", "feed.disable", "feed.update", "feed.create"]


def test_bad_feed_declarations_get_the_sync_validation_message(api):
    r = declare(api, format="gopher")
    assert r.status_code == 422 and "unknown format 'gopher'" in r.json()["description"]
    r = declare(api, tlp="ultraviolet")
    assert r.status_code == 422 and "unknown TLP level" in r.json()["description"]
    r = declare(api, interval="often")
    assert r.status_code == 422 and "not an interval" in r.json()["description"]
    assert declare(api).status_code == 201
    assert declare(api).status_code == 409
    r = api("admin", "POST", "/groups/africa/feeds",
            json={"name": "x", "format": "text", "url": "https://x.example/", "collection": "indicators",
                  "publish_as": "outsider"})  # fmt: skip
    assert r.status_code == 422 and "not a member" in r.json()["description"]


def test_a_coordinator_feed_never_reads_the_hubs_files_secrets_or_publishes_as_another(api):
    r = declare(api, name="passwd", url="/etc/passwd")
    assert r.status_code == 403 and "never from a file" in r.json()["description"]
    r = declare(api, name="file", url="file:///etc/passwd")
    assert r.status_code == 403
    r = declare(api, name="as-b", publish_as="cert-b")
    assert r.status_code == 403 and "its own organisation" in r.json()["description"]
    r = declare(api, name="env", user="x", password_env="HUB_SECRET_KEY")
    assert r.status_code == 403 and "environment" in r.json()["description"]
    push = {"name": "out", "direction": "push", "format": "taxii", "url": "https://peer.example/c/",
            "collection": "indicators", "peer_community": "south"}  # fmt: skip
    r = api("cert-a", "POST", "/groups/africa/feeds", json=push)
    assert r.status_code == 403 and "Push feeds" in r.json()["description"]
    assert declare(api, name="ok").status_code == 201
    r = api("cert-a", "PATCH", "/groups/africa/feeds/ok", json={"url": "/etc/shadow"})
    assert r.status_code == 403
    assert api("cert-b", "GET", "/groups/africa/feeds").status_code == 403
    assert api("cert-a", "GET", "/groups/asia/feeds").status_code == 403
    assert api("admin", "POST", "/groups/africa/feeds", json=push).status_code == 201


def test_a_feed_into_an_archived_collection_or_as_a_deactivated_organisation_fails_its_run(api, sm, web):  # noqa: F811
    folder, base = web
    (folder / "list.txt").write_bytes(BLOCKLIST)
    assert declare(api, url=f"{base}/list.txt").status_code == 201
    assert api("cert-a", "POST", "/groups/africa/collections/indicators/archive").status_code == 200
    done = run_named(sm, "a-list", worker_id="w1")
    assert not done.outcome.ok and "archived" in done.outcome.error
    assert api("cert-a", "POST", "/groups/africa/collections", json={"alias": "fresh"}).status_code == 201
    assert (
        api("cert-a", "PATCH", "/groups/africa/feeds/a-list", json={"collection": "fresh"}).status_code == 200
    )
    assert api("admin", "POST", "/organisations/cert-a/deactivate").status_code == 200
    done = run_named(sm, "a-list", worker_id="w1")
    assert not done.outcome.ok and "deactivated" in done.outcome.error
    runs = api("admin", "GET", "/groups/africa/feeds/a-list/runs").json()
    assert [r["status"] for r in runs] == ["failed", "failed"]


def test_feed_names_are_unique_in_a_group_not_on_the_hub(api, sm, web, cli):  # noqa: F811
    folder, base = web
    (folder / "list.txt").write_bytes(BLOCKLIST)
    body = {"name": "a-list", "format": "text", "url": f"{base}/list.txt", "collection": "indicators",
            "publish_as": "cert-c", "tlp": "green"}  # fmt: skip
    assert api("cert-c", "POST", "/groups/asia/feeds", json=body).status_code == 201
    # the same name in another group: neither refused nor told that the other group has one
    assert declare(api, url=f"{base}/list.txt").status_code == 201
    again = declare(api, url=f"{base}/list.txt")
    assert again.status_code == 409 and "asia" not in again.text and "'africa'" in again.text
    assert [f["name"] for f in api("cert-a", "GET", "/groups/africa/feeds").json()] == ["a-list"]
    # the operator names one of them as GROUP/NAME; the bare name is ambiguous
    ambiguous = cli("sync", "run-once", "--feed", "a-list")
    assert ambiguous.exit_code != 0 and "GROUP/a-list" in ambiguous.output
    done = cli("sync", "run-once", "--feed", "africa/a-list")
    assert done.exit_code == 0, done.output
    runs = api("cert-a", "GET", "/groups/africa/feeds/a-list/runs").json()
    assert [r["status"] for r in runs] == ["ok"]
    assert api("cert-c", "GET", "/groups/asia/feeds/a-list/runs").json() == []


def test_two_way_pulls_are_the_operators_and_the_api_shows_them(api, cli):  # noqa: F811
    upstream = {"name": "up", "format": "taxii", "url": "https://peer.example/taxii2/r/collections/x/",
                "collection": "indicators", "publish_as": "cert-a", "peer_community": "south",
                "two_way": True}  # fmt: skip
    r = api("cert-a", "POST", "/groups/africa/feeds", json=upstream)
    assert r.status_code == 403 and "feedback out of the hub" in r.json()["description"]
    r = api("admin", "POST", "/groups/africa/feeds", json=upstream)
    assert r.status_code == 201, r.text
    assert r.json()["two_way"] is True and r.json()["feedback_cursor"] is None
    r = api("admin", "POST", "/groups/africa/feeds", json={**upstream, "name": "csv", "format": "csv"})
    assert r.status_code == 422 and "two_way" in r.json()["description"]
    # a coordinator may not change where the group's feedback goes; the admin turns it off
    moved = {"url": "https://elsewhere.example/taxii2/r/collections/y/"}
    assert api("cert-a", "PATCH", "/groups/africa/feeds/up", json=moved).status_code == 403
    r = api("admin", "PATCH", "/groups/africa/feeds/up", json={"two_way": False})
    assert r.status_code == 200 and r.json()["two_way"] is False
    listed = cli("sync", "list")
    assert listed.exit_code == 0 and "two-way" not in listed.output
