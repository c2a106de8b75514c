"""Constituency watch end to end: declare, confirm, subscribe, match, deliver by a real webhook receiver
and a real SMTP server on 127.0.0.1, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy

import orjson
import pytest

from tests.watch_helpers import (
    add_ke_cirt,
    admin,
    config,
    domain_sco,
    http_receiver,
    ip_indicator,
    post,
    run_pass,
    smtp_server,
    valid_signature,
)

SECRET = "a-webhook-secret-of-ke-cirt"


@pytest.fixture
def ke(client, world, sm, monkeypatch):
    monkeypatch.setenv("HUB_OUTBOUND_ALLOW", "127.0.0.1")
    add_ke_cirt(sm, world)
    return world


def _declare(client, world, **body):
    r = admin(client, world, "ke-cirt", "PUT", "/organisations/ke-cirt/constituency", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _subscribe(client, world, body):
    r = admin(client, world, "ke-cirt", "POST", "/organisations/ke-cirt/subscriptions", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _inside(client, world, who="ke-cirt", **params):
    r = client.get("/lookup/v1/inside", params=params, headers={"Authorization": f"Bearer {world.keys[who]}"})
    assert r.status_code == 200, r.text
    return r


def test_a_green_object_in_a_confirmed_network_reaches_the_inside_view_the_webhook_and_the_digest(
    client, ke, sm
):
    world = ke
    _declare(client, world, networks=["41.90.0.0/16"], domains=["ke"])
    with http_receiver() as rec, smtp_server() as (smtp, box):
        _subscribe(client, world, {"kind": "webhook", "url": rec.url, "secret": SECRET, "events": ["inside"]})
        _subscribe(client, world, {"kind": "email", "to": "soc@ke-cirt.example", "events": ["inside"]})
        cfg = config(smtp)

        # unconfirmed: nothing matches anywhere
        post(client, world, "cert-b", [ip_indicator("41.90.3.4")])
        report = run_pass(sm, cfg)
        assert report.matched == 0 and report.deliveries == []
        assert _inside(client, world).json()["results"] == []
        assert rec.got == [] and box.messages == []

        r = admin(client, world, "cert-a", "POST", "/organisations/ke-cirt/constituency/confirm")
        assert r.status_code == 200, r.text
        assert r.json()["pending"] == 0

        post(client, world, "cert-b", [ip_indicator("41.90.7.7"), domain_sco("mail.gov.ke")])
        # above ke-cirt's clearance (GREEN), and in a collection it cannot read: never anywhere
        post(client, world, "cert-b", [ip_indicator("41.90.8.8", tlp="amber")])
        post(client, world, "cert-a", [ip_indicator("41.90.9.9")], alias="a-to-b")
        report = run_pass(sm, cfg)
        assert report.matched == 2, report
        assert sorted(d.kind for d in report.deliveries) == ["email", "webhook"]
        assert all(d.error is None for d in report.deliveries), report.deliveries

    # the webhook: one signed body holding both matches
    assert len(rec.got) == 1
    headers, body = rec.got[0]
    assert valid_signature(SECRET, headers, body)
    assert not valid_signature("another-secret-entirely", headers, body)
    payload = orjson.loads(body)
    assert payload["event"] == "inside" and payload["organisation"] == "ke-cirt"
    got = {(m["value"], m["rule"]) for m in payload["matches"]}
    assert got == {("41.90.7.7", "network 41.90.0.0/16"), ("mail.gov.ke", "cctld .ke")}
    assert all(m["tlp"] == "green" and m["publisher"] == "cert-b" for m in payload["matches"])

    # the digest: one text/plain email to the subscribed address
    assert len(box.messages) == 1
    _sender, rcpts, raw = box.messages[0]
    assert rcpts == ["soc@ke-cirt.example"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "text/plain" and not msg.is_multipart()
    text = msg.get_content()
    assert "41.90.7.7" in text and "mail.gov.ke" in text and "network 41.90.0.0/16" in text
    for hidden in ("41.90.8.8", "41.90.9.9"):
        assert hidden not in text and hidden.encode() not in body

    # the inside view: every visible object in the constituency (the one added before confirmation too)
    results = _inside(client, world).json()["results"]
    assert {r["value"] for r in results} == {"41.90.3.4", "41.90.7.7", "mail.gov.ke"}
    assert [r["date_added"] for r in results] == sorted((r["date_added"] for r in results), reverse=True)

    # the delivery state is visible to the organisation, and each delivery is audited
    subs = admin(client, world, "ke-cirt", "GET", "/organisations/ke-cirt/subscriptions").json()
    assert [(s["kind"], s["delivered"], s["last_error"], s["attempts"]) for s in subs] == [
        ("webhook", 2, None, 0),
        ("email", 2, None, 0),
    ]
    assert all("secret" not in s for s in subs)
    from sqlalchemy import select

    from hub.store.models import AuditEvent

    with sm() as s:
        actions = [
            a for (a,) in s.execute(select(AuditEvent.action).where(AuditEvent.action.like("notify-%")))
        ]
    assert sorted(actions) == ["notify-email", "notify-webhook"]

    # nothing new: a second pass delivers nothing again
    with smtp_server() as (smtp2, box2):
        assert run_pass(sm, config(smtp2)).deliveries == []
    assert box2.messages == []


def test_a_failing_receiver_is_retried_with_backoff_and_the_error_is_shown_to_the_organisation(
    client, ke, sm
):
    world = ke
    _declare(client, world, networks=["41.90.0.0/16"])
    admin(client, world, "admin", "POST", "/organisations/ke-cirt/constituency/confirm")
    with http_receiver() as rec:
        rec.status = 500
        _subscribe(client, world, {"kind": "webhook", "url": rec.url, "secret": SECRET})
        post(client, world, "cert-b", [ip_indicator("41.90.1.1")])
        cfg = config(None)
        report = run_pass(sm, cfg)
        assert [d.error for d in report.deliveries] == ["the receiver answered HTTP 500"]
        sub = admin(client, world, "ke-cirt", "GET", "/organisations/ke-cirt/subscriptions").json()[0]
        assert sub["attempts"] == 1 and sub["last_error"] == "the receiver answered HTTP 500"
        assert sub["next_attempt_us"] > sub["last_attempt_us"]  # backoff: not due again at once
        assert run_pass(sm, cfg).deliveries == []

        # once due again and the receiver is back, the same match is delivered
        from sqlalchemy import update

        from hub.sync.notify_models import Subscription

        with sm() as s, s.begin():
            s.execute(update(Subscription).values(next_attempt_us=0))
        rec.status = 200
        report = run_pass(sm, cfg)
        assert [(d.count, d.error) for d in report.deliveries] == [(1, None)]
        assert len(rec.got) == 2 and rec.got[0][1] != b""
        sub = admin(client, world, "ke-cirt", "GET", "/organisations/ke-cirt/subscriptions").json()[0]
        assert sub["attempts"] == 0 and sub["last_error"] is None and sub["delivered"] == 1


def test_a_delivery_rereads_visibility_at_delivery_time(client, ke, sm):
    """A match recorded while visible, then reclassified out of the organisation's reach, is not sent."""
    world = ke
    _declare(client, world, networks=["41.90.0.0/16"])
    admin(client, world, "admin", "POST", "/organisations/ke-cirt/constituency/confirm")
    with http_receiver() as rec:
        _subscribe(client, world, {"kind": "webhook", "url": rec.url, "secret": SECRET})
        rec.status = 500
        post(client, world, "cert-b", [ip_indicator("41.90.2.2")])
        run_pass(sm, config(None))  # matched, delivery failed
        # ke-cirt leaves africa: what it matched there is no longer its to read
        r = admin(client, world, "admin", "DELETE", "/groups/africa/members/ke-cirt")
        assert r.status_code in (200, 204), r.text
        from sqlalchemy import update

        from hub.sync.notify_models import Subscription

        with sm() as s, s.begin():
            s.execute(update(Subscription).values(next_attempt_us=0))
        rec.status, rec.got = 200, []
        report = run_pass(sm, config(None))
        assert report.deliveries == [] or all(d.count == 0 for d in report.deliveries)
        assert rec.got == []


