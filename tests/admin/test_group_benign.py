"""Per-group device-list settings (issue 18): IP prefix minimums, the known-benign mode, the group's own
known-benign list; each set through the admin API and enforced at ingest and on device downloads."""

from __future__ import annotations

from typing import Any

from tests.lookup.helpers import pattern_indicator, sco
from tests.taxii_helpers import post_ok

DOWNLOAD = "/console/downloads/africa/blocklist.txt"


def _ips(client: Any, world: Any, extra: str = "") -> list[str]:
    r = client.get(f"{DOWNLOAD}?kind=ip{extra}", headers={"Authorization": f"Bearer {world.keys['vendor']}"})
    assert r.status_code == 200, r.text
    return sorted(r.text.splitlines())


def _failures(status: dict[str, Any]) -> dict[str, str]:
    return {f["id"]: f["message"] for f in status.get("failures", [])}


# ---------------------------------------------------------------- item 1: prefix minimums per group


def test_group_prefix_minimums_default_and_show_in_group_get(api):
    body = api("cert-a", "GET", "/groups/africa").json()
    assert (body["min_ipv4_prefix"], body["min_ipv6_prefix"], body["benign_mode"]) == (12, 32, "flag")


def test_a_coordinator_widens_its_groups_ipv4_minimum_and_ingest_follows(api, client, admin_world):
    wide = sco("ipv4-addr", "45.0.0.0/10", tlp="clear")
    assert "broader than /12" in _failures(post_ok(client, admin_world, [wide]))[wide["id"]]
    r = api("cert-a", "PATCH", "/groups/africa", json={"min_ipv4_prefix": 9})
    assert r.status_code == 200, r.text
    assert r.json()["min_ipv4_prefix"] == 9
    assert post_ok(client, admin_world, [wide])["success_count"] == 1
    # (a /10 holds some public resolver, so it is flagged: asked for, it is there)
    assert _ips(client, admin_world, "&include_flagged=true") == ["45.0.0.0/10"]
    # another group keeps the hub's default
    assert api("cert-c", "GET", "/groups/asia").json()["min_ipv4_prefix"] == 12


def test_a_narrower_group_minimum_refuses_at_the_door_and_drops_stored_values_on_the_way_out(
    api, client, admin_world
):
    stored = [sco("ipv4-addr", "198.51.0.0/16", tlp="clear"), sco("ipv6-addr", "2001:db8::/40", tlp="clear")]
    assert post_ok(client, admin_world, stored)["success_count"] == 2
    assert _ips(client, admin_world) == ["198.51.0.0/16", "2001:db8::/40"]
    r = api("admin", "PATCH", "/groups/africa", json={"min_ipv4_prefix": 20, "min_ipv6_prefix": 48})
    assert r.status_code == 200, r.text
    assert _ips(client, admin_world) == []  # stored before: skipped on the way out
    newer = sco("ipv4-addr", "203.0.0.0/18", tlp="clear")
    assert "broader than /20" in _failures(post_ok(client, admin_world, [newer]))[newer["id"]]
    # null goes back to the hub's defaults
    r = api("cert-a", "PATCH", "/groups/africa", json={"min_ipv4_prefix": None, "min_ipv6_prefix": None})
    assert r.json()["min_ipv4_prefix"] == 12 and r.json()["min_ipv6_prefix"] == 32
    assert _ips(client, admin_world) == ["198.51.0.0/16", "2001:db8::/40"]


def test_a_group_minimum_is_never_broader_than_the_hard_floors(api):
    for body in ({"min_ipv4_prefix": 8}, {"min_ipv4_prefix": 0}, {"min_ipv6_prefix": 15},
                 {"min_ipv4_prefix": 33}, {"min_ipv6_prefix": 129}):  # fmt: skip
        r = api("admin", "PATCH", "/groups/africa", json=body)
        assert r.status_code == 422, (body, r.text)
        assert "must be between" in r.text
    assert api("admin", "GET", "/groups/africa").json()["min_ipv4_prefix"] == 12


def test_only_the_coordinator_or_an_admin_sets_the_device_list_settings(api):
    assert api("cert-b", "PATCH", "/groups/africa", json={"min_ipv4_prefix": 9}).status_code == 403
    assert api("cert-b", "PATCH", "/groups/africa", json={"benign_mode": "refuse"}).status_code == 403
    assert api("outsider", "PATCH", "/groups/africa", json={"benign_mode": "refuse"}).status_code == 404
    body = api("cert-a", "GET", "/groups/africa").json()
    assert (body["min_ipv4_prefix"], body["benign_mode"]) == (12, "flag")


def test_a_change_of_settings_is_audited(api):
    assert api("cert-a", "PATCH", "/groups/africa", json={"min_ipv4_prefix": 16}).status_code == 200
    events = api("admin", "GET", "/audit", params={"action": "group.update"}).json()["events"]
    assert any((e["after"] or {}).get("min_ipv4_prefix") == 16 for e in events), events


