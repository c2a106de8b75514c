"""Hubs linked by sync feeds: TLP travels with every object, A -> B -> C, and AMBER never leaves.

Three live hubs on 127.0.0.1, each on a database of its own (SQLite and PostgreSQL):
- A, a regional hub whose group defaults unmarked objects to GREEN; it pushes to B (community south).
- B, a hub whose group defaults unmarked objects to CLEAR (a public-facing exchange), with a small
  `max_content_length`, so A's pushes are split into many envelopes.
- C, a hub that pulls from B: its group is in community south; a named-recipient collection owned by
  C's pulling organisation alone is the only place AMBER from B may enter.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from hub.cli import app
from hub.db import begin_write, make_engine, make_sessionmaker
from hub.schema import upgrade
from hub.settings import Settings
from hub.store.models import AuditEvent
from hub.sync.feeds import FeedsConfig, apply_feeds
from hub.sync.models import Feed
from hub.sync.worker import run_named
from hub.trust.models import Collection, TrustGroup
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config
from tests.conftest import LiveServer, _worker, drop_database, fresh_database
from tests.factories import TAXII, TLP, indicator

pytestmark = pytest.mark.interop

TLP2_CLEAR, TLP2_GREEN, TLP2_AMBER = TLP["clear"], TLP["green"], TLP["amber"]


def _org(slug: str) -> dict[str, Any]:
    return {"slug": slug, "name": slug.upper(), "accounts": [{"name": "taxii"}]}


WORLDS: dict[str, dict[str, Any]] = {
    "a": {
        "organisations": [_org("cert-a")],
        "groups": [
            {
                "slug": "region",
                "name": "Region",
                "community": "south",
                "default_tlp": "green",
                "members": [{"org": "cert-a", "role": "coordinator"}],
                "collections": [{"alias": "indicators", "title": "Indicators"}],
            }
        ],
    },
    "b": {
        "organisations": [_org("cert-a"), _org("cert-b"), _org("cert-c")],
        "groups": [
            {
                "slug": "exchange",
                "name": "Exchange",
                "community": "south",
                "default_tlp": "clear",
                "members": [
                    {"org": "cert-b", "role": "coordinator"},
                    {"org": "cert-a", "role": "contributor"},
                    {"org": "cert-c", "role": "reader"},
                ],
                "collections": [{"alias": "indicators", "title": "Indicators"}],
            }
        ],
    },
    "c": {
        "organisations": [_org("cert-c"), _org("cert-d")],
        "groups": [
            {
                "slug": "region",
                "name": "Region",
                "community": "south",
                "default_tlp": "clear",
                "members": [
                    {"org": "cert-c", "role": "coordinator"},
                    {"org": "cert-d", "role": "contributor"},
                ],
                "collections": [
                    {"alias": "indicators", "title": "Indicators"},
                    {"alias": "c-only", "title": "C only", "kind": "named", "owner": "cert-c"},
                    {
                        "alias": "c-to-d",
                        "title": "C to D",
                        "kind": "named",
                        "owner": "cert-c",
                        "recipients": ["cert-d"],
                    },
                ],
            }
        ],
    },
}
B_MAX_CONTENT = 6000  # bytes: a few indicators an envelope


@dataclass
class Hub:
    """One live hub: its URL, a session factory on its database, its keys and collection ids."""

    name: str
    base: str
    sm: sessionmaker[Session]
    keys: dict[str, str]
    collections: dict[str, str]

    def url(self, coll: str) -> str:
        group = coll.split("/")[0]
        return f"{self.base}/taxii2/{group}/collections/{self.collections[coll]}/"

    def headers(self, org: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[org]}", "Accept": TAXII, "Content-Type": TAXII}

    def post(self, org: str, coll: str, objs: list[dict[str, Any]]) -> None:
        r = httpx.post(
            self.url(coll) + "objects/", content=orjson.dumps({"objects": objs}), headers=self.headers(org)
        )
        assert r.status_code == 202 and r.json()["failure_count"] == 0, r.text

    def objects(self, org: str, coll: str) -> dict[str, dict[str, Any]]:
        """Every object the hub serves `org` in `coll`, by id (marking definitions included)."""
        r = httpx.get(self.url(coll) + "objects/", headers=self.headers(org), params={"limit": 1000})
        assert r.status_code == 200, r.text
        return {o["id"]: o for o in r.json().get("objects", [])}

    def load(self, *feeds: dict[str, Any]) -> None:
        from hub.sync.scheduler import now_us

        with self.sm() as s, s.begin():
            begin_write(s)  # the live hub writes audit rows beside us: be a writer from the start
            apply_feeds(s, FeedsConfig.model_validate({"feeds": list(feeds)}), now_us=now_us())

    def run(self, feed: str, environ: dict[str, str]) -> Any:
        return run_named(self.sm, feed, worker_id=f"{self.name}:1", environ=environ)


def start_hubs(
    worlds: dict[str, dict[str, Any]],
    db_kind: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    *,
    prefix: str,
    max_content: dict[str, int] | None = None,
) -> Iterator[dict[str, Hub]]:
    """A live hub per world on a database of its own (`prefix` names them), its trust config applied;
    stopped and dropped afterwards. `max_content`: a hub's max_content_length (default 2 MiB)."""
    started: list[tuple[LiveServer, Any, str]] = []
    out: dict[str, Hub] = {}
    tag = zlib.crc32(request.module.__name__.encode()) % 10**6
    try:
        for name, world in worlds.items():
            dbname = f"hub_{prefix}_{name}_{_worker()}_{tag}"
            url = fresh_database(db_kind, dbname, tmp_path_factory.mktemp(f"{prefix}-{name}"))
            upgrade(url)
            engine = make_engine(url)
            sm = make_sessionmaker(engine)
            with sm() as s, s.begin():
                begin_write(s)
                issued = apply_config(s, TrustConfig.model_validate(world))
            with sm() as s:
                groups = {g.id: g.slug for g in s.scalars(select(TrustGroup))}
                colls = {f"{groups[c.group_id]}/{c.alias}": c.id for c in s.scalars(select(Collection))}
            server = LiveServer(
                url,
                Settings(
                    database_url=url,
                    secret_key=f"{name}-secret",
                    max_page_size=1000,
                    max_content_length=(max_content or {}).get(name, 2 * 1024 * 1024),
                ),
            ).start()
            started.append((server, engine, dbname))
            out[name] = Hub(name, server.base, sm, {k.organisation: k.key for k in issued}, colls)
        yield out
    finally:
        for server, engine, dbname in started:
            server.stop()
            engine.dispose()
            drop_database(db_kind, dbname)


