"""Feedback through TAXII (in process): who may report, who reads a report, the counts, holds."""

from __future__ import annotations

from typing import Any

import orjson

from tests.factories import World, indicator
from tests.feedback.helpers import false_positive, sighting
from tests.taxii_helpers import store as post


def ip_indicator(n: int, **extra: Any) -> dict[str, Any]:
    """A GREEN indicator of 203.0.113.n (an address device lists carry)."""
    return indicator(n, pattern=f"[ipv4-addr:value = '203.0.113.{n}']", **extra)


def _post(client: Any, world: World, org: str, objs: list[dict[str, Any]], alias: str = "indicators") -> Any:
    return client.post(
        world.objects_url("africa", alias),
        content=orjson.dumps({"objects": objs}),
        headers=world.post_headers(org),
    )


def _get(client: Any, world: World, org: str, object_id: str) -> Any:
    return client.get(world.objects_url() + f"{object_id}/", headers=world.auth(org))


def test_reader_reports_and_publisher_reads(client: Any, world: World, sm: Any) -> None:
    ind = indicator(7, tlp="green")
    post(client, world, [ind], org="cert-b")
    s = sighting(ind["id"], identity=world.identities["cert-c"])
    fp = false_positive(ind["id"], identity=world.identities["cert-c"])
    r = _post(client, world, "cert-c", [s, fp])
    assert r.status_code == 202, r.text
    assert r.json()["success_count"] == 2, r.json()
    for org in ("cert-b", "cert-c", "cert-a"):  # publisher, reporter, coordinator
        assert _get(client, world, org, s["id"]).status_code == 200, org
        assert _get(client, world, org, fp["id"]).status_code == 200, org
    for org in ("cert-g", "vendor"):
        got = _get(client, world, org, s["id"])
        assert got.status_code == 404
        absent = _get(client, world, org, "sighting--00000000-0000-4000-8000-000000000000")
        assert got.json() == {**absent.json(), "description": got.json()["description"]}
        listed = client.get(world.objects_url(), headers=world.auth(org)).json()
        assert {o["id"] for o in listed.get("objects", [])} == {ind["id"]}
    # statistics count what every member may read: reports with an audience are not part of it
    from sqlalchemy import select

    from hub.store.models import ObjectCount

    with sm() as session:
        counted = set(session.scalars(select(ObjectCount.type)))
    assert "indicator" in counted and not counted & {"sighting", "opinion"}


def test_reports_on_hidden_and_absent_ids_answer_alike(client: Any, world: World) -> None:
    amber = indicator(8, tlp="amber")
    post(client, world, [amber], org="cert-b")
    hidden = _post(client, world, "vendor", [sighting(amber["id"])]).json()
    absent = _post(
        client, world, "vendor", [sighting("indicator--00000000-0000-4000-8000-000000000000")]
    ).json()

    def msg(body: dict[str, Any]) -> str:
        return (
            body["failures"][0]["message"]
            .replace(amber["id"], "X")
            .replace("indicator--00000000-0000-4000-8000-000000000000", "X")
        )

    assert hidden["failure_count"] == absent["failure_count"] == 1
    assert msg(hidden) == msg(absent)


def test_reader_posts_only_reports(client: Any, world: World) -> None:
    r = _post(client, world, "cert-c", [indicator(9)])
    assert r.status_code == 202
    assert r.json()["failure_count"] == 1
    assert "only feedback" in r.json()["failures"][0]["message"]


def _api(world: World, org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[org]}"}


def _blocklist(client: Any, world: World, org: str) -> list[str]:
    r = client.get("/console/downloads/africa/blocklist.txt?kind=ip", headers=_api(world, org))
    assert r.status_code == 200, r.text
    return r.text.split()


