"""Feedback notices (issue 23): the publisher of an object hears of the reports on it and of its hold
through its `feedback` subscriptions, by a real webhook receiver and a real SMTP server on 127.0.0.1, on
SQLite and PostgreSQL; nobody else hears anything, and a reporter's text stays inert."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import orjson
import pytest

from tests.factories import World, indicator
from tests.taxii_helpers import store as post
from tests.watch_helpers import admin, config, http_receiver, run_pass, smtp_server, valid_signature

SECRET = "a-webhook-secret-for-feedback"


@pytest.fixture
def allow_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_OUTBOUND_ALLOW", "127.0.0.1")


def _h(world: World, org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[org]}"}


def _subscribe(client: Any, world: World, org: str, body: dict[str, Any]) -> dict[str, Any]:
    r = admin(client, world, org, "POST", f"/organisations/{org}/subscriptions", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _hook(client: Any, world: World, org: str, url: str) -> dict[str, Any]:
    return _subscribe(
        client, world, org, {"kind": "webhook", "url": url, "secret": SECRET, "events": ["feedback"]}
    )


def _report(client: Any, world: World, org: str, object_id: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"/lookup/v1/objects/{object_id}/feedback", json=body, headers=_h(world, org))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _notices(rec: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for headers, body in rec.got:
        assert valid_signature(SECRET, headers, body)
        assert headers["x-hub-event"] == "feedback"
        doc = orjson.loads(body)
        assert doc["event"] == "feedback" and "matches" not in doc
        out.extend(doc["notices"])
    return out


def _ip_indicator(n: int, **extra: Any) -> dict[str, Any]:
    return indicator(n, pattern=f"[ipv4-addr:value = '203.0.113.{n % 250}']", **extra)


def test_the_publisher_hears_of_reports_and_the_hold_by_webhook_and_email(
    client: Any, world: World, sm: Any, allow_local: None
) -> None:
    ind = _ip_indicator(231)
    post(client, world, [ind], org="cert-b")
    with http_receiver() as rec, http_receiver() as other, smtp_server() as (smtp, box):
        _hook(client, world, "cert-b", rec.url)
        _subscribe(
            client, world, "cert-b", {"kind": "email", "to": "soc@cert-b.example", "events": ["feedback"]}
        )
        # an inside-only subscription of the publisher hears nothing of feedback
        _subscribe(client, world, "cert-b", {"kind": "webhook", "url": other.url, "secret": SECRET})
        cfg = config(smtp)
        assert run_pass(sm, cfg).deliveries == []

        _report(client, world, "cert-c", ind["id"], kind="sighting", count=4, text="on our resolver")
        _report(client, world, "vendor", ind["id"], kind="false-positive", text="our NTP pool")
        assert _report(client, world, "cert-c", ind["id"], kind="false-positive")["held"] is True
        report = run_pass(sm, cfg)
        assert sorted((d.kind, d.count) for d in report.deliveries) == [("email", 4), ("webhook", 4)]

        notices = _notices(rec)
        assert sorted(n["notice"] for n in notices) == [
            "false-positive",
            "false-positive",
            "held",
            "sighting",
        ]
        assert {n["object_id"] for n in notices} == {ind["id"]}
        by = {(n["notice"], n.get("reporter")) for n in notices}
        assert ("sighting", "cert-c") in by and ("false-positive", "vendor") in by
        sighting = next(n for n in notices if n["notice"] == "sighting")
        assert sighting["count"] == 4 and sighting["group"] == "africa" and sighting["tlp"] == "green"
        assert sighting["text"] == "on our resolver" and sighting["report_type"] == "sighting"
        fp = next(n for n in notices if n.get("reporter") == "vendor")
        assert fp["text"] == "our NTP pool"
        held = next(n for n in notices if n["notice"] == "held")
        assert held["decide"] == f"/lookup/v1/objects/{ind['id']}/decision" and "reporter" not in held
        assert other.got == []

        [(_sender, rcpts, raw)] = box.messages
        assert rcpts == ["soc@cert-b.example"]
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["Subject"] == "[hub] 4 feedback notice(s) on objects of cert-b"
        assert msg.get_content_type() == "text/plain"
        text = msg.get_content()
        assert f"- HELD: {ind['id']}" in text and "by vendor" in text and 'text: "our NTP pool"' in text

        # delivered once: the next pass has nothing; a decision is not a report, nothing more is said
        assert run_pass(sm, cfg).deliveries == []
        r = client.post(
            f"/lookup/v1/objects/{ind['id']}/decision",
            json={"action": "confirm"},
            headers=_h(world, "cert-b"),
        )
        assert r.status_code == 200, r.text
        assert run_pass(sm, cfg).deliveries == []


def test_a_hold_decided_before_delivery_is_not_announced(
    client: Any, world: World, sm: Any, allow_local: None
) -> None:
    ind = _ip_indicator(232)
    post(client, world, [ind], org="cert-b")
    with http_receiver() as rec:
        _hook(client, world, "cert-b", rec.url)
        for org in ("cert-c", "vendor"):
            _report(client, world, org, ind["id"], kind="false-positive")
        r = client.post(
            f"/lookup/v1/objects/{ind['id']}/decision",
            json={"action": "confirm"},
            headers=_h(world, "cert-b"),
        )
        assert r.status_code == 200, r.text
        run_pass(sm, config(None))
        assert sorted(n["notice"] for n in _notices(rec)) == ["false-positive", "false-positive"]


def test_a_hold_the_publishers_own_false_positive_completes_is_announced(
    client: Any, world: World, sm: Any, allow_local: None
) -> None:
    """The publisher is not told of its own report, but a hold is news whoever completed it."""
    ind = _ip_indicator(239)
    post(client, world, [ind], org="cert-b")
    with http_receiver() as rec:
        _hook(client, world, "cert-b", rec.url)
        _report(client, world, "vendor", ind["id"], kind="false-positive")
        assert _report(client, world, "cert-b", ind["id"], kind="false-positive")["held"] is True
        run_pass(sm, config(None))
        assert sorted((n["notice"], n.get("reporter")) for n in _notices(rec)) == [
            ("false-positive", "vendor"),
            ("held", None),
        ]


@pytest.mark.parametrize("policy", ["publisher", "everyone-anonymous", "everyone"])
def test_only_the_publisher_hears_and_only_what_it_may_read(
    client: Any, world: World, sm: Any, allow_local: None, policy: str
) -> None:
    r = admin(client, world, "cert-a", "PATCH", "/groups/africa", json={"feedback_visibility": policy})
    assert r.status_code == 200, r.text
    # cert-g (contributor, cleared GREEN) publishes; cert-c reports
    ind = _ip_indicator(233 + ["publisher", "everyone-anonymous", "everyone"].index(policy))
    post(client, world, [ind], org="cert-g")
    with (
        http_receiver() as pub,
        http_receiver() as coord,
        http_receiver() as member,
        http_receiver() as reporter,
    ):
        _hook(client, world, "cert-g", pub.url)
        _hook(client, world, "cert-a", coord.url)  # the group's coordinator reads reports, is not told
        _hook(client, world, "cert-b", member.url)  # another member
        _hook(client, world, "cert-c", reporter.url)  # the reporter itself
        # an AMBER report is above the publisher's clearance: it never hears of it, not even that it exists
        _report(client, world, "cert-c", ind["id"], kind="note", text="amber detail", tlp="amber")
        _report(client, world, "cert-c", ind["id"], kind="note", text="green detail", tlp="green")
        _report(client, world, "vendor", ind["id"], kind="sighting")
        run_pass(sm, config(None))
        notices = _notices(pub)
        # the publisher reads every report on its objects in full, whatever the policy (docs/feedback.md):
        # the notice names the reporter as the object page does
        assert sorted((n["notice"], n["reporter"], n["text"]) for n in notices) == [
            ("note", "cert-c", "green detail"),
            ("sighting", "vendor", ""),
        ]
        assert "amber detail" not in str(pub.got)
        assert coord.got == [] and member.got == [] and reporter.got == []


def test_a_report_on_another_publishers_object_is_not_told_to_a_member_posing_as_publisher(
    client: Any, world: World, sm: Any, allow_local: None
) -> None:
    """A member that reports on its own object, or subscribes to feedback and waits, learns nothing of
    reports on objects it did not publish: notices follow the object's publisher, not the subscriber."""
    theirs = _ip_indicator(237)
    post(client, world, [theirs], org="cert-b")
    with http_receiver() as rec:
        _hook(client, world, "cert-g", rec.url)
        _report(client, world, "cert-c", theirs["id"], kind="false-positive", text="hidden from cert-g")
        run_pass(sm, config(None))
        assert rec.got == []