@pytest.fixture(scope="module")
def hubs(
    db_kind: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Any]:
    yield from start_hubs(
        WORLDS, db_kind, tmp_path_factory, request, prefix="fed", max_content={"b": B_MAX_CONTENT}
    )


def push_a_to_b(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "direction": "push",
        "format": "taxii",
        "url": "",  # set by the caller
        "group": "region",
        "collection": "indicators",
        "peer_community": "south",
        "user": "cert-a",
        "password_env": "PEER_B_KEY",
        **extra,
    }


def observable(n: int) -> dict[str, Any]:
    return {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": f"ipv4-addr--{_uuid(n)}",
        "value": f"192.0.2.{n}",
    }


def _uuid(n: int) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fed-{n}"))


def levels_of(obj: dict[str, Any]) -> set[str]:
    return {k for k, v in TLP.items() if v in (obj.get("object_marking_refs") or [])}


def test_tlp_travels_a_to_b_to_c_and_amber_never_leaves(hubs):
    a, b, c = hubs["a"], hubs["b"], hubs["c"]
    objs = {
        "clear": indicator(100, tlp="clear"),
        "green": indicator(101, tlp="green"),
        "amber": indicator(102, tlp="amber"),
        "strict": indicator(103, tlp="amber+strict"),
        "unmarked": indicator(104, tlp=None),  # GREEN at A by the group default
        "sco": observable(105),  # an unmarked SCO: GREEN at A too
        **{f"bulk{n}": indicator(200 + n, tlp="clear", description="x" * 400) for n in range(12)},
    }
    a.post("cert-a", "region/indicators", list(objs.values()))
    a.load({**push_a_to_b("a-to-b"), "url": b.url("exchange/indicators")})
    env = {"PEER_B_KEY": b.keys["cert-a"], "UP_B_KEY": b.keys["cert-c"]}

    done = a.run("a-to-b", env)
    assert done.outcome.ok, done.outcome.error
    assert (done.run.sent, done.run.unchanged, done.run.refused) == (16, 0, 0)
    at_b = b.objects("cert-b", "exchange/indicators")
    for key in ("clear", "green", "unmarked", "sco", "bulk0", "bulk11"):
        assert objs[key]["id"] in at_b, key
    for key in ("amber", "strict"):
        assert objs[key]["id"] not in at_b, key
    # TLP intact: the unmarked object and the SCO arrive explicitly GREEN (not B's CLEAR default),
    # and the TLP 2.0 marking definitions came along
    assert levels_of(at_b[objs["unmarked"]["id"]]) == {"green"}
    assert levels_of(at_b[objs["sco"]["id"]]) == {"green"}
    assert levels_of(at_b[objs["clear"]["id"]]) == {"clear"}
    assert {TLP2_CLEAR, TLP2_GREEN} <= set(at_b)
    # B's limit of 6,000 bytes split the push into several envelopes, all acknowledged
    with a.sm() as s:
        audits = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "push-out")))
    assert sum(a.count for a in audits if "a-to-b" in a.detail) == 16
    assert len(audits) > 2  # one for each acknowledged envelope, and the run's remainder

    # B's public export: TLP:CLEAR only; the object that was unmarked at A stays GREEN, so it is not there
    out = _export(b, "exchange")
    assert objs["unmarked"]["id"] not in out and objs["sco"]["id"] not in out
    assert objs["clear"]["id"] in out and objs["green"]["id"] not in out

    # a second run moves nothing
    again = a.run("a-to-b", env)
    assert again.outcome.ok and (again.run.sent, again.run.unchanged, again.run.read) == (0, 0, 0)

    # C pulls from B (community south): CLEAR and GREEN come in with their TLP, AMBER never does
    b.post("cert-b", "exchange/indicators", [indicator(300, tlp="amber"), indicator(301, tlp=None)])
    c.load(
        {
            "name": "from-b",
            "format": "taxii",
            "url": b.url("exchange/indicators"),
            "group": "region",
            "collection": "indicators",
            "publish_as": "cert-c",
            "peer_community": "south",
            "user": "cert-c",
            "password_env": "UP_B_KEY",
        }
    )
    pulled = c.run("from-b", env)
    assert pulled.outcome.ok, pulled.outcome.error
    at_c = c.objects("cert-d", "region/indicators")
    assert levels_of(at_c[objs["unmarked"]["id"]]) == {"green"}
    assert levels_of(at_c[objs["sco"]["id"]]) == {"green"}
    assert levels_of(at_c[objs["clear"]["id"]]) == {"clear"}
    assert indicator(300)["id"] not in at_c  # AMBER at B
    assert indicator(301)["id"] not in at_c  # unmarked at B: AMBER by upstream_default_tlp
    assert pulled.run.refused == 2
    assert indicator(300)["id"] in pulled.run.notes and "restricted to cert-c" in pulled.run.notes
    # C's public export does not carry what was GREEN at A either (next hop and beyond)
    out = _export(c, "region")
    assert objs["unmarked"]["id"] not in out and objs["clear"]["id"] in out
    # a second pull moves nothing
    second = c.run("from-b", env)
    assert second.outcome.ok and (second.run.read, second.run.created) == (0, 0)

    # AMBER from another hub enters only a collection restricted to the pulling organisation
    for alias, expect in (("c-only", True), ("c-to-d", False)):
        c.load(
            {
                "name": f"from-b-{alias}",
                "format": "taxii",
                "url": b.url("exchange/indicators"),
                "group": "region",
                "collection": alias,
                "publish_as": "cert-c",
                "peer_community": "south",
                "user": "cert-c",
                "password_env": "UP_B_KEY",
            }
        )
        run = c.run(f"from-b-{alias}", env)
        assert run.outcome.ok, run.outcome.error
        held = c.objects("cert-c", f"region/{alias}")
        assert (indicator(300)["id"] in held) is expect, alias
        if expect:
            assert levels_of(held[indicator(301)["id"]]) == {"amber"}  # made explicit on import


