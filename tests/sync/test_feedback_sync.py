"""Feedback across hubs: reports travel under the redistribution rules, and go back where the object
came from over a two-way pull feed.

Two live hubs on 127.0.0.1, each on a database of its own (SQLite and PostgreSQL):
- U, the upstream: cert-u publishes in `exchange` (community south); `hub-down`, the organisation of
  the downstream hub there, reads it with clearance GREEN; cert-x is another member. U also has a
  group `inbox` where hub-down contributes (D's push goes there).
- D, the downstream: it pulls U's `exchange` as `hub-up` (the organisation that stands for U here)
  with `two_way: true` (each test's feed as an organisation of its own: hub-up, hub-up-2, ...);
  cert-r and cert-s are members that read; cert-d publishes its own objects;
  hub-x is another peer hub's organisation, reading (the lying peer).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from hub.cli import app
from hub.db import begin_write
from hub.store.models import AuditEvent
from hub.sync.feeds import FeedsConfig
from hub.sync.models import Feed
from hub.trust.models import Organisation, TrustGroup
from tests.factories import indicator
from tests.feedback.helpers import sighting
from tests.sync.test_federation import Hub, levels_of, start_hubs

pytestmark = pytest.mark.interop


def _org(slug: str) -> dict[str, Any]:
    return {"slug": slug, "name": slug.upper(), "accounts": [{"name": "taxii"}]}


WORLDS: dict[str, dict[str, Any]] = {
    "u": {
        "organisations": [_org("cert-u"), _org("cert-x"), _org("hub-down")],
        "groups": [
            {
                "slug": "exchange",
                "name": "Exchange",
                "community": "south",
                "default_tlp": "green",
                "members": [
                    {"org": "cert-u", "role": "coordinator"},
                    {"org": "cert-x", "role": "reader"},
                    {"org": "hub-down", "role": "reader", "clearance": "green"},
                ],
                "collections": [{"alias": "indicators", "title": "Indicators"}],
            },
            {
                "slug": "inbox",
                "name": "Inbox",
                "community": "south",
                "default_tlp": "green",
                "members": [
                    {"org": "cert-u", "role": "coordinator"},
                    {"org": "hub-down", "role": "contributor"},
                ],
                "collections": [{"alias": "indicators", "title": "Indicators"}],
            },
        ],
    },
    "d": {
        "organisations": [
            _org("cert-d"),
            _org("hub-up"),
            _org("hub-up-2"),
            _org("hub-up-3"),
            _org("hub-up-4"),
            _org("cert-r"),
            _org("cert-s"),
            _org("hub-x"),
        ],
        "groups": [
            {
                "slug": "region",
                "name": "Region",
                "community": "south",
                "default_tlp": "green",
                "members": [
                    {"org": "cert-d", "role": "coordinator"},
                    {"org": "hub-up", "role": "contributor"},
                    {"org": "hub-up-2", "role": "contributor"},
                    {"org": "hub-up-3", "role": "contributor"},
                    {"org": "hub-up-4", "role": "contributor"},
                    {"org": "cert-r", "role": "reader"},
                    {"org": "cert-s", "role": "reader"},
                    {"org": "hub-x", "role": "reader", "clearance": "green"},
                ],
                "collections": [{"alias": "indicators", "title": "Indicators"}],
            }
        ],
    },
}


@pytest.fixture(scope="module")
def hubs(
    db_kind: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Any]:
    yield from start_hubs(WORLDS, db_kind, tmp_path_factory, request, prefix="fbs")


def env(u: Hub) -> dict[str, str]:
    return {"U_READ_KEY": u.keys["hub-down"], "U_PUSH_KEY": u.keys["hub-down"]}


def two_way(u: Hub, name: str = "from-u", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "format": "taxii",
        "url": u.url("exchange/indicators"),
        "group": "region",
        "collection": "indicators",
        "publish_as": "hub-up",
        "peer_community": "south",
        "user": "hub-down",
        "password_env": "U_READ_KEY",
        "two_way": True,
        **extra,
    }


def report(hub: Hub, org: str, oid: str, kind: str, *, ok: bool = True, **body: Any) -> dict[str, Any]:
    """A member's report through the lookup API."""
    r = httpx.post(
        f"{hub.base}/lookup/v1/objects/{oid}/feedback",
        json={"kind": kind, **body},
        headers={"Authorization": f"Bearer {hub.keys[org]}"},
    )
    assert (r.status_code == 201) is ok, r.text
    return dict(r.json())