# ---------------------------------------------------------------- item 2: refuse or flag, per group


def test_refuse_mode_refuses_known_benign_values_naming_the_list_and_keeps_the_rest(api, client, admin_world):
    r = api("cert-a", "PATCH", "/groups/africa", json={"benign_mode": "refuse"})
    assert r.status_code == 200 and r.json()["benign_mode"] == "refuse", r.text
    benign = [
        pattern_indicator("[ipv4-addr:value = '8.8.8.8']", tlp="clear"),
        sco("ipv4-addr", "1.1.1.1", tlp="clear"),
        sco("domain-name", "www.microsoft.com", tlp="clear"),
        pattern_indicator("[url:value = 'https://docs.google.com/evil']", tlp="clear"),
    ]
    good = pattern_indicator("[ipv4-addr:value = '203.0.113.70']", tlp="clear")
    status = post_ok(client, admin_world, [*benign, good])
    assert status["success_count"] == 1 and status["failure_count"] == len(benign)
    reasons = _failures(status)
    assert "known-benign list 'MISP warninglist public-dns-v4'" in reasons[benign[0]["id"]]
    assert "known-benign list 'MISP warninglist microsoft'" in reasons[benign[2]["id"]]
    assert "known-benign list 'MISP warninglist google'" in reasons[benign[3]["id"]]
    assert _ips(client, admin_world, "&include_flagged=true") == ["203.0.113.70"]


def test_flag_mode_is_the_default_and_stores_known_benign_values(api, client, admin_world):
    status = post_ok(client, admin_world, [pattern_indicator("[ipv4-addr:value = '8.8.8.8']", tlp="clear")])
    assert status["success_count"] == 1
    assert _ips(client, admin_world) == []
    assert _ips(client, admin_world, "&include_flagged=true") == ["8.8.8.8"]


def test_benign_mode_takes_flag_or_refuse_only(api):
    r = api("cert-a", "PATCH", "/groups/africa", json={"benign_mode": "block"})
    assert r.status_code == 422, r.text


# ---------------------------------------------------------------- item 3: the group's own list


def test_a_coordinators_own_list_keeps_its_values_off_the_groups_device_lists(api, client, admin_world):
    objs = [
        sco("ipv4-addr", "203.0.113.80", tlp="clear"),
        sco("ipv4-addr", "198.51.100.7", tlp="clear"),
        sco("domain-name", "www.cirt.example", tlp="clear"),
        sco("url", "http://portal.cirt.example/login", tlp="clear"),
        sco("ipv4-addr", "203.0.113.81", tlp="clear"),
    ]
    assert post_ok(client, admin_world, objs)["success_count"] == len(objs)
    for value in ("203.0.113.80", "198.51.100.0/24", "hxxp://cirt[.]example"):
        r = api("cert-a", "POST", "/groups/africa/benign", json={"value": value, "note": "our resolvers"})
        assert r.status_code == 201, r.text
    listed = api("cert-a", "GET", "/groups/africa/benign").json()
    assert [(e["value"], e["kind"], e["list"]) for e in listed] == [
        ("198.51.100.0/24", "ip", "africa own list"),
        ("203.0.113.80", "ip", "africa own list"),
        ("http://cirt.example", "url", "africa own list"),
    ]
    assert _ips(client, admin_world) == ["203.0.113.81"]
    assert _ips(client, admin_world, "&include_flagged=true") == [
        "198.51.100.7",
        "203.0.113.80",
        "203.0.113.81",
    ]
    auth = {"Authorization": f"Bearer {admin_world.keys['vendor']}"}
    for kind in ("domain", "url"):
        r = client.get(f"{DOWNLOAD}?kind={kind}", headers=auth)
        assert r.text == "", (kind, r.text)
    # another group's device lists are not affected
    assert api("cert-c", "GET", "/groups/asia/benign").json() == []
    # taken off again: back on the list
    r = api("cert-a", "DELETE", "/groups/africa/benign", params={"value": "203.0.113.80"})
    assert r.status_code == 204, r.text
    assert _ips(client, admin_world) == ["203.0.113.80", "203.0.113.81"]
    assert (
        api("cert-a", "DELETE", "/groups/africa/benign", params={"value": "203.0.113.80"}).status_code == 404
    )


def test_refuse_mode_names_the_groups_own_list(api, client, admin_world):
    assert api("cert-a", "POST", "/groups/africa/benign", json={"value": "203.0.113.90"}).status_code == 201
    assert api("cert-a", "PATCH", "/groups/africa", json={"benign_mode": "refuse"}).status_code == 200
    bad = pattern_indicator("[ipv4-addr:value = '203.0.113.90']", tlp="clear")
    status = post_ok(client, admin_world, [bad, sco("ipv4-addr", "203.0.113.91", tlp="clear")])
    assert status["success_count"] == 1
    assert "known-benign list 'africa own list'" in _failures(status)[bad["id"]]


