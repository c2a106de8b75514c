"""Statistics read the counts kept as versions are stored and deleted (hub.store.counts), and answer
exactly what counting the versions answered, for every reader, on both databases."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import ColumnElement, false, func, or_, select

from hub.db import begin_write
from hub.policy.tlp import Tlp
from hub.store import counts
from hub.store.models import PRIVATE_TLP, ObjectCount
from hub.store.objects import Filters, NewVersion, Reader, delete_versions, insert_versions
from hub.store.queries import visible
from hub.store.tables import ObjectVersion as OV
from hub.trust.access import list_collections
from hub.trust.manage import find_group, tlp_name
from hub.trust.models import Collection, Organisation
from hub.trust.service import Principal, authenticate
from tests.admin.conftest import push_red_and_green, set_clearance
from tests.factories import indicator

# the statistics answered for the last `days` days are compared with counts the test makes for the days
# ending today: both must end on the same day
pytestmark = pytest.mark.usefixtures("clear_of_midnight")

DAY_US = 86_400_000_000
TYPES = ("indicator", "malware", "ipv4-addr", "domain-name", "report")


def _direct(session: Any, actor: Principal, group: str, days: int) -> dict[str, Any]:
    """What statistics answered before the counts were kept: counts over object_versions."""
    g = find_group(session, actor, group)
    shared = OV.private_to == 0
    where: ColumnElement[bool]
    if actor.is_admin:
        where = shared & OV.collection_id.in_(select(Collection.id).where(Collection.group_id == g.id))
    else:
        clauses = [
            (OV.collection_id == acc.collection.id)
            & visible(reader_org_id=actor.org_id, clearance=int(acc.clearance))
            for acc in list_collections(session, actor, g)
        ]
        where = shared & or_(*clauses) if clauses else false()
    out: dict[str, Any] = {
        "by_tlp": {},
        "by_type": {},
        "per_day": {},
        "per_day_by_tlp": {},
        "per_day_by_type": {},
    }
    for level, n in session.execute(select(OV.tlp, func.count()).where(where).group_by(OV.tlp)):
        out["by_tlp"][tlp_name(level)] = n
    out["total"] = sum(out["by_tlp"].values())
    for typ, n in session.execute(select(OV.type, func.count()).where(where).group_by(OV.type)):
        out["by_type"][typ] = n
    start = (time.time_ns() // 1000) // DAY_US - days + 1
    day = OV.date_added_us // DAY_US
    recent = (where, OV.date_added_us >= start * DAY_US)
    for d, level, n in session.execute(
        select(day, OV.tlp, func.count()).where(*recent).group_by(day, OV.tlp)
    ):
        iso = datetime.fromtimestamp(int(d) * 86400, UTC).date().isoformat()
        out["per_day_by_tlp"].setdefault(iso, {})[tlp_name(level)] = n
        out["per_day"][iso] = out["per_day"].get(iso, 0) + n
    for d, typ, n in session.execute(
        select(day, OV.type, func.count()).where(*recent).group_by(day, OV.type)
    ):
        iso = datetime.fromtimestamp(int(d) * 86400, UTC).date().isoformat()
        out["per_day_by_type"].setdefault(iso, {})[typ] = n
    last = dict(
        session.execute(
            select(OV.producer_id, func.max(OV.date_added_us)).where(where).group_by(OV.producer_id)
        ).all()
    )
    slugs = dict(session.execute(select(Organisation.id, Organisation.slug)).all())
    out["last_push"] = {slugs[o]: datetime.fromtimestamp(us / 1e6, UTC).isoformat() for o, us in last.items()}
    return out


def _load(client: Any, sm: Any, world: Any) -> None:
    """Versions over the ingest path (new versions too), back-dated rows over 40 days at every TLP
    (private ones too) straight through the store, and deletes of both kinds."""
    push_red_and_green(client, sm, world)
    for who, objs in (
        ("cert-b", [indicator(1, tlp="amber"), indicator(2, tlp="clear"), indicator(3, tlp="amber+strict")]),
        (
            "cert-a",
            [indicator(4, tlp="amber"), indicator(4, tlp="amber", modified="2024-02-01T00:00:00.000Z")],
        ),
        ("cert-b", [indicator(2, tlp="clear", modified="2024-03-01T00:00:00.000Z")]),
    ):
        r = client.post(
            world.objects_url(), content=orjson.dumps({"objects": objs}), headers=world.post_headers(who)
        )
        assert r.status_code == 202 and r.json()["failure_count"] == 0, r.text
    coll = world.collections["africa/indicators"]
    rnd = random.Random(22)
    now = time.time_ns() // 1000
    with sm() as s, s.begin():
        begin_write(s)
        orgs = sorted(s.scalars(select(Organisation.id)))
        rows = []
        for i in range(300):
            added = now - rnd.randrange(40) * DAY_US - rnd.randrange(DAY_US)
            producer = rnd.choice(orgs)
            private = rnd.random() < 0.1
            rows.append(
                NewVersion(
                    collection_id=coll, stix_id=f"{rnd.choice(TYPES)}--00000000-0000-4000-8000-{i:012d}",
                    type=rnd.choice(TYPES), spec_version="2.1", version="2024-01-01T00:00:00.000Z",
                    version_us=1_704_067_200_000_000, date_added_us=added,
                    tlp=PRIVATE_TLP if private else rnd.randrange(5), redact_tlp=None, producer_id=producer,
                    private_to=producer if private else 0, body=b"{}",
                )
            )  # fmt: skip
        insert_versions(s, rows[:150])
        insert_versions(s, rows[100:])  # a third of these are stored already: counted once
        gone = delete_versions(
            s, collection_id=coll, reader=Reader(org_id=0, clearance=int(Tlp.RED)),
            filters=Filters(ids=tuple(r.stix_id for r in rows[::7]), versions=("all",)), producer_id=None,
        )  # fmt: skip
        assert gone > 0
    r = client.delete(world.objects_url() + indicator(910)["id"] + "/", headers=world.auth("cert-b"))
    assert r.status_code == 200, r.text


def test_statistics_from_the_counts_equal_counting_the_versions(client, sm, api, admin_world):
    _load(client, sm, admin_world)
    for who, clearance in (("admin", None), ("cert-a", None), ("cert-a", "green"), ("cert-a", "red")):
        if clearance:
            set_clearance(sm, who, clearance)
        with sm() as s, s.begin():
            actor = authenticate(s, admin_world.keys[who])
            assert actor is not None
            for days in (1, 30, 366):
                want = _direct(s, actor, "africa", days)
                r = api(who, "GET", "/groups/africa/stats", params={"days": days})
                assert r.status_code == 200, r.text
                got = r.json()
                for name, value in want.items():
                    if name == "last_push":
                        members = {k: v for k, v in value.items() if k in got[name]}  # members only
                        assert {k: v for k, v in got[name].items() if v} == members, (who, clearance, days)
                    else:
                        assert got[name] == value, (who, clearance, days, name)
    with sm() as s:
        assert s.scalar(select(func.count()).select_from(ObjectCount).where(ObjectCount.n <= 0)) == 0


def test_the_backfill_counts_what_the_store_counted(client, sm, admin_world):
    """Migration 0006_load's backfill (counts.rebuild does the same) gives the counts kept at ingest."""
    _load(client, sm, admin_world)
    columns = (ObjectCount.collection_id, ObjectCount.day, ObjectCount.tlp, ObjectCount.type,
               ObjectCount.producer_id, ObjectCount.n, ObjectCount.last_added_us)  # fmt: skip
    with sm() as s, s.begin():
        begin_write(s)
        kept = sorted(tuple(r) for r in s.execute(select(*columns)))
        counts.rebuild(s)
        rebuilt = sorted(tuple(r) for r in s.execute(select(*columns)))
    assert kept == rebuilt and len(kept) > 50