def get(hub: Hub, org: str, coll: str, oid: str) -> httpx.Response:
    return httpx.get(hub.url(coll) + f"objects/{oid}/", headers=hub.headers(org))


def identity(hub: Hub, org: str) -> str:
    with hub.sm() as s:
        return str(s.scalar(select(Organisation.identity_id).where(Organisation.slug == org)))


def test_feedback_goes_back_to_the_hub_the_object_came_from(hubs):
    u, d = hubs["u"], hubs["d"]
    green, clear = indicator(7001, tlp="green"), indicator(7002, tlp="clear")
    u.post("cert-u", "exchange/indicators", [green, clear])
    d.load(two_way(u))
    first = d.run("from-u", env(u))
    assert first.outcome.ok, first.outcome.error
    assert first.outcome.created == 2 and first.outcome.sent == 0
    # cert-d publishes its own object at D: feedback on it is cert-d's, it never goes to U
    own = indicator(7003, tlp="green")
    d.post("cert-d", "region/indicators", [own])

    seen = report(d, "cert-r", green["id"], "sighting", count=5, text="on our resolvers")
    note = report(d, "cert-r", clear["id"], "note", text="also in our sandbox", tlp="clear")
    above = report(d, "cert-s", clear["id"], "false-positive", tlp="amber")  # above GREEN: stays here
    mine = report(d, "cert-r", own["id"], "sighting")

    done = d.run("from-u", env(u))
    assert done.outcome.ok, done.outcome.error
    assert done.outcome.sent == 2, done.run.notes
    assert "feedback sent back 2" in done.outcome.summary("pull")
    # at U, the publisher reads both as hub-down's feedback; the reporter at D is named nowhere
    at_u = get(u, "cert-u", "exchange/indicators", seen["id"])
    assert at_u.status_code == 200, at_u.text
    body = at_u.json()["objects"][0]
    assert body["sighting_of_ref"] == green["id"] and body["count"] == 5
    assert "created_by_ref" not in body and "where_sighted_refs" not in body
    assert identity(d, "cert-r") not in at_u.text
    assert levels_of(body) == {"green"}
    shown = httpx.get(
        f"{u.base}/lookup/v1/objects/{green['id']}/feedback",
        headers={"Authorization": f"Bearer {u.keys['cert-u']}"},
    ).json()
    assert [(r["kind"], r["reporter"]) for r in shown["reports"]] == [("sighting", "hub-down")]
    assert get(u, "cert-u", "exchange/indicators", note["id"]).status_code == 200
    # U's policy is `publisher`: another member of U gets counts only, never the report
    assert get(u, "cert-x", "exchange/indicators", seen["id"]).status_code == 404
    # the AMBER false positive and the report on cert-d's own object never left
    for held in (above, mine):
        assert get(u, "cert-u", "exchange/indicators", held["id"]).status_code == 404
    with d.sm() as s:
        feed = s.scalar(select(Feed).where(Feed.name == "from-u"))
        assert feed is not None and feed.feedback_cursor is not None
        audits = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "feedback-out")))
    assert sum(a.count for a in audits) == 2
    # a second run sends nothing again; a pull of U brings no second copy to cert-s
    again = d.run("from-u", env(u))
    assert again.outcome.ok and again.outcome.sent == 0
    assert get(d, "cert-s", "region/indicators", seen["id"]).status_code == 404

    # the list of feeds says the feed is two-way, and where its feedback stands
    out = _cli(d, "sync", "list")
    assert "two-way: feedback goes back" in out and "feedback cursor 20" in out


def test_from_a_public_upstream_only_clear_feedback_goes_back(hubs):
    u, d = hubs["u"], hubs["d"]
    clear = indicator(7501, tlp="clear")
    u.post("cert-u", "exchange/indicators", [clear])
    feed = two_way(u, "from-u-public", publish_as="hub-up-4", public=True, upstream_default_tlp="clear")
    del feed["peer_community"]
    d.load(feed)
    assert d.run("from-u-public", env(u)).outcome.ok
    green = report(d, "cert-r", clear["id"], "sighting", tlp="green")  # GREEN never goes to a public hub
    plain = report(d, "cert-r", clear["id"], "note", text="seen", tlp="clear")
    done = d.run("from-u-public", env(u))
    assert done.outcome.ok, done.outcome.error
    assert done.outcome.sent == 1
    assert get(u, "cert-u", "exchange/indicators", plain["id"]).status_code == 200
    assert get(u, "cert-u", "exchange/indicators", green["id"]).status_code == 404