def test_a_webhook_to_an_internal_address_is_refused_unless_the_operator_allows_it(
    client, world, sm, monkeypatch
):
    monkeypatch.delenv("HUB_OUTBOUND_ALLOW", raising=False)
    add_ke_cirt(sm, world)
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.0.0.5/x", "http://[::1]/x",
                "http://169.254.169.254/latest/meta-data", "file:///etc/passwd"):  # fmt: skip
        r = admin(
            client, world, "ke-cirt", "POST", "/organisations/ke-cirt/subscriptions",
            json={"kind": "webhook", "url": url, "secret": SECRET},
        )  # fmt: skip
        assert r.status_code == 422, (url, r.text)


def test_a_webhook_host_that_resolves_internally_is_refused_when_it_connects(client, ke, sm):
    """A public-looking name is judged again when the delivery connects (DNS rebinding)."""
    world = ke
    _declare(client, world, networks=["41.90.0.0/16"])
    admin(client, world, "admin", "POST", "/organisations/ke-cirt/constituency/confirm")
    with http_receiver() as rec:
        url = rec.url.replace("127.0.0.1", "receiver.example")
        _subscribe(client, world, {"kind": "webhook", "url": url, "secret": SECRET})
        post(client, world, "cert-b", [ip_indicator("41.90.4.4")])
        from hub.net import OutboundGuard
        from hub.sync.notify import NotifyConfig

        guard = OutboundGuard.from_environ({}, resolve=lambda host, port: ["127.0.0.1"])
        report = run_pass(sm, NotifyConfig(guard, None, settle_s=0, timeout=5))
        assert [d.error for d in report.deliveries] == [
            "could not deliver: the receiver could not be reached (not resolved, refused, or not public)"
        ]
        assert rec.got == []


