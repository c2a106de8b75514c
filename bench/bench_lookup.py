"""Benchmark of the member lookups (hub/lookup): search by value, object view, downloads.

    python bench/bench_lookup.py [--db sqlite|postgresql|both] [--sizes 1000,10000,100000]
        [--searches-only] [--repeat 15] [--batch 1000] [--cache DIR | --no-cache] [--fresh] [--drop-cache]

Loads N objects into the demo world's africa/indicators collection through the ingest path (in process:
hub.ingest.add_objects, what a TAXII POST runs, in envelopes of --batch), then times, for a reader
cleared to AMBER+STRICT (cert-c) and one cleared to GREEN (vendor): searches by value (an IP held by an
observable and a pattern, a domain, a SHA-256, an IP inside a CIDR value, an absent value) through
hub.lookup.search.search (what the lookup API and the console call), the object view, and the downloads
(ip and domain blocklists, CSV, STIX bundle) with their objects a second and peak Python memory
(tracemalloc, in a second pass so the timings are not slowed by it), and the ETag check a 304 costs.
Searches read the value index (hub.store.values) and are timed with and without counting `reporters`.
The data: 50% indicators (IPv4, domain and SHA-256 patterns), 50% observables (ipv4-addr, domain-name,
url, file); TLP:GREEN 70%, CLEAR 20%, AMBER 10%.

A loaded database is kept in --cache (default $HUB_BENCH_CACHE or <tmp>/hub_bench_lookup; on PostgreSQL
a database hub_bench_lookup_<prefix><n>_<digest>) and reused by later runs of the same size, schema
revision and data (the digest); --no-cache loads a fresh one and drops it afterwards. PostgreSQL runs use
HUB_BENCH_POSTGRES_URL (default the local server) and ANALYZE every table after loading (autovacuum does
in production; the test server runs without it). Loading prints its progress to stderr. Prints markdown
tables, with the load average beside each figure, and the growth exponent of each search over the sizes;
raw figures go to bench/results/. Never asserts timings.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import inspect as source
import json
import math
import os
import random
import re
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from _common import (
    PG_ADMIN,
    TLP2,
    HubWorld,
    bench_db_name,
    machine,
    pct,
    pg_drop,
    pg_url,
    prepare_hub_database,
    tempdir,
)
from sqlalchemy import create_engine, text

from hub import ingest
from hub.db import begin_write, make_engine, make_sessionmaker
from hub.lookup import downloads
from hub.lookup import search as lookup_search
from hub.lookup.downloads import DownloadFilters
from hub.lookup.objects import object_view
from hub.lookup.search import search
from hub.policy.rules import Submitter
from hub.schema import head_revision
from hub.store import values as value_index
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


def load(sm: Any, key: str, collection: str, n: int, *, batch: int = 1000, label: str = "") -> float:
    """Ingest N objects as cert-a in envelopes of `batch` (hub.ingest.add_objects, in process: what a
    TAXII POST runs, less HTTP), printing progress each tenth to stderr; returns the seconds it took."""
    started = time.perf_counter()
    pending: list[dict[str, Any]] = []
    done = 0
    step = max(n // 10, batch)
    mark, mark_t = step, started

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
            out = ingest.add_objects(s, submission=sub, objects=pending, keep_status=False)
        assert not out.failures, out.failures[:3]
        pending.clear()

    for obj in objects(n):
        pending.append(obj)
        if len(pending) == batch:
            flush()
            done += batch
            if done >= mark or done == n:
                now = time.perf_counter()
                print(
                    f"  {label} loaded {done:,}/{n:,}: {done / (now - started):,.0f} objects/s overall, "
                    f"{(done - mark + step) / (now - mark_t):,.0f}/s in the last part, "
                    f"load average {os.getloadavg()[0]:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
                mark, mark_t = done + step, now
    if pending:
        flush()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------------ the cache
#
# Loading 1M objects through ingest takes minutes on an idle machine and much longer on a loaded one,
# so a loaded database is kept (--cache, a directory; PostgreSQL databases hub_bench_lookup_*) and
# reused by later runs at the same size. Its name carries a digest of what decides its content: the
# schema revision, this script's data and the code that turns an object into index rows. A database is
# built under a "_partial" name and renamed only once loaded (and on PostgreSQL analyzed), so an
# interrupted load is never reused.

CACHE_VERSION = "1"


def cache_digest() -> str:
    h = hashlib.sha256(CACHE_VERSION.encode())
    h.update(str(head_revision()).encode())
    h.update(source.getsource(objects).encode())
    h.update(source.getsource(value_index.rows_for).encode())
    h.update(source.getsource(value_index.lifecycle_columns).encode())
    h.update((Path(__file__).resolve().parent.parent / "hub" / "vocab" / "values.py").read_bytes())
    return h.hexdigest()[:10]


def cache_name(n: int, digest: str) -> str:
    return f"hub_bench_lookup_{os.environ.get('HUB_TEST_DB_PREFIX', '')}{n}_{digest}"


def _pg_databases() -> list[str]:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT datname FROM pg_database"))]
    finally:
        admin.dispose()


def _pg_rename(old: str, new: str) -> None:
    assert old.startswith("hub_bench_lookup_") and new.startswith("hub_bench_lookup_"), (old, new)
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{new}" WITH (FORCE)'))
            conn.execute(text(f'ALTER DATABASE "{old}" RENAME TO "{new}"'))
    finally:
        admin.dispose()


def _sqlite_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def drop_cached(kind: str, cache: Path, n: int | None, keep: str | None = None) -> list[str]:
    """Remove cached databases of this checkout's prefix (of size `n`, or all), but `keep`."""
    prefix = re.escape(f"hub_bench_lookup_{os.environ.get('HUB_TEST_DB_PREFIX', '')}")
    size = str(n) if n is not None else "[0-9]+"
    pattern = re.compile(rf"^{prefix}{size}_[0-9a-f]{{10}}(_partial)?$")
    gone: list[str] = []
    if kind == "sqlite":
        for meta in list(cache.glob("sqlite_*.json")) + list(cache.glob("hub_bench_lookup_*.db")):
            name = meta.stem.removeprefix("sqlite_")
            if pattern.match(name) and name != keep:
                for f in [meta, *_sqlite_files(cache / f"{name}.db")]:
                    f.unlink(missing_ok=True)
                gone.append(name)
    else:
        for name in _pg_databases():
            if pattern.match(name) and name != keep:
                pg_drop(name)
                (cache / f"postgresql_{name}.json").unlink(missing_ok=True)
                gone.append(name)
    return sorted(set(gone))