def test_statistics_never_read_the_versions(client, sm, api, admin_world, connection):
    """Costs as facts: a statistics page sums the kept counts; it never scans object_versions."""
    from sqlalchemy import event

    push_red_and_green(client, sm, admin_world)
    statements: list[str] = []

    def listen(*args: Any) -> None:
        statements.append(args[2])

    event.listen(connection, "before_cursor_execute", listen)
    try:
        for who in ("admin", "cert-a"):
            r = api(who, "GET", "/groups/africa/stats")
            assert r.status_code == 200 and r.json()["total"] > 0, r.text
    finally:
        event.remove(connection, "before_cursor_execute", listen)
    assert any("object_counts" in s for s in statements)
    assert not [s for s in statements if "object_versions" in s]


def test_hub_db_recount_counts_versions_changed_behind_the_stores_back(
    client, sm, api, admin_world, db_url, monkeypatch
):
    """`hub db recount`: versions moved by hand (here, back ten days) are counted again where they are."""
    from sqlalchemy import update
    from typer.testing import CliRunner

    import hub.cli
    from hub.store.tables import ObjectVersion
    from tests.admin.conftest import push_red_and_green

    push_red_and_green(client, sm, admin_world)
    with sm() as session, session.begin():
        session.execute(
            update(ObjectVersion).values(date_added_us=ObjectVersion.date_added_us - 10 * 86_400_000_000)
        )

    def days() -> set[str]:
        r = api("admin", "GET", "/groups/africa/stats", params={"days": 30})
        assert r.status_code == 200, r.text
        return set(r.json()["per_day"])

    stale = days()
    monkeypatch.setattr(hub.cli, "make_sessionmaker", lambda _engine: sm)
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    result = CliRunner().invoke(hub.cli.app, ["db", "recount"])
    assert result.exit_code == 0, result.output
    assert "statistics recounted" in result.output
    fresh = days()
    assert fresh != stale and len(fresh) == 1 and min(fresh) < min(stale)