def test_report_on_what_the_peer_hides_from_us_is_answered_as_absent(hubs):
    u, d = hubs["u"], hubs["d"]
    # cert-u's AMBER object at U: hub-down (GREEN there) cannot read it, and the pull never brings it
    ind = indicator(7101, tlp="amber")
    u.post("cert-u", "exchange/indicators", [ind])
    d.load(two_way(u, "from-u-2", publish_as="hub-up-2"))
    assert d.run("from-u-2", env(u)).outcome.ok
    assert get(d, "hub-up-2", "region/indicators", ind["id"]).status_code == 404
    # hub-up-2's account at D publishes objects under that id and under one U never stored
    d.post("hub-up-2", "region/indicators", [indicator(7101, tlp="green")])
    never = indicator(7102, tlp="green")
    d.post("hub-up-2", "region/indicators", [never])
    hidden = report(d, "cert-r", ind["id"], "sighting")
    nowhere = report(d, "cert-r", never["id"], "sighting")
    done = d.run("from-u-2", env(u))
    assert done.outcome.ok, done.outcome.error
    assert done.outcome.sent == 0
    notes = done.run.notes or ""
    assert "2 refused by the upstream" in notes
    # both refused with the very answer an id nobody stored gets: nothing tells D the object is there
    msg_hidden = next(line for line in notes.splitlines() if hidden["id"] in line)
    msg_nowhere = next(line for line in notes.splitlines() if nowhere["id"] in line)
    assert msg_hidden.replace(hidden["id"], "R").replace(ind["id"], "O") == msg_nowhere.replace(
        nowhere["id"], "R"
    ).replace(never["id"], "O")
    for r in (hidden, nowhere):
        assert get(u, "cert-u", "exchange/indicators", r["id"]).status_code == 404
    # refused reports are not posted again at every run
    assert d.run("from-u-2", env(u)).run.notes is None


def test_audience_limited_reports_stay_off_pushes_and_everyone_reports_go_with_their_object(hubs):
    u, d = hubs["u"], hubs["d"]
    green, amber = indicator(7201, tlp="green"), indicator(7202, tlp="amber")
    d.post("cert-d", "region/indicators", [green, amber])
    limited = report(d, "cert-r", green["id"], "sighting")  # policy `publisher`: cert-d is its audience
    push = {
        "name": "to-u", "direction": "push", "format": "taxii", "url": u.url("inbox/indicators"),
        "group": "region", "collection": "indicators", "peer_community": "south", "user": "hub-down",
        "password_env": "U_PUSH_KEY",
    }  # fmt: skip
    d.load(push)
    done = d.run("to-u", env(u))
    assert done.outcome.ok, done.outcome.error
    at_u = u.objects("cert-u", "inbox/indicators")
    assert green["id"] in at_u and amber["id"] not in at_u
    # hub-down writes in U's inbox: whatever it posts there every member reads, so no report with an
    # audience goes
    assert limited["id"] not in at_u

    # under `everyone`, a report is ordinary content: it goes with its object, and only with it
    with d.sm() as s, s.begin():
        begin_write(s)
        s.execute(
            update(TrustGroup).where(TrustGroup.slug == "region").values(feedback_visibility="everyone")
        )
    open_ = report(d, "cert-r", green["id"], "sighting", tlp="clear")
    # a CLEAR report on an AMBER object: the object may not leave, so neither may a report naming it
    naming = report(d, "cert-r", amber["id"], "note", text="seen", tlp="clear")
    done = d.run("to-u", env(u))
    assert done.outcome.ok, done.outcome.error
    at_u = u.objects("cert-u", "inbox/indicators")
    assert open_["id"] in at_u
    assert naming["id"] not in at_u and amber["id"] not in orjson.dumps(at_u).decode()
    assert limited["id"] not in at_u
    # a public export (CLEAR only) carries neither the GREEN object nor the CLEAR report on it
    out = _export(d)
    assert open_["id"] not in out and green["id"] not in out
    with d.sm() as s, s.begin():
        begin_write(s)
        s.execute(
            update(TrustGroup).where(TrustGroup.slug == "region").values(feedback_visibility="publisher")
        )