@dataclass
class Built:
    """A loaded database: its world, how loading it went, and what to drop afterwards."""

    world: HubWorld
    load_s: float
    load_cpu_s: float
    load_avg: float  # the 1-minute load average at the end of loading
    built: str  # when (UTC)
    cached: bool = False  # reused from an earlier run
    drop: str | None = None  # a PostgreSQL database to drop after the run (not cached)


def _analyze(url: str) -> None:
    """PostgreSQL: statistics for every table, as autovacuum takes them in production (the test server
    runs with autovacuum off)."""
    engine = make_engine(url)
    try:
        # in autocommit: SQLAlchemy rolls back what a connection leaves uncommitted, ANALYZE's statistics
        # with it (pg_stat_user_tables.last_analyze is set all the same)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


def _load_into(world: HubWorld, kind: str, n: int, batch: int) -> tuple[float, float]:
    engine = make_engine(world.url)
    try:
        cpu = time.process_time()
        secs = load(
            make_sessionmaker(engine), world.keys["cert-a"], world.collection, n, batch=batch, label=kind
        )
        cpu = time.process_time() - cpu
    finally:
        engine.dispose()
    if kind == "postgresql":
        _analyze(world.url)
    return secs, cpu


def build(kind: str, n: int, *, batch: int, cache: Path | None, fresh: bool) -> Built:
    """The database of a run: from the cache when it holds one for this size and digest, else loaded
    (and kept in the cache when there is one)."""
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if cache is None:
        world = prepare_hub_database(kind, n, tempdir())
        secs, cpu = _load_into(world, kind, n, batch)
        drop = bench_db_name(n) if kind == "postgresql" else None
        return Built(world, secs, cpu, os.getloadavg()[0], now, drop=drop)
    cache.mkdir(parents=True, exist_ok=True)
    name = cache_name(n, cache_digest())
    meta = cache / f"{kind}_{name}.json"
    present = (
        (cache / f"{name}.db").exists() if kind == "sqlite" else name in _pg_databases()
    ) and meta.exists()
    if present and not fresh:
        raw = json.loads(meta.read_text())
        built = Built(**{**raw, "world": HubWorld(**raw["world"]), "cached": True})
        print(f"  {kind} {n:,}: the database loaded {built.built} ({name})", file=sys.stderr, flush=True)
        return built
    for old in drop_cached(kind, cache, n, keep=None):
        print(f"  {kind}: dropped the cached {old}", file=sys.stderr, flush=True)
    partial = f"{name}_partial"
    world = prepare_hub_database(kind, n, cache, name=partial)
    secs, cpu = _load_into(world, kind, n, batch)
    if kind == "sqlite":
        # the engine is disposed: the WAL is checkpointed into the file and removed with the last
        # connection
        os.replace(cache / f"{partial}.db", cache / f"{name}.db")
        for f in _sqlite_files(cache / f"{partial}.db")[1:]:
            f.unlink(missing_ok=True)
        world.url = f"sqlite:///{cache / f'{name}.db'}"
    else:
        _pg_rename(partial, name)
        world.url = pg_url(name)
    built = Built(world, secs, cpu, os.getloadavg()[0], now)
    meta.write_text(json.dumps(asdict(built), indent=1))
    return built