def test_false_positives_hold_and_the_publisher_restores(client: Any, world: World) -> None:
    ind = ip_indicator(11, tlp="green")
    post(client, world, [ind], org="cert-b")
    value = "203.0.113.11"
    assert value in _blocklist(client, world, "cert-g")
    etag = client.get("/console/downloads/africa/blocklist.csv", headers=_api(world, "cert-g")).headers[
        "etag"
    ]
    # the lookup API: a sighting and a false positive by the GREEN reader
    r = client.post(f"/lookup/v1/objects/{ind['id']}/feedback", json={"kind": "sighting", "count": 4},
                    headers=_api(world, "cert-c"))  # fmt: skip
    assert r.status_code == 201, r.text
    fp = {"kind": "false-positive", "text": "our NTP"}
    r = client.post(f"/lookup/v1/objects/{ind['id']}/feedback", json=fp, headers=_api(world, "vendor"))
    assert r.status_code == 201, r.text
    assert r.json()["held"] is False  # one organisation: below the group's threshold (2)
    assert value in _blocklist(client, world, "cert-g")
    csv = client.get("/console/downloads/africa/blocklist.csv", headers=_api(world, "cert-g"))
    assert csv.headers["etag"] != etag
    header, line = csv.text.splitlines()[0].split(","), csv.text.splitlines()[1].split(",")
    assert header[-2:] == ["sightings", "false_positives"] and line[-2:] == ["1", "1"]
    # the publisher reads the reports in full, another member the counts only
    full = client.get(f"/lookup/v1/objects/{ind['id']}/feedback", headers=_api(world, "cert-b")).json()
    assert full["sightings"] == 1 and full["false_positives"] == 1
    assert sorted(r["reporter"] for r in full["reports"]) == ["cert-c", "vendor"]
    other = client.get(f"/lookup/v1/objects/{ind['id']}/feedback", headers=_api(world, "cert-g")).json()
    assert other["sightings"] == 1 and other["false_positives"] == 1 and other["reports"] == []
    assert other["summary"] == "seen by 1 organisation, reported false positive by 1"
    found = client.get("/lookup/v1/search", params={"q": value}, headers=_api(world, "cert-g")).json()
    assert found["results"][0]["sightings"] == 1 and found["results"][0]["false_positives"] == 1
    # a second organisation: the object leaves device lists, the publisher is told
    r = client.post(f"/lookup/v1/objects/{ind['id']}/feedback", json={"kind": "false-positive"},
                    headers=_api(world, "cert-c"))  # fmt: skip
    assert r.json()["held"] is True
    assert value not in _blocklist(client, world, "cert-g")
    assert value not in _blocklist(client, world, "cert-b")
    held = client.get("/lookup/v1/feedback/held", headers=_api(world, "cert-b")).json()["held"]
    assert [h["object_id"] for h in held] == [ind["id"]]
    assert client.get("/lookup/v1/feedback/held", headers=_api(world, "cert-g")).json()["held"] == []
    # only the publisher decides
    denied = client.post(f"/lookup/v1/objects/{ind['id']}/decision", json={"action": "confirm"},
                         headers=_api(world, "cert-g"))  # fmt: skip
    assert denied.status_code == 403
    r = client.post(f"/lookup/v1/objects/{ind['id']}/decision", json={"action": "confirm"},
                    headers=_api(world, "cert-b"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert value in _blocklist(client, world, "cert-g")


def test_publisher_revokes_a_held_object(client: Any, world: World) -> None:
    ind = ip_indicator(12, tlp="green")
    post(client, world, [ind], org="cert-b")
    for org in ("cert-c", "vendor"):
        client.post(f"/lookup/v1/objects/{ind['id']}/feedback", json={"kind": "false-positive"},
                    headers=_api(world, org))  # fmt: skip
    assert "203.0.113.12" not in _blocklist(client, world, "cert-g")
    r = client.post(f"/lookup/v1/objects/{ind['id']}/decision", json={"action": "revoke"},
                    headers=_api(world, "cert-b"))  # fmt: skip
    assert r.status_code == 200, r.text
    got = _get(client, world, "cert-g", ind["id"]).json()["objects"][0]
    assert got["revoked"] is True
    assert "203.0.113.12" not in _blocklist(client, world, "cert-g")


def test_api_reports_on_hidden_and_absent_alike(client: Any, world: World) -> None:
    amber = indicator(13, tlp="amber")
    post(client, world, [amber], org="cert-b")
    absent_id = "indicator--00000000-0000-4000-8000-000000000013"
    for path in ("feedback", "decision"):
        body = {"kind": "sighting"} if path == "feedback" else {"action": "confirm"}
        hidden = client.post(
            f"/lookup/v1/objects/{amber['id']}/{path}", json=body, headers=_api(world, "vendor")
        )
        absent = client.post(
            f"/lookup/v1/objects/{absent_id}/{path}", json=body, headers=_api(world, "vendor")
        )
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json()["description"].replace(amber["id"], "X") == absent.json()["description"].replace(
            absent_id, "X"
        )


def test_sighting_extends_an_indicators_life(client: Any, world: World) -> None:
    ind = ip_indicator(14, tlp="green", valid_from="2026-11-01T00:00:00Z", valid_until="2026-11-08T00:00:00Z")
    post(client, world, [ind], org="cert-b")
    assert "203.0.113.14" not in _blocklist(client, world, "cert-g")  # expired
    import time

    from hub.vocab.time import format_us

    now = format_us(time.time_ns() // 1000)
    s = sighting(ind["id"], first_seen=now, last_seen=now)
    assert _post(client, world, "cert-c", [s]).json()["success_count"] == 1
    assert "203.0.113.14" in _blocklist(client, world, "cert-g")  # a week from the last sighting


def test_a_readers_ordinary_object_fails_alone_with_a_clear_message(client: Any, world: World) -> None:
    """can_write stays false for a reader (docs/feedback.md): it may post reports, and an ordinary object
    beside them gets a failure entry of its own saying why, while the reports are stored."""
    coll = world.collections["africa/indicators"]
    resource = client.get(f"/taxii2/africa/collections/{coll}/", headers=world.auth("cert-c")).json()
    assert (resource["can_read"], resource["can_write"]) == (True, False)
    writer = client.get(f"/taxii2/africa/collections/{coll}/", headers=world.auth("cert-b")).json()
    assert writer["can_write"] is True
    ind = ip_indicator(15, tlp="green")
    post(client, world, [ind], org="cert-b")
    own = ip_indicator(16, tlp="green")
    s = sighting(ind["id"], identity=world.identities["cert-c"])
    r = _post(client, world, "cert-c", [own, s])
    assert r.status_code == 202, r.text
    status = r.json()
    assert status["success_count"] == 1 and status["failure_count"] == 1
    [failure] = status["failures"]
    assert failure["id"] == own["id"] and failure["version"] == own["modified"]
    assert failure["message"] == (
        f"{own['id']} refused: you may add only feedback to this collection: a sighting, an opinion or a "
        "note on an object of this collection you may read"
    )
    assert _get(client, world, "cert-c", s["id"]).status_code == 200
    assert _get(client, world, "cert-g", own["id"]).status_code == 404