def test_own_list_entries_are_checked_like_device_list_values(api):
    for value in (
        "com",
        "0.0.0.0/0",
        "not a value",
        "javascript:alert(1)",
        "evil.example\u2028x",
        "a@b.example",
    ):
        r = api("cert-a", "POST", "/groups/africa/benign", json={"value": value})
        assert r.status_code == 422, (value, r.text)
    assert api("cert-a", "POST", "/groups/africa/benign", json={"value": "8.8.4.4"}).status_code == 201
    assert api("cert-a", "POST", "/groups/africa/benign", json={"value": "8.8.4.4"}).status_code == 409
    r = api("cert-a", "POST", "/groups/africa/benign", json={"value": "9.9.9.9", "note": "a\nb"})
    assert r.status_code == 422
    assert [e["value"] for e in api("cert-a", "GET", "/groups/africa/benign").json()] == ["8.8.4.4"]


def test_only_coordinators_and_admins_see_or_change_a_groups_own_list(api):
    assert api("cert-a", "POST", "/groups/africa/benign", json={"value": "203.0.113.95"}).status_code == 201
    assert len(api("admin", "GET", "/groups/africa/benign").json()) == 1
    absent = api("cert-b", "GET", "/groups/no-such-group/benign")
    assert absent.status_code == 404
    # a contributor, a reader (cert-c coordinates asia, reads africa) and an outsider: as for an absent group
    for who in ("cert-b", "cert-c", "vendor", "outsider"):
        for method, kw in (("GET", {}), ("POST", {"json": {"value": "203.0.113.96"}}),
                           ("DELETE", {"params": {"value": "203.0.113.95"}})):  # fmt: skip
            r = api(who, method, "/groups/africa/benign", **kw)
            assert r.status_code == 404, (who, method, r.text)
            assert r.json()["description"] == absent.json()["description"].replace("no-such-group", "africa")
    assert [e["value"] for e in api("cert-a", "GET", "/groups/africa/benign").json()] == ["203.0.113.95"]


def test_each_change_to_the_own_list_is_audited(api):
    assert (
        api(
            "cert-a", "POST", "/groups/africa/benign", json={"value": "203.0.113.97", "note": "ns1"}
        ).status_code
        == 201
    )
    assert (
        api("cert-a", "DELETE", "/groups/africa/benign", params={"value": "203.0.113.97"}).status_code == 204
    )
    events = api("admin", "GET", "/audit", params={"group": "africa"}).json()["events"]
    actions = {(e["action"], e["organisation"]) for e in events}
    assert ("benign.add", "cert-a") in actions and ("benign.remove", "cert-a") in actions
    added = next(e for e in events if e["action"] == "benign.add")
    assert added["after"] == {"value": "203.0.113.97", "kind": "ip", "note": "ns1"}


def test_policy_explain_names_the_groups_own_list_and_minimum(api, client, admin_world):
    assert api("cert-a", "POST", "/groups/africa/benign", json={"value": "203.0.113.98"}).status_code == 201
    assert api("cert-a", "PATCH", "/groups/africa", json={"min_ipv4_prefix": 24}).status_code == 200
    ind = pattern_indicator("[ipv4-addr:value = '203.0.113.98'] OR [ipv4-addr:value = '198.51.0.0/20']")
    assert post_ok(client, admin_world, [ind])["success_count"] == 1
    r = client.get(
        "/admin/api/groups/africa/policy/explain",
        params={"object": ind["id"], "reader": "vendor"},
        headers=admin_world.auth("cert-a"),
    )
    text = r.json()["answers"][0]["text"]
    assert "known-benign list 'africa own list'" in text, text
    assert "broader than /24" in text, text


def test_a_change_to_the_own_list_changes_the_download_etag(api, client, admin_world):
    assert post_ok(client, admin_world, [sco("ipv4-addr", "203.0.113.99", tlp="clear")])["success_count"] == 1
    auth = {"Authorization": f"Bearer {admin_world.keys['vendor']}"}
    first = client.get(f"{DOWNLOAD}?kind=ip", headers=auth)
    assert first.text == "203.0.113.99\n"
    same = client.get(f"{DOWNLOAD}?kind=ip", headers={**auth, "If-None-Match": first.headers["etag"]})
    assert same.status_code == 304
    assert api("cert-a", "POST", "/groups/africa/benign", json={"value": "203.0.113.99"}).status_code == 201
    changed = client.get(f"{DOWNLOAD}?kind=ip", headers={**auth, "If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.text == ""