def test_values_with_markup_and_header_breaks_stay_inert_in_the_email(client, ke, sm):
    """A published value cannot add headers to a digest, and arrives as plain text, never as markup."""
    world = ke
    _declare(client, world, domains=["ke"])
    admin(client, world, "admin", "POST", "/organisations/ke-cirt/constituency/confirm")
    url = "http://evil.ke/<script>alert(1)</script>?a=1&b=%0d%0aBcc:%20x@evil.example"
    obj = {
        "type": "url",
        "spec_version": "2.1",
        "id": "url--6c1f1b45-0b2e-5b0e-9b0e-3c1d2e3f4a5b",
        "value": url,
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }
    post(client, world, "cert-b", [obj])
    with smtp_server() as (smtp, box):
        _subscribe(client, world, {"kind": "email", "to": "soc@ke-cirt.example"})
        # a `to` smuggling a second recipient or a header is refused
        for bad in (
            "soc@ke-cirt.example\r\nBcc: x@evil.example",
            "a@b.example, c@d.example",
            "<a@b.example>",
        ):
            r = admin(client, world, "ke-cirt", "POST", "/organisations/ke-cirt/subscriptions",
                      json={"kind": "email", "to": bad})  # fmt: skip
            assert r.status_code == 422, bad
        report = run_pass(sm, config(smtp))
    assert [d.error for d in report.deliveries] == [None]
    (_sender, rcpts, raw) = box.messages[0]
    assert rcpts == ["soc@ke-cirt.example"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Bcc"] is None and msg.get_content_type() == "text/plain"
    assert "<script>alert(1)</script>" in msg.get_content()  # shown as text, verbatim


def test_several_workers_never_match_or_deliver_the_same_thing_twice(client, ke, sm):
    """The matcher and each subscription are held by one worker at a time (leases, as feeds)."""
    from hub.sync import notify
    from hub.sync.scheduler import now_us

    world = ke
    _declare(client, world, networks=["41.90.0.0/16"])
    admin(client, world, "admin", "POST", "/organisations/ke-cirt/constituency/confirm")
    with http_receiver() as rec:
        _subscribe(client, world, {"kind": "webhook", "url": rec.url, "secret": SECRET})
        post(client, world, "cert-b", [ip_indicator("41.90.3.3")])
        # worker A holds the matcher: worker B's pass matches nothing meanwhile
        assert notify._claim_matcher(sm, "worker-a", now_us(), 300)
        assert notify.match_new(sm, worker_id="worker-b", settle_s=0) == (0, 0)
        notify._release_matcher(sm, "worker-a")
        assert notify.match_new(sm, worker_id="worker-b", settle_s=0)[1] == 1
        # a lease that expired (its worker died) is taken over
        assert notify._claim_matcher(sm, "worker-a", now_us() - 10**9, 1)
        post(client, world, "cert-b", [ip_indicator("41.90.3.4")])
        assert notify.match_new(sm, worker_id="worker-b", settle_s=0)[1] == 1
        # worker A claims the subscription: worker B finds nothing due
        sub = notify.claim_subscription(sm, worker_id="worker-a", now=now_us())
        assert sub is not None
        assert notify.deliver_due(sm, worker_id="worker-b", config=config(None)) == []
        done = notify.deliver(sm, sub, config(None))
        assert (done.count, done.error) == (2, None)
        assert notify.deliver_due(sm, worker_id="worker-b", config=config(None)) == []
    assert len(rec.got) == 1


@pytest.mark.parametrize("sub_id", ["0", "-1", "2147483648", "99999999999999999999", "x"])
def test_an_out_of_range_subscription_id_is_a_422_not_a_database_error(client, ke, sub_id):
    # PostgreSQL's INTEGER stops at 2**31-1: a larger id used to reach the database and answer 500
    r = admin(client, ke, "ke-cirt", "DELETE", f"/organisations/ke-cirt/subscriptions/{sub_id}")
    assert r.status_code == 422, r.text


def test_an_unknown_or_outsized_subscription_id_reaching_the_service_is_a_404(client, ke, sm):
    from hub.errors import NotFound
    from hub.sync.subscriptions import delete_subscription, list_subscriptions
    from tests.lookup.helpers import principal_of

    _subscribe(client, ke, {"kind": "email", "to": "soc@ke-cirt.example", "events": ["inside"]})
    who = principal_of(sm, ke, "ke-cirt")
    for sub_id in (0, -1, 2**31, 2**63, 10**30, 987654):
        with sm() as s, s.begin(), pytest.raises(NotFound):
            delete_subscription(s, who, "ke-cirt", sub_id)
    with sm() as s, s.begin():
        assert len(list_subscriptions(s, who, "ke-cirt")) == 1