HOSTILE = (
    "fine\r\nBcc: victim@example.org\r\nSubject: pwned\r\n\r\n<script>alert(1)</script>"
    "\u2028- HELD: indicator--forged\u202e\x07\x1b[31m"
)


def test_a_hostile_note_stays_inert_in_the_webhook_and_the_email(
    client: Any, world: World, sm: Any, allow_local: None
) -> None:
    ind = _ip_indicator(238)
    post(client, world, [ind], org="cert-b")
    with http_receiver() as rec, smtp_server() as (smtp, box):
        _hook(client, world, "cert-b", rec.url)
        _subscribe(
            client, world, "cert-b", {"kind": "email", "to": "soc@cert-b.example", "events": ["feedback"]}
        )
        _report(client, world, "cert-c", ind["id"], kind="note", text=HOSTILE)
        run_pass(sm, config(smtp))

        [notice] = _notices(rec)
        text = notice["text"]
        assert "\r" not in text and "\n" not in text and "\u2028" not in text and "\u202e" not in text
        assert "\x07" not in text and "\x1b" not in text
        assert "<script>alert(1)</script>" in text  # kept as text: JSON carries it, nothing renders it

        [(_sender, rcpts, raw)] = box.messages
        assert rcpts == ["soc@cert-b.example"]  # no Bcc smuggled in
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["Bcc"] is None and msg["Subject"] == "[hub] 1 feedback notice(s) on objects of cert-b"
        assert msg.get_content_type() == "text/plain" and not msg.is_multipart()
        body = msg.get_content()
        # the text is one quoted line: it cannot start a line of its own (a forged notice)
        assert [line for line in body.splitlines() if "HELD" in line] == [
            line for line in body.splitlines() if line.startswith("  text: ")
        ]
        assert "\x1b" not in body and "\u202e" not in body


def test_the_feedback_event_is_checked_at_the_admin_api(client: Any, world: World, allow_local: None) -> None:
    body = {"kind": "email", "to": "soc@cert-b.example", "events": ["feedback", "gossip"]}
    r = admin(client, world, "cert-b", "POST", "/organisations/cert-b/subscriptions", json=body)
    assert r.status_code == 422 and "feedback" in r.text
    sub = _subscribe(
        client, world, "cert-b", {"kind": "email", "to": "soc@cert-b.example", "events": ["Feedback"]}
    )
    assert sub["events"] == ["feedback"]
