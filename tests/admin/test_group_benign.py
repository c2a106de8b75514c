"""Per-group device-list settings (issue 18): IP prefix minimums, the known-benign mode, the group's own
known-benign list; each set through the admin API and enforced at ingest and on device downloads."""

from __future__ import annotations

from typing import Any

import orjson

from tests.lookup.helpers import pattern_indicator, sco

DOWNLOAD = "/console/downloads/africa/blocklist.txt"


def _post(client: Any, world: Any, objs: list[dict[str, Any]], org: str = "cert-a") -> dict[str, Any]:
    r = client.post(
        world.objects_url("africa", "indicators"),
        content=orjson.dumps({"objects": objs}),
        headers=world.post_headers(org),
    )
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


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
    assert "broader than /12" in _failures(_post(client, admin_world, [wide]))[wide["id"]]
    r = api("cert-a", "PATCH", "/groups/africa", json={"min_ipv4_prefix": 9})
    assert r.status_code == 200, r.text
    assert r.json()["min_ipv4_prefix"] == 9
    assert _post(client, admin_world, [wide])["success_count"] == 1
    # (a /10 holds some public resolver, so it is flagged: asked for, it is there)
    assert _ips(client, admin_world, "&include_flagged=true") == ["45.0.0.0/10"]
    # another group keeps the hub's default
    assert api("cert-c", "GET", "/groups/asia").json()["min_ipv4_prefix"] == 12


def test_a_narrower_group_minimum_refuses_at_the_door_and_drops_stored_values_on_the_way_out(
    api, client, admin_world
):
    stored = [sco("ipv4-addr", "198.51.0.0/16", tlp="clear"), sco("ipv6-addr", "2001:db8::/40", tlp="clear")]
    assert _post(client, admin_world, stored)["success_count"] == 2
    assert _ips(client, admin_world) == ["198.51.0.0/16", "2001:db8::/40"]
    r = api("admin", "PATCH", "/groups/africa", json={"min_ipv4_prefix": 20, "min_ipv6_prefix": 48})
    assert r.status_code == 200, r.text
    assert _ips(client, admin_world) == []  # stored before: skipped on the way out
    newer = sco("ipv4-addr", "203.0.0.0/18", tlp="clear")
    assert "broader than /20" in _failures(_post(client, admin_world, [newer]))[newer["id"]]
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
    status = _post(client, admin_world, [*benign, good])
    assert status["success_count"] == 1 and status["failure_count"] == len(benign)
    reasons = _failures(status)
    assert "known-benign list 'MISP warninglist public-dns-v4'" in reasons[benign[0]["id"]]
    assert "known-benign list 'MISP warninglist microsoft'" in reasons[benign[2]["id"]]
    assert "known-benign list 'MISP warninglist google'" in reasons[benign[3]["id"]]
    assert _ips(client, admin_world, "&include_flagged=true") == ["203.0.113.70"]


def test_flag_mode_is_the_default_and_stores_known_benign_values(api, client, admin_world):
    status = _post(client, admin_world, [pattern_indicator("[ipv4-addr:value = '8.8.8.8']", tlp="clear")])
    assert status["success_count"] == 1
    assert _ips(client, admin_world) == []
    assert _ips(client, admin_world, "&include_flagged=true") == ["8.8.8.8"]


def test_benign_mode_takes_flag_or_refuse_only(api):
    r = api("cert-a", "PATCH", "/groups/africa", json={"benign_mode": "block"})
    assert r.status_code == 422, r.text
