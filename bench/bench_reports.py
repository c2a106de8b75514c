"""Reports at scale: group statistics, the audit log and the dashboard's queries on a large hub.

```
.venv/bin/python bench/bench_reports.py --db sqlite|postgresql [--events 3000000] [--objects 3000000]
```

The soak grows a hub by posting, which takes an hour to reach millions of rows; this benchmark writes
them directly instead. On a fresh database with the test world it inserts `--events` audit events
(over the last 30 days: pulls by the readers of africa, pushes, asia and global events, a few
group-less ones, and only a handful of `push-refused` events, all at the oldest end, so that the
dashboard's "last refusals" query is at its worst) and `object_counts` rows standing for `--objects`
stored object versions (three collections, a year of days, every TLP level, ten types, three
publishers). Then it serves the hub (`hub serve`) and times each request `--reps` times over HTTP:

- `/admin/v1/groups/africa/stats` as the coordinator (the console dashboard's statistics are the same
  function) and as the coordinator of asia reading africa's statistics as a reader;
- `/admin/v1/audit` as coordinators: a group's first page, a page far back through the cursor, a rare
  action (the dashboard's last refusals), one organisation, a time window at the oldest end, and with
  no group filter (every group the caller coordinates and its own organisation's events), for the
  coordinator of the big group and for the coordinator of a small one.

It prints the median and the slowest of each. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common
from _common import bench_db_name, machine, pg_drop, prepare_hub_database, start_hub, tempdir, wait_http

SIZE_TAG = 23  # names the database: hub_bench_<prefix>23
DAY_US = 86_400_000_000
TYPES = (
    "indicator", "malware", "identity", "ipv4-addr", "domain-name", "url", "file", "report",
    "attack-pattern", "relationship",
)  # fmt: skip


def _ids(url: str) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            orgs = dict(conn.execute(text("SELECT slug, id FROM organisations")).all())
            groups = dict(conn.execute(text("SELECT slug, id FROM trust_groups")).all())
            colls = {
                f"{g}/{a}": cid
                for g, a, cid in conn.execute(
                    text(
                        "SELECT g.slug, c.alias, c.id FROM collections c JOIN trust_groups g "
                        "ON g.id = c.group_id"
                    )
                ).all()
            }
    finally:
        eng.dispose()
    return orgs, groups, colls


def audit_rows(n: int, orgs: dict[str, int], groups: dict[str, int], colls: dict[str, str]) -> Any:
    """`n` audit events in id order over the last 30 days, as tuples of the insert's columns."""
    rng = random.Random(22)
    now = time.time_ns() // 1000
    start = now - 30 * DAY_US
    step = (now - start) // max(1, n)
    africa, asia, glob = groups["africa"], groups["asia"], groups["global"]
    c_af, c_as, c_gl = colls["africa/indicators"], colls["asia/indicators"], colls["global/indicators"]
    readers = [orgs["cert-c"], orgs["vendor"], orgs["cert-b"]]
    for i in range(n):
        at = start + i * step
        if i < 5:  # the only refusals, at the oldest end
            yield (at, "push-refused", orgs["cert-b"], None, africa, c_af, 3, "3 refused", None, None)
            continue
        r = rng.random()
        if r < 0.90:
            yield (at, "pull-objects", rng.choice(readers), None, africa, c_af, 1000, "", None, None)
        elif r < 0.95:
            who = orgs["cert-a"] if r < 0.925 else orgs["cert-b"]
            yield (at, "push", who, None, africa, c_af, 200, "200 stored", None, None)
        elif r < 0.98:
            yield (at, "pull-objects", orgs["cert-a"], None, asia, c_as, 100, "", None, None)
        elif r < 0.999:
            yield (at, "push", orgs["cert-b"], None, glob, c_gl, 50, "50 stored", None, None)
        else:  # group-less: failed authentication, a key issued by an organisation
            org = rng.choice(list(orgs.values()))
            yield (at, "key.issue", org, None, None, None, 0, "", f"key of {org}", org)