@contextmanager
def no_reporters() -> Iterator[None]:
    """Search without counting reporters (what the count costs is the difference)."""
    index = getattr(lookup_search, "index", None)  # absent before the value index: nothing to leave out
    if index is None:
        yield
        return
    saved = index.reporters
    index.reporters = lambda *a, **k: {}
    try:
        yield
    finally:
        index.reporters = saved


def _count(conn: Any, table: str) -> str:
    try:
        return f"{conn.exec_driver_sql(f'SELECT count(*) FROM {table}').scalar():,}"
    except Exception:  # the table is absent on a revision before it
        return "no"


def timed(fn: Callable[[], Any], repeat: int, cpu: list[float] | None = None) -> list[float]:
    """Wall-clock seconds of each run; with `cpu`, this process's CPU seconds of each run are added to
    it (on a loaded machine the CPU time of an in-process SQLite search is the steadier figure)."""
    out = []
    for _ in range(repeat):
        c = time.process_time()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
        if cpu is not None:
            cpu.append(time.process_time() - c)
    return out


def _queries(n: int) -> dict[str, str]:
    mid = n // 2 - (n // 2) % 10
    return {
        "IP in a pattern": _ip(mid + 1),
        "IP observable": _ip(mid + 5),
        "domain (+ URLs on it)": f"host{mid + 7}.example",
        "SHA-256": _sha(mid + 9),
        "IP inside a /24 value": f"172.{(mid + 6) >> 16 & 255}.{(mid + 6) >> 8 & 255}.77",
        "absent IP": "192.0.2.1",
    }


def _load_row(kind: str, n: int, batch: int, b: Built) -> str:
    when = f"loaded {b.built}" + (", from the cache" if b.cached else "")
    return (
        f"| {kind} | {n:,} | load (ingest, envelopes of {batch:,}) | {n / b.load_s:,.0f} objects/s | "
        f"{n / b.load_cpu_s:,.0f} objects per CPU second ({when}) | | {b.load_avg:.1f} |"
    )


