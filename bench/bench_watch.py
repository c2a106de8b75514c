"""Benchmark of constituency watch (hub/sync/notify.py, hub/lookup/inside.py).

    python bench/bench_watch.py [--db sqlite|postgresql|both] [--sizes 10000,100000] [--orgs 1000]

Builds the demo world plus ORGS organisations (readers of africa cleared for GREEN), each with a
confirmed constituency of 10 networks (/16 to /24, 10,000 in all at 1,000 organisations) and 5 domains
(5,000 in all); loads N new objects into africa/indicators through the ingest path (in process): 60%
IPv4 values (indicators and observables), 40% domains and URLs; one value in ten falls in some
organisation's constituency; TLP:GREEN 80%, AMBER 20% (AMBER is above every watcher's clearance, so
those never match). Then times the matcher over all N new versions (the value index, one rule index of
every organisation, the visibility predicate per matching organisation), with its peak Python memory
(tracemalloc, in a second run from the start so the timing is not slowed by it), and the inside view
of one organisation (p50 of 20 pages of 100).

PostgreSQL runs use HUB_BENCH_POSTGRES_URL (default the local server) and a database dropped afterwards.
Prints markdown tables; never asserts timings.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import random
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import TLP2, bench_db_name, machine, pct, pg_drop, prepare_hub_database, tempdir
from sqlalchemy import insert, select, update

from hub import ingest
from hub.db import begin_write, make_engine, make_sessionmaker
from hub.lookup.inside import inside
from hub.policy.rules import Submitter
from hub.sync.notify import match_new
from hub.sync.notify_models import WatchMatch, WatchState
from hub.trust import access
from hub.trust.constituency_models import ConstituencyEntry
from hub.trust.models import Membership, Organisation, TrustGroup
from hub.trust.service import GroupAccess, Principal, authenticate, identity_id_for

CREATED = "2024-01-01T00:00:00.000Z"


def constituencies(orgs: int, seed: int = 7) -> list[tuple[list[str], list[str]]]:
    """Per organisation: 10 distinct public networks (/16 to /24) and 5 domains."""
    rng = random.Random(seed)
    out = []
    used: set[str] = set()
    for i in range(orgs):
        nets: list[str] = []
        while len(nets) < 10:
            length = rng.choice([16, 20, 22, 24])
            first = rng.choice([41, 102, 105, 154, 156, 160, 165, 196, 197])
            addr = (first << 24) | rng.getrandbits(24)
            net = str(ipaddress.ip_network((addr, length), strict=False))
            if net not in used:
                used.add(net)
                nets.append(net)
        out.append((nets, [f"org{i}-d{j}.example.ke" for j in range(5)]))
    return out


def objects(n: int, consts: list[tuple[list[str], list[str]]], seed: int = 2026) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        inside_one = rng.random() < 0.1
        refs = [TLP2["green"] if rng.random() < 0.8 else TLP2["amber"]]
        u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        nets, doms = consts[rng.randrange(len(consts))]
        if rng.random() < 0.6:
            if inside_one:
                net = ipaddress.ip_network(nets[rng.randrange(10)])
                ip = str(net.network_address + rng.randrange(net.num_addresses))
            else:
                ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
            if i % 2:
                yield {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{u}",
                       "created": CREATED, "modified": CREATED, "pattern": f"[ipv4-addr:value = '{ip}']",
                       "pattern_type": "stix", "valid_from": CREATED,
                       "object_marking_refs": refs}  # fmt: skip
            else:
                yield {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{u}", "value": ip,
                       "object_marking_refs": refs}  # fmt: skip
        else:
            host = f"h{i}.{doms[rng.randrange(5)]}" if inside_one else f"h{i}.example.org"
            if i % 2:
                yield {"type": "domain-name", "spec_version": "2.1", "id": f"domain-name--{u}", "value": host,
                       "object_marking_refs": refs}  # fmt: skip
            else:
                yield {"type": "url", "spec_version": "2.1", "id": f"url--{u}", "value": f"http://{host}/x",
                       "object_marking_refs": refs}  # fmt: skip


def add_watchers(sm: Any, consts: list[tuple[list[str], list[str]]]) -> None:
    """ORGS organisations, readers of africa at GREEN, with confirmed constituencies (bulk inserts)."""
    with sm() as s, s.begin():
        begin_write(s)
        africa = s.scalar(select(TrustGroup.id).where(TrustGroup.slug == "africa"))
        now = time.time_ns() // 1000
        s.execute(insert(Organisation), [
            {"slug": f"w{i}", "name": f"W{i}", "identity_id": identity_id_for(f"w{i}"), "active": True,
             "pending_approval": False}
            for i in range(len(consts))
        ])  # fmt: skip
        ids = dict(
            s.execute(select(Organisation.slug, Organisation.id).where(Organisation.slug.like("w%"))).all()
        )
        s.execute(insert(Membership), [
            {"organisation_id": ids[f"w{i}"], "group_id": africa, "role": "reader", "clearance": 1}
            for i in range(len(consts))
        ])  # fmt: skip
        rows = []
        for i, (nets, doms) in enumerate(consts):
            for kind, values in (("network", nets), ("domain", doms)):
                rows += [{"organisation_id": ids[f"w{i}"], "kind": kind, "value": v, "declared_at_us": now,
                          "confirmed_at_us": now, "confirmed_by_org": 0} for v in values]  # fmt: skip
        s.execute(insert(ConstituencyEntry), rows)


def load(sm: Any, key: str, collection: str, objs: Iterator[dict[str, Any]]) -> float:
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    with sm() as s:
        who = authenticate(s, key)
    assert who is not None

    def flush() -> None:
        with sm() as s, s.begin():
            begin_write(s)
            acc = access.authorize(s, who, "africa", collection, "write")
            sub = ingest.Submission(
                collection=acc.policy,
                submitter=Submitter(org_id=who.org_id, identity_id=who.identity_id, role="coordinator",
                                    name=who.org_slug),
                group_id=acc.group.id,
                clearance=acc.clearance,
            )  # fmt: skip
            ingest.add_objects(s, submission=sub, objects=batch, keep_status=False)
        batch.clear()

    for obj in objs:
        batch.append(obj)
        if len(batch) == 1000:
            flush()
    if batch:
        flush()
    return time.perf_counter() - started


def reset(sm: Any) -> None:
    with sm() as s, s.begin():
        begin_write(s)
        s.execute(update(WatchState).values(cursor_us=0, cursor_seq=0, leased_by=None, lease_until_us=None))
        s.query(WatchMatch).delete()


def run(kind: str, n: int, orgs: int) -> list[str]:
    tmp = tempdir()
    world = prepare_hub_database(kind, n, tmp)
    engine = make_engine(world.url)
    sm = make_sessionmaker(engine)
    rows: list[str] = []
    try:
        consts = constituencies(orgs)
        add_watchers(sm, consts)
        loaded = load(sm, world.keys["cert-a"], world.collection, objects(n, consts))
        reset(sm)
        gc.collect()
        t = time.perf_counter()
        versions, matched = match_new(sm, worker_id="bench", settle_s=0)
        took = time.perf_counter() - t
        reset(sm)
        gc.collect()
        tracemalloc.start()
        match_new(sm, worker_id="bench", settle_s=0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        with sm() as s:
            org_id = s.scalar(select(Organisation.id).where(Organisation.slug == "w0"))
            africa = s.scalar(select(TrustGroup.id).where(TrustGroup.slug == "africa"))
        who: Principal | None = None
        if org_id and africa:
            who = Principal(
                account_id=0, org_id=org_id, org_slug="w0", identity_id=identity_id_for("w0"),
                is_admin=False, memberships={africa: GroupAccess(africa, "reader", 1)},
            )  # fmt: skip
        times = []
        count = 0
        if who is not None:
            for _ in range(20):
                with sm() as s, s.begin():
                    t0 = time.perf_counter()
                    count = len(inside(s, who, limit=100).items)
                    times.append(time.perf_counter() - t0)
        rows.append(
            f"| {kind} | {n:,} | {orgs:,} | {orgs * 10:,} / {orgs * 5:,} | {loaded:.1f} s | {versions:,} | "
            f"{matched:,} | {took:.2f} s | {versions / took:,.0f}/s | {peak / 1e6:.1f} MB | "
            f"{pct(times, 50) * 1000:.1f} ms ({count}) |"
        )
    finally:
        engine.dispose()
        if kind == "postgresql":
            pg_drop(bench_db_name(n))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql", "both"))
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--orgs", type=int, default=1000)
    args = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(" ".join(f"{k}: {v}" for k, v in machine().items()))
    print()
    print("| db | new objects | organisations | networks / domains | load | versions matched over | matches "
          "| matching | rate | peak memory | inside view p50 (rows) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        for n in (int(x) for x in args.sizes.split(",")):
            for line in run(kind, n, args.orgs):
                print(line, flush=True)


if __name__ == "__main__":
    main()
