"""Benchmark of the member lookups (hub/lookup): search by value, object view, downloads.

    python bench/bench_lookup.py [--db sqlite|postgresql|both] [--sizes 1000,10000,100000]

Loads N objects into the demo world's africa/indicators collection through the ingest path (in process),
then times, for a reader cleared to AMBER+STRICT (cert-c) and one cleared to GREEN (vendor): searches
by value (an IP held by an observable and a pattern, a domain, a SHA-256, an IP inside a CIDR value, an
absent value), the object view, and the downloads (ip blocklist, CSV, STIX bundle) with their objects a
second and peak Python memory (tracemalloc, in a second pass so the timings are not slowed by it), and
the ETag check a 304 costs. The data: 50% indicators (IPv4, domain and SHA-256 patterns), 50%
observables (ipv4-addr, domain-name, url, file); TLP:GREEN 70%, CLEAR 20%, AMBER 10%.

PostgreSQL runs use HUB_BENCH_POSTGRES_URL (default the local server) and a database hub_bench_<prefix><n>
dropped afterwards. Prints markdown tables; never asserts timings.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import TLP2, bench_db_name, machine, pct, pg_drop, prepare_hub_database, tempdir

from hub import ingest
from hub.db import begin_write, make_engine, make_sessionmaker
from hub.lookup import downloads
from hub.lookup.downloads import DownloadFilters
from hub.lookup.objects import object_view
from hub.lookup.search import search
from hub.policy.rules import Submitter
from hub.trust import access
from hub.trust.service import authenticate

CREATED = "2024-01-01T00:00:00.000Z"


def _ip(i: int) -> str:
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def _sha(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def objects(n: int, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """N objects: indicators and observables carrying distinct values, at GREEN, CLEAR and AMBER."""
    rng = random.Random(seed)
    for i in range(n):
        t = rng.random()
        refs = [TLP2["green"] if t < 0.7 else TLP2["clear"] if t < 0.9 else TLP2["amber"]]
        u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        r = i % 10
        if r < 5:
            pattern = (
                f"[ipv4-addr:value = '{_ip(i)}']"
                if r < 3
                else f"[domain-name:value = 'host{i}.example']"
                if r == 3
                else f"[file:hashes.'SHA-256' = '{_sha(i)}']"
            )
            yield {
                "type": "indicator", "spec_version": "2.1", "id": f"indicator--{u}", "created": CREATED,
                "modified": CREATED, "name": f"bench {i}", "pattern": pattern, "pattern_type": "stix",
                "valid_from": CREATED, "object_marking_refs": refs,
            }  # fmt: skip
        elif r < 7:
            value = _ip(i) if r == 5 else f"172.{i >> 16 & 255}.{i >> 8 & 255}.0/24"
            yield {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{u}", "value": value,
                   "object_marking_refs": refs}  # fmt: skip
        elif r == 7:
            yield {"type": "domain-name", "spec_version": "2.1", "id": f"domain-name--{u}",
                   "value": f"host{i}.example", "object_marking_refs": refs}  # fmt: skip
        elif r == 8:
            yield {"type": "url", "spec_version": "2.1", "id": f"url--{u}",
                   "value": f"http://host{i}.example/p", "object_marking_refs": refs}  # fmt: skip
        else:
            yield {"type": "file", "spec_version": "2.1", "id": f"file--{u}", "hashes": {"SHA-256": _sha(i)},
                   "object_marking_refs": refs}  # fmt: skip


def load(sm: Any, key: str, collection: str, n: int) -> float:
    """Ingest N objects in envelopes of 1,000 as cert-a; returns the seconds it took."""
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        with sm() as s:
            who = authenticate(s, key)
        assert who is not None
        with sm() as s, s.begin():
            begin_write(s)
            acc = access.authorize(s, who, "africa", collection, "write")
            sub = ingest.Submission(
                collection=acc.policy,
                submitter=Submitter(
                    org_id=who.org_id, identity_id=who.identity_id, role="coordinator", name=who.org_slug
                ),
                group_id=acc.group.id,
                clearance=acc.clearance,
            )
            ingest.add_objects(s, submission=sub, objects=batch, keep_status=False)
        batch.clear()

    for obj in objects(n):
        batch.append(obj)
        if len(batch) == 1000:
            flush()
    if batch:
        flush()
    return time.perf_counter() - started


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def run(kind: str, n: int) -> list[str]:
    tmp = tempdir()
    world = prepare_hub_database(kind, n, tmp)
    engine = make_engine(world.url)
    sm = make_sessionmaker(engine)
    rows: list[str] = []
    try:
        load_s = load(sm, world.keys["cert-a"], world.collection, n)
        if kind == "postgresql":
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE object_versions")
        with sm() as s:
            readers = {org: authenticate(s, world.keys[org]) for org in ("cert-c", "vendor")}
        rows.append(f"| {kind} | {n:,} | load (ingest) | {n / load_s:,.0f} objects/s | | |")
        mid = n // 2 - (n // 2) % 10
        queries = {
            "IP in a pattern": _ip(mid + 1),
            "IP observable": _ip(mid + 5),
            "domain (+ URLs on it)": f"host{mid + 7}.example",
            "SHA-256": _sha(mid + 9),
            "IP inside a /24 value": f"172.{(mid + 6) >> 16 & 255}.{(mid + 6) >> 8 & 255}.77",
            "absent IP": "192.0.2.1",
        }
        for org, who in readers.items():
            assert who is not None
            for label, q in queries.items():
                with sm() as s, s.begin():
                    times = timed(lambda s=s, who=who, q=q: search(s, who, q), 7)
                    hits = len(search(s, who, q).hits)
                rows.append(
                    f"| {kind} | {n:,} | search {label} as {org} | p50 {pct(times, 50) * 1000:.1f} ms, "
                    f"p95 {pct(times, 95) * 1000:.1f} ms | {hits} hits | |"
                )
        who = readers["cert-c"]
        assert who is not None
        with sm() as s, s.begin():
            oid = search(s, who, _ip(5)).hits[0].object_id
            times = timed(lambda: object_view(s, who, oid), 7)
        rows.append(f"| {kind} | {n:,} | object view as cert-c | p50 {pct(times, 50) * 1000:.1f} ms | | |")
        for label, fn, f in (
            ("blocklist.txt kind=ip", downloads.blocklist, DownloadFilters(kind="ip")),
            ("blocklist.csv", downloads.blocklist_csv, DownloadFilters()),
            ("bundle.json", downloads.bundle, DownloadFilters()),
        ):
            with sm() as s, s.begin():
                accs = downloads.scope(s, who, "africa")
                t = time.perf_counter()
                size = sum(len(c) for c in fn(s, who, accs, f))
                secs = time.perf_counter() - t
                t = time.perf_counter()
                downloads.fingerprint(s, who, accs, f, "bench")
                etag_s = time.perf_counter() - t
            gc.collect()
            tracemalloc.start()
            with sm() as s, s.begin():
                for _chunk in fn(s, who, downloads.scope(s, who, "africa"), f):
                    pass
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rows.append(
                f"| {kind} | {n:,} | download {label} as cert-c | {secs * 1000:,.0f} ms, "
                f"{n / secs:,.0f} objects/s, {size / 2**10:,.0f} KiB | peak {peak / 2**20:.1f} MiB | "
                f"ETag {etag_s * 1000:.1f} ms |"
            )
    finally:
        engine.dispose()
        if kind == "postgresql":
            pg_drop(bench_db_name(n))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql", "both"))
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for k, v in machine().items():
        print(f"- {k}: {v}")
    print()
    print("| database | objects | what | time | result | memory / ETag |")
    print("|---|---|---|---|---|---|")
    for kind in kinds:
        for n in (int(x) for x in args.sizes.split(",")):
            for row in run(kind, n):
                print(row, flush=True)


if __name__ == "__main__":
    main()