def _figures(
    times: list[float], cpu: list[float], bare: list[float], bare_cpu: list[float]
) -> dict[str, float]:
    return {
        "p50": pct(times, 50), "p95": pct(times, 95), "cpu_p50": pct(cpu, 50),
        "bare_p50": pct(bare, 50), "bare_p95": pct(bare, 95), "bare_cpu_p50": pct(bare_cpu, 50),
    }  # fmt: skip


def _search_row(kind: str, n: int, what: str, f: dict[str, float]) -> str:
    def m(key: str) -> str:
        return f"{f[key] * 1000:.1f}"

    server = (
        f"; PostgreSQL server CPU, mean: {m('server_cpu_mean')} ms ({m('bare_server_cpu_mean')} ms without)"
        if "server_cpu_mean" in f
        else ""
    )

    return (
        f"| {kind} | {n:,} | search {what} | p50 {m('p50')} ms (CPU {m('cpu_p50')} ms), p95 {m('p95')} ms | "
        f"{f['hits']:.0f} hits | without reporters: p50 {m('bare_p50')} ms (CPU {m('bare_cpu_p50')} ms), "
        f"p95 {m('bare_p95')} ms{server} | {f['load_avg']:.1f} |"
    )


def run(kind: str, n: int, args: argparse.Namespace, results: dict[str, Any]) -> list[str]:
    cache = None if args.no_cache else Path(args.cache)
    built = build(kind, n, batch=args.batch, cache=cache, fresh=args.fresh)
    world = built.world
    engine = make_engine(world.url)
    sm = make_sessionmaker(engine)
    rows: list[str] = []
    figures: dict[str, Any] = results.setdefault(kind, {}).setdefault(str(n), {})
    figures["load"] = {k: v for k, v in asdict(built).items() if k != "world"}
    try:
        with sm() as s:
            readers = {org: authenticate(s, world.keys[org]) for org in ("cert-c", "vendor")}
        rows.append(_load_row(kind, n, args.batch, built))
        with engine.connect() as conn:
            rows.append(f"| {kind} | {n:,} | value index | {_count(conn, 'object_values')} rows | | | |")
        queries = _queries(n)
        for org, who in readers.items():
            assert who is not None
            for label, q in queries.items():
                cpu: list[float] = []
                bare_cpu: list[float] = []
                with sm() as s, s.begin():
                    search(s, who, q)  # the first search of a value reads its pages from disk
                    times = timed(lambda s=s, who=who, q=q: search(s, who, q), args.repeat, cpu)
                    hits = len(search(s, who, q).hits)
                    with no_reporters():
                        bare = timed(lambda s=s, who=who, q=q: search(s, who, q), args.repeat, bare_cpu)
                figures[f"{label} as {org}"] = {
                    **_figures(times, cpu, bare, bare_cpu),
                    "hits": hits,
                    "load_avg": os.getloadavg()[0],
                }
                rows.append(_search_row(kind, n, f"{label} as {org}", figures[f"{label} as {org}"]))
        if args.searches_only:
            return rows
        who = readers["cert-c"]
        assert who is not None
        with sm() as s, s.begin():
            oid = search(s, who, _ip(5)).hits[0].object_id
            times = timed(lambda: object_view(s, who, oid), 7)
        rows.append(
            f"| {kind} | {n:,} | object view as cert-c | p50 {pct(times, 50) * 1000:.1f} ms | | | "
            f"{os.getloadavg()[0]:.1f} |"
        )
        for label, fn, f in (
            ("blocklist.txt kind=ip", downloads.blocklist, DownloadFilters(kind="ip")),
            ("blocklist.txt kind=domain", downloads.blocklist, DownloadFilters(kind="domain")),
            ("blocklist.csv", downloads.blocklist_csv, DownloadFilters()),
            ("bundle.json", downloads.bundle, DownloadFilters()),
        ):
            with sm() as s, s.begin():
                accs = downloads.scope(s, who, "africa")
                t = time.perf_counter()
                c0 = time.process_time()
                size = sum(len(c) for c in fn(s, who, accs, f))
                secs = time.perf_counter() - t
                cpu_s = time.process_time() - c0
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
                f"{n / secs:,.0f} objects/s ({n / cpu_s:,.0f} per CPU second), {size / 2**10:,.0f} KiB | "
                f"peak {peak / 2**20:.1f} MiB | "
                f"ETag {etag_s * 1000:.1f} ms | {os.getloadavg()[0]:.1f} |"
            )
    finally:
        engine.dispose()
        if built.drop:
            pg_drop(built.drop)
    return rows