def count_rows(objects: int, orgs: dict[str, int], colls: dict[str, str]) -> list[tuple[Any, ...]]:
    """object_counts rows for `objects` versions: 3 collections x 365 days x 5 TLPs x 10 types x 3
    publishers, the versions spread evenly over them."""
    today = (time.time_ns() // 1000) // DAY_US
    producers = [orgs["cert-a"], orgs["cert-b"], orgs["cert-c"]]
    keys = [
        (cid, today - d, tlp, typ, p)
        for cid in (colls["africa/indicators"], colls["asia/indicators"], colls["global/indicators"])
        for d in range(365)
        for tlp in range(5)
        for typ in TYPES
        for p in producers
    ]
    each, extra = divmod(objects, len(keys))
    return [(*k, each + (1 if i < extra else 0), (k[1] * DAY_US) + 1) for i, k in enumerate(keys)]


AUDIT_COLS = (
    "at_us, action, organisation_id, account_id, group_id, collection_id, count, detail, target, "
    "target_org_id"
)


def fill(url: str, events: int, objects: int) -> dict[str, float]:
    orgs, groups, colls = _ids(url)
    took: dict[str, float] = {}
    t = time.perf_counter()
    batch = 50_000
    rows = audit_rows(events, orgs, groups, colls)
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA journal_mode=WAL")
        sql = f"INSERT INTO audit_events ({AUDIT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
        while chunk := [r for _, r in zip(range(batch), rows, strict=False)]:
            conn.executemany(sql, chunk)
            conn.commit()
        took["audit_s"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.executemany(
            "INSERT INTO object_counts (collection_id, day, tlp, type, producer_id, n, last_added_us) "
            "VALUES (?,?,?,?,?,?,?)",
            count_rows(objects, orgs, colls),
        )
        conn.commit()
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            with conn.cursor() as cur, cur.copy(f"COPY audit_events ({AUDIT_COLS}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            conn.commit()
            took["audit_s"] = time.perf_counter() - t
            t = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY object_counts (collection_id, day, tlp, type, producer_id, n, last_added_us) "
                    "FROM STDIN"
                ) as cp,
            ):
                for r in count_rows(objects, orgs, colls):
                    cp.write_row(r)
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE audit_events")
            conn.execute("VACUUM ANALYZE object_counts")
    took["counts_s"] = time.perf_counter() - t
    return took


def timed(c: httpx.Client, path: str, params: dict[str, str], reps: int) -> tuple[list[float], int]:
    times = []
    n = 0
    for _ in range(reps):
        t = time.perf_counter()
        r = c.get(path, params=params)
        times.append(time.perf_counter() - t)
        if r.status_code != 200:
            raise RuntimeError(f"{path} {params}: {r.status_code} {r.text[:300]}")
        doc = r.json()
        n = len(doc.get("events", [])) if "events" in doc else int(doc.get("total", 0))
    return times, n


def cursor_far_back(c: httpx.Client, pages: int) -> str:
    """The cursor of the page `pages` pages of 1,000 back in africa's audit log."""
    cursor = ""
    for _ in range(pages):
        params = {"group": "africa", "limit": "1000"} | ({"cursor": cursor} if cursor else {})
        cursor = c.get("/admin/v1/audit", params=params).json()["next"]
    return cursor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--events", type=int, default=3_000_000)
    ap.add_argument("--objects", type=int, default=3_000_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--postgres-url", default=None, help="a PostgreSQL server's admin URL")
    args = ap.parse_args()
    if args.postgres_url:
        _common.PG_ADMIN = args.postgres_url

    tmp = tempdir()
    world = prepare_hub_database(args.db, SIZE_TAG, tmp)
    print(f"## Reports at scale: {args.db}, {args.events:,} audit events, object_counts for "
          f"{args.objects:,} versions\n")  # fmt: skip
    for k, v in machine().items():
        print(f"- {k}: {v}")
    took = fill(world.url, args.events, args.objects)
    print(f"- filled: audit events {took['audit_s']:.0f} s, counts {took['counts_s']:.1f} s\n")
    srv, base = start_hub(world.url, tmp / "hub.log")
    try:
        wait_http(base + "/healthz", srv.proc, log=srv.log)
        coord = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {world.keys['cert-a']}"},
                             timeout=600)  # fmt: skip
        small = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {world.keys['cert-c']}"},
                             timeout=600)  # fmt: skip
        oldest = datetime.fromtimestamp((time.time_ns() // 1000 - 30 * DAY_US) / 1e6, UTC)
        window = {"since": oldest.isoformat(), "until": (oldest + timedelta(hours=1)).isoformat()}
        far = cursor_far_back(coord, 20)
        cases: list[tuple[str, httpx.Client, str, dict[str, str]]] = [
            ("stats, coordinator of africa", coord, "/admin/v1/groups/africa/stats", {}),
            ("stats, coordinator of asia, its own group", small, "/admin/v1/groups/asia/stats", {}),
            ("audit, africa, first page of 100", coord, "/admin/v1/audit",
             {"group": "africa", "limit": "100"}),
            ("audit, africa, 100 after 20,000 back (cursor)", coord, "/admin/v1/audit",
             {"group": "africa", "limit": "100", "cursor": far}),
            ("audit, africa, action push-refused, 10 (dashboard)", coord, "/admin/v1/audit",
             {"group": "africa", "action": "push-refused", "limit": "10"}),
            ("audit, africa, organisation cert-a", coord, "/admin/v1/audit",
             {"group": "africa", "organisation": "cert-a", "limit": "100"}),
            ("audit, africa, organisation cert-g (none of its events)", coord, "/admin/v1/audit",
             {"group": "africa", "organisation": "cert-g", "limit": "100"}),
            ("audit, africa, the oldest hour (since/until)", coord, "/admin/v1/audit",
             {"group": "africa", "limit": "100", **window}),
            ("audit, no group filter, coordinator of africa", coord, "/admin/v1/audit", {"limit": "100"}),
            ("audit, no group filter, coordinator of asia", small, "/admin/v1/audit", {"limit": "100"}),
            ("audit, asia, first page of 100", small, "/admin/v1/audit", {"group": "asia", "limit": "100"}),
            ("audit, no group filter, action key.issue", small, "/admin/v1/audit",
             {"action": "key.issue", "limit": "100"}),
        ]  # fmt: skip
        print("| request | median ms | slowest ms | rows |")
        print("|---|---|---|---|")
        for label, client, path, params in cases:
            client.get(path, params=params)  # warm the cache once
            times, n = timed(client, path, params, args.reps)
            print(f"| {label} | {statistics.median(times) * 1000:,.1f} | {max(times) * 1000:,.1f} | {n:,} |",
                  flush=True)  # fmt: skip
        print(f"\nserver RSS at the end: {srv.rss_mb():,.0f} MB")
    finally:
        srv.stop()
        if args.db == "postgresql":
            with contextlib.suppress(Exception):
                pg_drop(bench_db_name(SIZE_TAG))
        if os.environ.get("HUB_BENCH_KEEP") != "1":
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