def test_a_peer_lying_about_tlp_on_its_feedback_gains_nothing(hubs):
    u, d = hubs["u"], hubs["d"]
    ind = indicator(7301, tlp="green")
    d.post("cert-d", "region/indicators", [ind])
    peer = {**d.headers("hub-x")}
    url = d.url("region/indicators") + "objects/"

    def post(obj: dict[str, Any]) -> dict[str, Any]:
        r = httpx.post(url, content=orjson.dumps({"objects": [obj]}), headers=peer)
        assert r.status_code == 202, r.text
        return dict(r.json())

    # above what the collection takes: refused
    red = post(sighting(ind["id"], tlp="red"))
    assert red["failure_count"] == 1 and "ceiling" in red["failures"][0]["message"]
    # claiming to speak for the object's publisher: refused
    forged = post(sighting(ind["id"], identity=identity(d, "cert-d")))
    assert forged["failure_count"] == 1 and "created_by_ref" in forged["failures"][0]["message"]
    # marked CLEAR on a GREEN object: stored as the peer says, but still addressed to the publisher
    low = sighting(ind["id"], tlp="clear")
    assert post(low)["success_count"] == 1
    assert get(d, "cert-d", "region/indicators", low["id"]).status_code == 200
    assert get(d, "cert-s", "region/indicators", low["id"]).status_code == 404
    # ... and the lower marking does not carry it out: no push, no export, no feed back to U
    d.load(
        {
            "name": "to-u-2", "direction": "push", "format": "taxii", "url": u.url("inbox/indicators"),
            "group": "region", "collection": "indicators", "peer_community": "south",
            "user": "hub-down", "password_env": "U_PUSH_KEY",
        }
    )  # fmt: skip
    assert d.run("to-u-2", env(u)).outcome.ok
    assert low["id"] not in u.objects("cert-u", "inbox/indicators")
    out = _export(d)
    assert low["id"] not in out
    # a report on an object the lying peer may not read (AMBER) is the absent answer
    secret = indicator(7302, tlp="amber")
    d.post("cert-d", "region/indicators", [secret])
    guess = post(sighting(secret["id"], tlp="clear"))
    assert guess["failure_count"] == 1 and "no object" in guess["failures"][0]["message"]


def test_two_way_is_declared_on_taxii_pulls_from_hubs_only():
    base = {
        "name": "f",
        "group": "g",
        "collection": "c",
        "url": "https://peer.example/taxii2/r/collections/x/",
    }
    ok = FeedsConfig.model_validate(
        {"feeds": [{**base, "format": "taxii", "publish_as": "o", "peer_community": "s", "two_way": True}]}
    )
    assert ok.feeds[0].two_way
    for bad in (
        {**base, "format": "csv", "publish_as": "o", "two_way": True},
        {**base, "format": "taxii20", "publish_as": "o", "peer_community": "s", "two_way": True},
        {**base, "direction": "push", "format": "taxii", "two_way": True},
    ):
        with pytest.raises(ValueError, match="two_way"):
            FeedsConfig.model_validate({"feeds": [bad]})


def _export(hub: Hub) -> str:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        _cli(hub, "export", "--group", "region", "--collection", "indicators", "-o", str(out))
        return out.read_text()


def _cli(hub: Hub, *args: str) -> str:
    from unittest import mock

    url = hub.sm.kw["bind"].url.render_as_string(hide_password=False)
    with (
        mock.patch.dict("os.environ", {"HUB_DATABASE_URL": url}),
        mock.patch("hub.cli.make_sessionmaker", lambda _engine: hub.sm),
    ):
        r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return str(r.output)


def test_two_way_feed_with_an_account_that_writes_upstream_posts_nothing(hubs):
    u, d = hubs["u"], hubs["d"]
    # hub-down contributes in U's inbox: its reports there would be ordinary content, read by everyone
    ind = indicator(7401, tlp="green")
    u.post("cert-u", "inbox/indicators", [ind])
    d.load(two_way(u, "from-inbox", url=u.url("inbox/indicators"), publish_as="hub-up-3"))
    assert d.run("from-inbox", env(u)).outcome.ok
    seen = report(d, "cert-r", ind["id"], "sighting")
    done = d.run("from-inbox", env(u))
    assert not done.outcome.ok and "may write in the upstream collection" in (done.outcome.error or "")
    assert done.outcome.sent == 0
    assert get(u, "cert-u", "inbox/indicators", seen["id"]).status_code == 404
    with d.sm() as s:
        feed = s.scalar(select(Feed).where(Feed.name == "from-inbox"))
        assert feed is not None and feed.feedback_cursor is None  # posted later, with a reading account