def _cpu(p: psutil.Process | None) -> float:
    if p is None:
        return 0.0
    c = p.cpu_times()
    return float(c.user + c.system)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def interleaved(kind: str, sizes: list[int], args: argparse.Namespace, results: dict[str, Any]) -> list[str]:
    """The searches of every size in turn, run after run (one search at 10k, one at 100k, one at 1M, the
    first size rotating), so that what the shared machine does meanwhile falls on every size alike and
    the growth exponent is not the drift of the machine's load between sizes measured minutes apart."""
    cache = None if args.no_cache else Path(args.cache)
    built = {n: build(kind, n, batch=args.batch, cache=cache, fresh=args.fresh) for n in sizes}
    engines = {n: make_engine(b.world.url) for n, b in built.items()}
    sms = {n: make_sessionmaker(e) for n, e in engines.items()}
    rows: list[str] = []
    try:
        readers = {}
        for n in sizes:
            with sms[n]() as s:
                readers[n] = {org: authenticate(s, built[n].world.keys[org]) for org in ("cert-c", "vendor")}
        for n in sizes:
            b = built[n]
            figures = results.setdefault(kind, {}).setdefault(str(n), {})
            figures["load"] = {k: v for k, v in asdict(b).items() if k != "world"}
            rows.append(_load_row(kind, n, args.batch, b))
        for org in ("cert-c", "vendor"):
            for label in _queries(sizes[0]):
                t: dict[int, dict[str, list[float]]] = {
                    n: {"with": [], "with_cpu": [], "bare": [], "bare_cpu": []} for n in sizes
                }
                hits: dict[int, int] = {}
                loads: list[float] = []
                sessions = {n: sms[n]() for n in sizes}
                # PostgreSQL: the CPU time of each session's server process (ticks of 10 ms: a mean
                # over the runs, not a percentile)
                backends: dict[int, psutil.Process] = {}
                server = {n: {"with": 0.0, "bare": 0.0} for n in sizes}
                try:
                    for n in sizes:
                        s = sessions[n]
                        s.begin()
                        q = _queries(n)[label]
                        hits[n] = len(search(s, readers[n][org], q).hits)  # reads its pages from disk
                        if kind == "postgresql":
                            pid = s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                            backends[n] = psutil.Process(pid)
                    for rep in range(args.repeat):
                        order = sizes[rep % len(sizes) :] + sizes[: rep % len(sizes)]
                        for n in order:
                            s, who, q = sessions[n], readers[n][org], _queries(n)[label]
                            for what in ("with", "bare"):
                                c0 = _cpu(backends.get(n))
                                with no_reporters() if what == "bare" else _nothing():
                                    t[n][what] += timed(
                                        lambda s=s, who=who, q=q: search(s, who, q), 1, t[n][f"{what}_cpu"]
                                    )
                                server[n][what] += _cpu(backends.get(n)) - c0
                        loads.append(os.getloadavg()[0])
                finally:
                    for s in sessions.values():
                        s.close()
                loadavg = sum(loads) / len(loads)
                for n in sizes:
                    f = t[n]
                    fig = {
                        **_figures(f["with"], f["with_cpu"], f["bare"], f["bare_cpu"]),
                        "hits": hits[n],
                        "load_avg": loadavg,
                    }
                    if kind == "postgresql":
                        fig["server_cpu_mean"] = server[n]["with"] / args.repeat
                        fig["bare_server_cpu_mean"] = server[n]["bare"] / args.repeat
                    results[kind][str(n)][f"{label} as {org}"] = fig
                    rows.append(_search_row(kind, n, f"{label} as {org}", fig))
    finally:
        for e in engines.values():
            e.dispose()
        for b in built.values():
            if b.drop:
                pg_drop(b.drop)
    return rows


