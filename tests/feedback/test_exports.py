"""Feedback's effects in every device format (issue 23): a hold leaves an object out of Suricata rules,
Zeek intel, the RPZ zone and the MISP feed as it leaves blocklists, until its publisher confirms it; a
sighting extends an indicator's life in each of them as in blocklists. Through HTTP, on both databases."""

from __future__ import annotations

import time
from typing import Any

import orjson

from tests.factories import World, indicator
from tests.taxii_helpers import store as post

BASE = "/console/downloads/africa"
TEXT_FORMATS = ("blocklist.txt?kind=domain", "suricata.rules", "zeek.intel", "rpz.zone")


def _h(world: World, org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[org]}"}


def _text(client: Any, world: World, org: str, path: str) -> str:
    r = client.get(f"{BASE}/{path}", headers=_h(world, org))
    assert r.status_code == 200, (path, r.text)
    return r.text


def _misp_attribute(client: Any, world: World, org: str, value: str) -> dict[str, Any] | None:
    """The MISP feed's attribute of `value` (None: the feed does not carry it)."""
    manifest = orjson.loads(_text(client, world, org, "misp-feed/manifest.json"))
    for event_id in manifest:
        event = orjson.loads(_text(client, world, org, f"misp-feed/{event_id}.json"))["Event"]
        for a in event.get("Attribute", []):
            if a["value"] == value:
                return dict(a)
    return None


def _where(client: Any, world: World, org: str, value: str) -> dict[str, Any]:
    """Per format, whether it lists `value` (the MISP feed: its attribute's to_ids, None when absent)."""
    out: dict[str, Any] = {
        path.partition("?")[0]: value in _text(client, world, org, path) for path in TEXT_FORMATS
    }
    attr = _misp_attribute(client, world, org, value)
    out["misp"] = None if attr is None else attr["to_ids"]
    return out


def _domain_indicator(n: int, domain: str, **extra: Any) -> dict[str, Any]:
    return indicator(n, pattern=f"[domain-name:value = '{domain}']", **extra)


def _feedback(client: Any, world: World, org: str, object_id: str, body: dict[str, Any]) -> Any:
    r = client.post(f"/lookup/v1/objects/{object_id}/feedback", json=body, headers=_h(world, org))
    assert r.status_code == 201, r.text
    return r.json()


def test_a_recent_sighting_keeps_an_expired_indicator_in_every_device_format(client: Any, world: World):
    domain = "sighted-late.example"
    ind = _domain_indicator(
        2301, domain, valid_from="2026-11-01T00:00:00Z", valid_until="2026-11-08T00:00:00Z"
    )
    post(client, world, [ind], org="cert-b")
    before = _where(client, world, "cert-g", domain)
    assert before == {
        "blocklist.txt": False, "suricata.rules": False, "zeek.intel": False, "rpz.zone": False,
        "misp": False,  # the feed says it expired (to_ids false): MISP keeps what a feed stops listing
    }  # fmt: skip
    stamp_before = _misp_attribute(client, world, "cert-g", domain)["timestamp"]  # type: ignore[index]

    from hub.vocab.time import format_us

    now = format_us(time.time_ns() // 1000)
    _feedback(client, world, "cert-c", ind["id"], {"kind": "sighting", "first_seen": now, "last_seen": now})
    after = _where(client, world, "cert-g", domain)
    assert after == {
        "blocklist.txt": True, "suricata.rules": True, "zeek.intel": True, "rpz.zone": True, "misp": True
    }  # fmt: skip
    # a later timestamp than the expiry, so a MISP that read the expired attribute takes the change
    stamp_after = _misp_attribute(client, world, "cert-g", domain)["timestamp"]  # type: ignore[index]
    assert int(stamp_after) > int(stamp_before)


def test_a_sighting_before_the_lifetime_ran_out_does_not_revive_it(client: Any, world: World):
    domain = "sighted-early.example"
    ind = _domain_indicator(
        2302, domain, valid_from="2026-11-01T00:00:00Z", valid_until="2026-11-08T00:00:00Z"
    )
    post(client, world, [ind], org="cert-b")
    # seen on 3 November: a week from then is still in the past
    seen = "2026-11-03T00:00:00Z"
    _feedback(client, world, "cert-c", ind["id"], {"kind": "sighting", "first_seen": seen, "last_seen": seen})
    assert _where(client, world, "cert-g", domain) == {
        "blocklist.txt": False, "suricata.rules": False, "zeek.intel": False, "rpz.zone": False,
        "misp": False,
    }  # fmt: skip


def test_a_held_object_leaves_every_device_format_until_its_publisher_confirms_it(client: Any, world: World):
    domain = "held-by-feedback.example"
    ind = _domain_indicator(2303, domain)
    post(client, world, [ind], org="cert-b")
    listed = {
        "blocklist.txt": True,
        "suricata.rules": True,
        "zeek.intel": True,
        "rpz.zone": True,
        "misp": True,
    }
    assert _where(client, world, "cert-g", domain) == listed
    assert _feedback(client, world, "cert-c", ind["id"], {"kind": "false-positive"})["held"] is False
    assert _where(client, world, "cert-g", domain) == listed  # one organisation: below the threshold
    assert _feedback(client, world, "vendor", ind["id"], {"kind": "false-positive"})["held"] is True
    gone = {
        "blocklist.txt": False,
        "suricata.rules": False,
        "zeek.intel": False,
        "rpz.zone": False,
        "misp": None,
    }
    for org in ("cert-g", "cert-b", "vendor"):  # every reader, the publisher included
        assert _where(client, world, org, domain) == gone, org
    r = client.post(f"/lookup/v1/objects/{ind['id']}/decision", json={"action": "confirm"},
                    headers=_h(world, "cert-b"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert _where(client, world, "cert-g", domain) == listed


def test_a_held_object_revoked_by_its_publisher_stays_off_device_formats(client: Any, world: World):
    domain = "revoked-after-hold.example"
    ind = _domain_indicator(2304, domain)
    post(client, world, [ind], org="cert-b")
    for org in ("cert-c", "vendor"):
        _feedback(client, world, org, ind["id"], {"kind": "false-positive"})
    r = client.post(f"/lookup/v1/objects/{ind['id']}/decision", json={"action": "revoke"},
                    headers=_h(world, "cert-b"))  # fmt: skip
    assert r.status_code == 200, r.text
    got = _where(client, world, "cert-g", domain)
    assert got == {
        "blocklist.txt": False, "suricata.rules": False, "zeek.intel": False, "rpz.zone": False,
        "misp": False,  # said revoked (to_ids false, deleted), as the feed says of every revoked object
    }  # fmt: skip
    assert _misp_attribute(client, world, "cert-g", domain)["deleted"] is True  # type: ignore[index]
