"""Benchmark of the device formats (hub/lookup/formats): time and memory of each export.

    python bench/bench_exports.py [--db sqlite|postgresql|both] [--sizes 100000]

Loads N objects into the demo world's africa/indicators collection through the ingest path (in process;
the data of bench/bench_lookup.py: half indicators, half observables, IPs, networks, domains, URLs and
SHA-256 hashes), then exports, as a reader cleared to AMBER+STRICT (cert-c): suricata.rules, zeek.intel,
rpz.zone (its serial stored as the route does) and the MISP feed (manifest.json, hashes.csv and every
event). For each: the time (wall and CPU: a busy machine stretches the first, not the second), the
size, the growth of the process's resident memory while it ran (a thread samples RSS every 10 ms) and
the peak of Python's own allocations (tracemalloc, in a second pass so the timings are not slowed by
it; --no-tracemalloc skips it). A flat-memory export grows by the values it remembers writing,
not by the objects it reads. Prints a markdown table; never asserts timings.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import bench_db_name, machine, pg_drop, prepare_hub_database, tempdir
from bench_lookup import load

from hub.db import begin_write, make_engine, make_sessionmaker
from hub.lookup import downloads
from hub.lookup.downloads import DownloadFilters
from hub.lookup.formats import misp_feed, rpz, suricata, zeek
from hub.store.zones import zone_serial
from hub.trust.service import authenticate

NOW_US = time.time_ns() // 1000


class RssPeak:
    """The highest resident set size seen while running, sampled by a thread."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def exports(sm: Any, who: Any) -> dict[str, Callable[[], Iterator[bytes]]]:
    """Each export as a function giving its chunks (a session of its own, as a route's stream has)."""
    f = DownloadFilters(valid=True)

    def with_session(make: Callable[[Any, list[Any]], Iterator[bytes]]) -> Callable[[], Iterator[bytes]]:
        def run() -> Iterator[bytes]:
            with sm() as s:
                yield from make(s, downloads.scope(s, who, "africa"))

        return run

    def zone(s: Any, accs: list[Any]) -> Iterator[bytes]:
        def serial_of(digest: str) -> int:
            s.commit()
            with s.begin():
                begin_write(s)
                return zone_serial(s, key="bench", digest=digest, now_s=rpz.now_s())

        return rpz.zone(s, who, accs, f, group="africa", settings=rpz.ZoneSettings(), serial_of=serial_of)

    def misp_events(s: Any, accs: list[Any]) -> Iterator[bytes]:
        mf = DownloadFilters(valid=False)
        found = b"".join(misp_feed.manifest(s, who, accs, mf, group_name="Africa", now_us=NOW_US))
        import orjson

        for eid in orjson.loads(found):
            yield from misp_feed.event(s, who, accs, mf, event_id=eid, group_name="Africa", now_us=NOW_US)

    return {
        "suricata.rules": with_session(
            lambda s, a: suricata.rules(s, who, a, f, group="africa", sid_base=1_000_000, sid_range=1_000_000)
        ),
        "zeek.intel": with_session(lambda s, a: zeek.intel(s, who, a, f, group="africa")),
        "rpz.zone": with_session(zone),
        "misp-feed/manifest.json": with_session(
            lambda s, a: misp_feed.manifest(s, who, a, DownloadFilters(), group_name="Africa", now_us=NOW_US)
        ),
        "misp-feed/hashes.csv": with_session(
            lambda s, a: misp_feed.hashes(s, who, a, DownloadFilters(), group_name="Africa", now_us=NOW_US)
        ),
        "misp-feed/<uuid>.json, every event": with_session(misp_events),
    }


def run(kind: str, n: int, traced: bool = True) -> list[str]:
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
            who = authenticate(s, world.keys["cert-c"])
        assert who is not None
        rows.append(f"| {kind} | {n:,} | load (ingest) | {load_s:,.1f} s | | | |")
        for label, fn in exports(sm, who).items():
            gc.collect()
            with RssPeak() as rss:
                t, cpu = time.perf_counter(), time.process_time()
                size = sum(len(c) for c in fn())
                secs, cpu_s = time.perf_counter() - t, time.process_time() - cpu
            python_peak = ""
            if traced:
                gc.collect()
                tracemalloc.start()
                for _chunk in fn():
                    pass
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                python_peak = f"{peak / 2**20:,.1f} MiB"
            rows.append(
                f"| {kind} | {n:,} | {label} | {secs:,.2f} s ({cpu_s:,.2f} s CPU), {n / secs:,.0f} objects/s "
                f"| {size / 2**20:,.1f} MiB "
                f"| +{(rss.peak - rss.base) / 2**20:,.0f} MiB RSS (peak {rss.peak / 2**20:,.0f} MiB) "
                f"| {python_peak} |"
            )
    finally:
        engine.dispose()
        if kind == "postgresql":
            pg_drop(bench_db_name(n))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql", "both"))
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the second, traced pass")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for k, v in machine().items():
        print(f"- {k}: {v}")
    print()
    print("| database | objects | export | time | size | resident memory | Python peak (tracemalloc) |")
    print("|---|---|---|---|---|---|---|")
    for kind in kinds:
        for n in (int(x) for x in args.sizes.split(",")):
            for row in run(kind, n, traced=not args.no_tracemalloc):
                print(row, flush=True)


if __name__ == "__main__":
    main()