def _exponent(values: list[float], sizes: list[int]) -> str:
    if len(values) < 2 or values[0] <= 0 or values[-1] <= 0:
        return ""
    return f"{math.log(values[-1] / values[0]) / math.log(sizes[-1] / sizes[0]):+.2f}"


def growth(results: dict[str, Any]) -> list[str]:
    """Per database and search, p50 wall (CPU) at each size and the growth exponents from the smallest to
    the largest size: log(p50 ratio) / log(size ratio), 0 for a cost that does not grow, 1 for linear."""
    out = []
    for kind, by_size in results.items():
        sizes = sorted(int(x) for x in by_size)
        labels = [k for k in by_size[str(sizes[0])] if k != "load"]
        for label in labels:
            if not all(label in by_size[str(n)] for n in sizes):
                continue
            figs = [by_size[str(n)][label] for n in sizes]
            for wall, cpu, what in (
                ("p50", "cpu_p50", "with reporters"),
                ("bare_p50", "bare_cpu_p50", "without"),
            ):
                cells = " | ".join(f"{f[wall] * 1000:.1f} ({f[cpu] * 1000:.1f})" for f in figs)
                walls, cpus = [f[wall] for f in figs], [f[cpu] for f in figs]
                exps = f"{_exponent(walls, sizes)} / {_exponent(cpus, sizes)}" if len(sizes) > 1 else ""
                out.append(f"| {kind} | {label}, {what} | {cells} | {exps} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql", "both"))
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--batch", type=int, default=1000, help="objects per ingest call (envelope)")
    parser.add_argument("--repeat", type=int, default=15, help="runs of each search")
    parser.add_argument(
        "--cache",
        default=os.environ.get("HUB_BENCH_CACHE", str(Path(tempfile.gettempdir()) / "hub_bench_lookup")),
        help="directory keeping loaded databases for later runs (PostgreSQL: databases hub_bench_lookup_*)",
    )
    parser.add_argument("--no-cache", action="store_true", help="load a fresh database, drop it afterwards")
    parser.add_argument("--fresh", action="store_true", help="load again even when the cache has the size")
    parser.add_argument("--drop-cache", action="store_true", help="remove the cached databases and stop")
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="searches only, every size in turn run after run (growth exponents on a shared machine)",
    )
    parser.add_argument(
        "--searches-only", action="store_true", help="leave out the object view and downloads"
    )
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if args.drop_cache:
        for kind in kinds:
            for name in drop_cached(kind, Path(args.cache), None):
                print(f"dropped {kind} {name}")
        return
    for k, v in machine().items():
        print(f"- {k}: {v}")
    print()
    print("| database | objects | what | time | result | memory / ETag | load average |")
    print("|---|---|---|---|---|---|---|")
    results: dict[str, Any] = {}
    sizes = [int(x) for x in args.sizes.split(",")]
    for kind in kinds:
        if args.interleave:
            for row in interleaved(kind, sizes, args, results):
                print(row, flush=True)
            continue
        for n in sizes:
            for row in run(kind, n, args, results):
                print(row, flush=True)
    print()
    print(
        "Search p50 in ms, wall clock (CPU time of this process), by size; growth exponent from the smallest "
        "size to the largest, wall / CPU:"
    )
    print()
    print(f"| database | search | {' | '.join(f'{n:,}' for n in sizes)} | exponent |")
    print(f"|---|---|{'---|' * len(sizes)}---|")
    for row in growth(results):
        print(row)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"lookup-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
