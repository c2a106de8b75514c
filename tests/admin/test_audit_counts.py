"""An audit event's count never tells a coordinator of objects above its clearance.

Another member's push, refusal or pull in a collection the reader does not read at TLP:RED may count
objects it may not see: its count and detail are null. Its own events, a RED reader's and the platform
admin's view keep them, and so do events that count no objects.
"""

from __future__ import annotations

import json

import pytest

from tests.admin.conftest import push_red_and_green, set_clearance
from tests.sync.conftest import web  # noqa: F401  (the loopback feed site fixture)


def _events(api, who: str) -> list[dict]:
    r = api(who, "GET", "/audit", params={"group": "africa", "limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()["events"]


def _exported(api, who: str) -> list[dict]:
    r = api(who, "GET", "/audit/export", params={"group": "africa"})
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines()]


def _by(events: list[dict], action: str, org: str) -> dict:
    found = [e for e in events if e["action"] == action and e["organisation"] == org]
    assert len(found) == 1, events
    return found[0]


@pytest.mark.parametrize("clearance", ["green", "amber", "amber+strict"])
def test_coordinator_below_red_sees_no_count_of_another_members_push_or_pull(
    client, sm, api, admin_world, clearance
):
    push_red_and_green(client, sm, admin_world)
    set_clearance(sm, "cert-a", clearance)
    for events in (_events(api, "cert-a"), _exported(api, "cert-a")):
        for other in (_by(events, "push", "cert-b"), _by(events, "pull-objects", "cert-c")):
            assert other["count"] is None and other["detail"] is None, other
        own = _by(events, "push", "cert-a")
        assert own["count"] == 2 and own["detail"] == "0 already stored, 0 refused"
        assert not any(e["count"] is None for e in events if e["collection_id"] is None)


def test_counts_of_events_outside_collections_and_admin_changes_are_kept(client, sm, api, admin_world):
    push_red_and_green(client, sm, admin_world)
    assert (
        api("cert-a", "PATCH", "/groups/africa/members/cert-c", json={"role": "contributor"}).status_code
        == 200
    )
    change = _by(_events(api, "cert-a"), "membership.update", "cert-a")
    assert change["count"] == 0


def test_red_reader_and_platform_admin_see_every_count(client, sm, api, admin_world):
    push_red_and_green(client, sm, admin_world)
    for who in ("admin", "cert-a"):
        if who == "cert-a":
            set_clearance(sm, "cert-a", "red")
        for events in (_events(api, who), _exported(api, who)):
            assert _by(events, "push", "cert-b")["count"] == 5
            assert _by(events, "pull-objects", "cert-c")["count"] == 4
            assert all(e["count"] is not None and e["detail"] is not None for e in events)


def test_named_recipient_collection_counts_are_shown_to_its_owner(client, sm, api, admin_world):
    # the owner and the named recipients read a named collection at RED: every object there is theirs to see
    import orjson

    from tests.factories import indicator

    push_red_and_green(client, sm, admin_world)
    url = admin_world.objects_url(alias="a-to-b")
    r = client.post(url, content=orjson.dumps({"objects": [indicator(930, tlp="red")]}),
                    headers=admin_world.post_headers("cert-a"))  # fmt: skip
    assert r.status_code == 202, r.text
    assert client.get(url, headers=admin_world.auth("cert-b")).status_code == 200
    named = admin_world.collections["africa/a-to-b"]
    events = _events(api, "cert-a")
    assert [e["count"] for e in events if e["organisation"] == "cert-b" and e["collection_id"] == named] == [
        1
    ]
    assert _by(events, "push", "cert-b")["count"] is None


def _feed_run_as_operator(api, sm, site, publish_as: str) -> None:
    from hub.sync.worker import run_named

    folder, base = site
    (folder / "list.txt").write_bytes(b"198.51.100.7\nevil.example\nnot an indicator!\n")
    body = {"name": "b-list", "format": "text", "url": f"{base}/list.txt", "collection": "indicators",
            "publish_as": publish_as, "tlp": "red"}  # fmt: skip
    assert api("admin", "POST", "/groups/africa/feeds", json=body).status_code == 201
    assert run_named(sm, "b-list", worker_id="w1").outcome.ok
    (folder / "list.txt").unlink()
    assert not run_named(sm, "b-list", worker_id="w1").outcome.ok  # last_error: HTTP 404


COUNT_FIELDS = ("read", "created", "new_versions", "unchanged", "rejected", "skipped", "refused", "sent")


@pytest.mark.parametrize("clearance", ["green", "amber+strict"])
def test_feed_runs_and_statistics_withhold_counts_of_another_members_feed_as_the_audit_log_does(
    client,
    sm,
    api,
    admin_world,
    web,  # noqa: F811
    clearance,
):
    push_red_and_green(client, sm, admin_world)
    set_clearance(sm, "cert-a", clearance)
    _feed_run_as_operator(api, sm, web, publish_as="cert-b")
    runs = api("cert-a", "GET", "/groups/africa/feeds/b-list/runs").json()
    assert [r["status"] for r in runs] == ["failed", "ok"]
    for r in runs:
        assert {k: r[k] for k in (*COUNT_FIELDS, "error")} == dict.fromkeys((*COUNT_FIELDS, "error"))
    assert api("cert-a", "GET", "/groups/africa/feeds/b-list").json()["last_error"] is None
    assert api("cert-a", "GET", "/groups/africa/feeds").json()[0]["last_error"] is None
    health = api("cert-a", "GET", "/groups/africa/stats").json()["feeds"]
    assert health[0]["name"] == "b-list" and health[0]["last_error"] is None
    assert health[0]["last_status"] == "failed"  # that it failed is not a count
    # the platform admin sees them all; so does a coordinator reading the collection at RED
    seen = api("admin", "GET", "/groups/africa/feeds/b-list/runs").json()
    assert seen[1]["created"] == 2 and "HTTP 404" in seen[0]["error"]
    set_clearance(sm, "cert-a", "red")
    seen = api("cert-a", "GET", "/groups/africa/feeds/b-list/runs").json()
    assert seen[1]["created"] == 2 and "HTTP 404" in seen[0]["error"]
    assert "HTTP 404" in api("cert-a", "GET", "/groups/africa/stats").json()["feeds"][0]["last_error"]


def test_a_coordinator_sees_the_counts_of_the_feeds_it_publishes_as(client, sm, api, admin_world, web):  # noqa: F811
    push_red_and_green(client, sm, admin_world)
    set_clearance(sm, "cert-a", "green")
    _feed_run_as_operator(api, sm, web, publish_as="cert-a")
    runs = api("cert-a", "GET", "/groups/africa/feeds/b-list/runs").json()
    assert runs[1]["created"] == 2 and runs[1]["rejected"] == 1 and "HTTP 404" in runs[0]["error"]
