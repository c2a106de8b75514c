"""A push feed to medallion, the reference TAXII 2.1 server: TLP travels, reclassified objects go away."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.sync.feeds import FeedsConfig, apply_feeds
from hub.sync.models import Feed
from hub.sync.worker import run_named
from tests.factories import TLP, indicator
from tests.interop.conftest import MEDALLION_PASSWORD, MEDALLION_USER
from tests.taxii_helpers import store

pytestmark = pytest.mark.interop


def served(medallion):
    from taxii2client.v21 import as_pages

    got = {}
    for page in as_pages(medallion.collection().get_objects, per_request=100):
        for o in page.get("objects", []):
            got[o["id"]] = o
    return got


def test_push_to_medallion_carries_explicit_tlp_and_withdraws_reclassified_objects(
    sm, client, world, medallion
):
    medallion.reset()
    unmarked = indicator(700, tlp=None)  # AMBER by africa's default: it never leaves
    store(client, world, [indicator(701, tlp="clear"), indicator(702, tlp="green"), unmarked])
    with sm() as s, s.begin():
        apply_feeds(
            s,
            FeedsConfig.model_validate(
                {
                    "feeds": [
                        {
                            "name": "to-medallion",
                            "direction": "push",
                            "format": "taxii",
                            "url": medallion.collection_url,
                            "group": "africa",
                            "collection": "indicators",
                            "peer_community": "south",
                            "tlp_version": 1,
                            "user": MEDALLION_USER,
                            "password_env": "MEDALLION_PASSWORD",
                        }
                    ]
                }
            ),
            now_us=0,
        )
    env = {"MEDALLION_PASSWORD": MEDALLION_PASSWORD}
    done = run_named(sm, "to-medallion", worker_id="w1", environ=env)
    assert done.outcome.ok, done.outcome.error
    assert done.run.sent == 2
    got = served(medallion)
    assert indicator(701)["id"] in got and indicator(702)["id"] in got
    assert unmarked["id"] not in got
    # the marking definitions the objects reference are there: medallion resolves every ref
    for o in list(got.values()):
        for ref in o.get("object_marking_refs", []):
            assert ref in got, ref
    assert TLP["green"] in got[indicator(702)["id"]]["object_marking_refs"]

    # reclassified at the hub: the peer stops serving it
    store(client, world, [indicator(702, tlp="amber", modified="2024-05-01T00:00:00.000Z")])
    again = run_named(sm, "to-medallion", worker_id="w1", environ=env)
    assert again.outcome.ok, again.outcome.error
    assert again.run.withdrawn == 1
    assert indicator(702)["id"] not in served(medallion)
    # and the run after that has nothing to do
    third = run_named(sm, "to-medallion", worker_id="w1", environ=env)
    assert (third.run.sent, third.run.withdrawn, third.run.read) == (0, 0, 0)
    with sm() as s:
        assert s.scalar(select(Feed.cursor).where(Feed.name == "to-medallion")) == third.run.cursor_after


def test_unmarked_object_reaches_medallion_explicitly_marked_with_tlp_1(sm, client, world, medallion):
    """Unmarked objects take the group default here: a group defaulting to CLEAR sends them marked WHITE."""
    from hub.trust.models import TrustGroup

    medallion.reset()
    with sm() as s, s.begin():
        s.scalar(select(TrustGroup).where(TrustGroup.slug == "africa")).default_tlp = 0
    store(client, world, [indicator(710, tlp=None)])
    with sm() as s, s.begin():
        apply_feeds(
            s,
            FeedsConfig.model_validate(
                {
                    "feeds": [
                        {
                            "name": "to-medallion-1",
                            "direction": "push",
                            "format": "taxii",
                            "url": medallion.collection_url,
                            "group": "africa",
                            "collection": "indicators",
                            "tlp_version": 1,
                            "user": MEDALLION_USER,
                            "password_env": "MEDALLION_PASSWORD",
                        }
                    ]
                }
            ),
            now_us=0,
        )
    done = run_named(sm, "to-medallion-1", worker_id="w1", environ={"MEDALLION_PASSWORD": MEDALLION_PASSWORD})
    assert done.outcome.ok, done.outcome.error
    got = served(medallion)
    white = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
    assert got[indicator(710)["id"]]["object_marking_refs"] == [white]
    assert got[white]["definition_type"] == "tlp"


def test_pull_from_medallion_applies_the_upstream_relationship(sm, client, world, medallion):
    """medallion as a public upstream: CLEAR comes in; GREEN and unmarked objects (AMBER) do not."""
    medallion.reset()
    sco = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": "ipv4-addr--6f2b2c1a-9a4e-5b0e-8d5b-3a1c2e4f5a6b",
        "value": "198.51.100.77",
    }
    upstream = [indicator(720, tlp="clear"), indicator(721, tlp="green"), indicator(722, tlp=None), sco]
    medallion.collection().add_objects({"objects": upstream})
    with sm() as s, s.begin():
        apply_feeds(
            s,
            FeedsConfig.model_validate(
                {
                    "feeds": [
                        {
                            "name": "from-medallion",
                            "format": "taxii",
                            "url": medallion.collection_url,
                            "group": "africa",
                            "collection": "indicators",
                            "publish_as": "cert-a",
                            "public": True,
                            "user": MEDALLION_USER,
                            "password_env": "MEDALLION_PASSWORD",
                        }
                    ]
                }
            ),
            now_us=0,
        )
    env = {"MEDALLION_PASSWORD": MEDALLION_PASSWORD}
    done = run_named(sm, "from-medallion", worker_id="w1", environ=env)
    assert done.outcome.ok, done.outcome.error
    assert (done.run.created, done.run.refused) == (1, 3)
    for obj in upstream[1:]:
        assert obj["id"] in done.run.notes
    got = client.get(world.objects_url(), headers=world.auth("cert-b")).json()["objects"]
    assert [o["id"] for o in got] == [indicator(720)["id"]]
    assert done.run.cursor_after  # medallion's X-TAXII-Date-Added-Last, normalised
    again = run_named(sm, "from-medallion", worker_id="w1", environ=env)
    assert again.outcome.ok and again.run.created == 0