def test_reclassified_object_is_withdrawn_at_the_peer(hubs):
    a, b = hubs["a"], hubs["b"]
    env = {"PEER_B_KEY": b.keys["cert-a"]}
    first = indicator(400, tlp="green")
    a.post("cert-a", "region/indicators", [first, indicator(401, tlp="clear")])
    a.load({**push_a_to_b("reclassify"), "url": b.url("exchange/indicators")})
    assert a.run("reclassify", env).outcome.ok
    assert first["id"] in b.objects("cert-b", "exchange/indicators")
    # the producer reclassifies it: a new version marked AMBER, which may not leave A
    a.post("cert-a", "region/indicators", [indicator(400, tlp="amber", modified="2024-06-01T00:00:00.000Z")])
    done = a.run("reclassify", env)
    assert done.outcome.ok, done.outcome.error
    assert (done.run.withdrawn, done.run.sent) == (1, 0)
    assert first["id"] not in b.objects("cert-b", "exchange/indicators")
    r = httpx.get(b.url("exchange/indicators") + f"objects/{first['id']}/", headers=b.headers("cert-b"))
    assert r.status_code == 404
    assert "deleted at the peer" in (done.run.notes or "")


def test_pull_refuses_green_from_a_public_upstream_and_marks_its_unmarked_objects(hubs):
    b, c = hubs["b"], hubs["c"]
    b.post(
        "cert-b",
        "exchange/indicators",
        [indicator(500, tlp="green"), indicator(501, tlp="clear"), indicator(502, tlp=None)],
    )
    c.load(
        {
            "name": "public-b",
            "format": "taxii",
            "url": b.url("exchange/indicators"),
            "group": "region",
            "collection": "indicators",
            "publish_as": "cert-c",
            "public": True,
            "upstream_default_tlp": "clear",
            "user": "cert-c",
            "password_env": "UP_B_KEY",
        }
    )
    done = c.run("public-b", {"UP_B_KEY": b.keys["cert-c"]})
    assert done.outcome.ok, done.outcome.error
    held = c.objects("cert-d", "region/indicators")
    assert indicator(500)["id"] not in held
    assert "TLP:GREEN" in done.run.notes
    assert indicator(501)["id"] in held
    # declared CLEAR upstream, B's unmarked objects come in, explicitly CLEAR
    assert levels_of(held[indicator(502)["id"]]) == {"clear"}


def _export(hub: Hub, group: str) -> dict[str, Any]:
    import tempfile
    from pathlib import Path
    from unittest import mock

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        url = hub.sm.kw["bind"].url.render_as_string(hide_password=False)
        with (
            mock.patch.dict("os.environ", {"HUB_DATABASE_URL": url}),  # the CLI refuses a missing file
            mock.patch("hub.cli.make_sessionmaker", lambda _engine: hub.sm),
        ):
            r = CliRunner().invoke(
                app, ["export", "--group", group, "--collection", "indicators", "-o", str(out)]
            )
        assert r.exit_code == 0, r.output
        bundle = json.loads(out.read_bytes())
    objs = {o["id"]: o for o in bundle["objects"]}
    for o in objs.values():
        if o["type"] != "marking-definition":
            assert levels_of(o) == {"clear"}, o  # explicit, even where the group default made it CLEAR
    return objs


def test_feed_rows_keep_no_secret(hubs):
    with hubs["a"].sm() as s:
        for f in s.scalars(select(Feed)):
            assert "key" not in f.url.lower()
