"""Soak: the mixed load of issue 22 against a hub this script starts, for a given time, minute by minute.

```
.venv/bin/python bench/bench_soak.py --db sqlite|postgresql --minutes 20 [--writers 2] [--readers 2]
    [--device-list-max-age SECONDS] [--device-list-stale SECONDS]
```

The mix: `--writers` threads post envelopes of `--envelope` indicators (half domain, half IPv4 patterns;
TLP GREEN, CLEAR or AMBER) as cert-a and cert-b without pause; `--readers` TAXII readers (cert-c) page
the collection with `added_after` and `limit=1000` without pause, restarting from the beginning when
they catch up; a device downloads `blocklist.txt?kind=domain` every `--device-every` seconds; a
coordinator (cert-a) reads the group's statistics and the audit log every `--coordinator-every`
seconds. Each minute prints the WAL size (SQLite) or the database and object table sizes (PostgreSQL),
the database connections the server holds open, its RSS (and on SQLite the part of it that is SQLite's
own heap, `hub_sqlite_memory_bytes`), the median of each kind of request in that
minute (and the downloads' values a second: a list linear in its size keeps it flat while the list
grows), and the errors. At the
end, nothing lost is checked: every acknowledged object is stored. Timings are printed, never asserted.

Each client (every writer, every reader, the device, the coordinator) runs in a process of its own, as
it does in the field: with threads of one process the clients' own JSON work held the GIL that a
client waiting on a socket needs back, and a long download's time grew with the other clients' load
(`--clients threads` runs them as the first soaks did).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import queue
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common
from _common import (
    ROOT,
    TAXII,
    TLP2,
    bench_db_name,
    free_port,
    machine,
    pg_drop,
    prepare_hub_database,
    start_hub,
    tempdir,
    wait_http,
)

SOAK_SIZE = 22  # names the database: hub_bench_<prefix>22
KINDS = ("post", "page", "download", "stats", "audit")


class Recorder:
    """Durations and errors per kind of request, taken and reset once a minute."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: dict[str, list[float]] = defaultdict(list)
        self._errors: dict[str, int] = defaultdict(int)
        self.error_samples: list[str] = []
        self.acknowledged = 0
        self.downloaded_lines = 0

    def took(self, kind: str, seconds: float) -> None:
        with self._lock:
            self._times[kind].append(seconds)

    def failed(self, kind: str, what: str) -> None:
        with self._lock:
            self._errors[kind] += 1
            if len(self.error_samples) < 20:
                self.error_samples.append(f"{kind}: {what[:300]}")

    def acked(self, n: int) -> None:
        with self._lock:
            self.acknowledged += n

    def lines(self, n: int) -> None:
        self.downloaded_lines = n

    def take(self) -> tuple[dict[str, list[float]], dict[str, int]]:
        with self._lock:
            times, errors = dict(self._times), dict(self._errors)
            self._times.clear()
            self._errors.clear()
        return times, errors

    def drain(self, events: Any, stop: Any) -> None:
        """Apply what client processes report (`Reporter`) until `stop` and their queue is empty."""
        while True:
            try:
                name, *args = events.get(timeout=0.5)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            getattr(self, name)(*args)


class Reporter:
    """A `Recorder` for a client in another process: each call goes to the parent through a queue."""

    def __init__(self, events: Any) -> None:
        self._events = events

    def took(self, kind: str, seconds: float) -> None:
        self._events.put(("took", kind, seconds))

    def failed(self, kind: str, what: str) -> None:
        self._events.put(("failed", kind, what[:300]))

    def acked(self, n: int) -> None:
        self._events.put(("acked", n))

    def lines(self, n: int) -> None:
        self._events.put(("lines", n))


def label(k: int) -> str:
    """A random-looking DNS label of 6 to 14 characters, the same for the same `k`: a list of these
    compresses about as a real blocklist of names does (2-3x), not as `c2-<k>` would (9x)."""
    digest = hashlib.blake2b(k.to_bytes(8, "big"), digest_size=10).digest()
    return base64.b32encode(digest).decode().lower()[: 6 + digest[0] % 9]


def envelope(rng_seed: int, n: int) -> bytes:
    """`n` new indicators, half with a domain pattern and half with an IPv4 one."""
    created = "2024-01-01T00:00:00.000Z"
    levels = ([TLP2["green"]],) * 7 + ([TLP2["clear"]],) * 2 + ([TLP2["amber"]],)
    objs = []
    for i in range(n):
        k = rng_seed * n + i
        if i % 2:
            pattern = f"[domain-name:value = '{label(k)}.soak.example']"
        else:
            pattern = f"[ipv4-addr:value = '10.{k >> 16 & 255}.{k >> 8 & 255}.{k & 255}']"
        objs.append(
            {
                "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
                "created": created, "modified": created, "name": f"soak {k}",
                "indicator_types": ["malicious-activity"], "pattern": pattern, "pattern_type": "stix",
                "valid_from": created, "object_marking_refs": levels[k % len(levels)],
            }
        )  # fmt: skip
    return orjson.dumps({"objects": objs})


def writer(
    base: str, key: str, objects_url: str, size: int, seeds: Any, rec: Any, stop: threading.Event
) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": TAXII, "Accept": TAXII}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        while not stop.is_set():
            body = envelope(next(seeds), size)
            t = time.perf_counter()
            try:
                r = c.post(objects_url, content=body)
                took = time.perf_counter() - t
                doc = r.json() if r.status_code == 202 else {}
                if r.status_code != 202 or doc.get("success_count") != size:
                    rec.failed("post", f"{r.status_code} {r.text[:200]}")
                    continue
                rec.took("post", took)
                rec.acked(size)
            except httpx.HTTPError as exc:
                rec.failed("post", repr(exc))


def reader(base: str, key: str, objects_url: str, rec: Any, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {key}", "Accept": TAXII}
    after: str | None = None
    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        while not stop.is_set():
            params = {"limit": "1000"}
            if after:
                params["added_after"] = after
            t = time.perf_counter()
            try:
                r = c.get(objects_url, params=params)
                took = time.perf_counter() - t
                if r.status_code != 200:
                    rec.failed("page", f"{r.status_code} {r.text[:200]}")
                    continue
                rec.took("page", took)
                doc = r.json()
                if doc.get("objects") and doc.get("more"):
                    after = r.headers.get("X-TAXII-Date-Added-Last") or after
                else:
                    after = None  # caught up: page the collection again from its start
            except httpx.HTTPError as exc:
                rec.failed("page", repr(exc))


def every(seconds: float, stop: threading.Event, fn: Any) -> None:
    while not stop.is_set():
        started = time.monotonic()
        fn()
        stop.wait(max(0.0, seconds - (time.monotonic() - started)))


def device(base: str, key: str, rec: Any, stop: threading.Event, period: float) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=600) as c:

        def once() -> None:
            t = time.perf_counter()
            try:
                url = "/console/downloads/africa/blocklist.txt"
                with c.stream("GET", url, params={"kind": "domain"}) as r:
                    if r.status_code != 200:
                        rec.failed("download", f"{r.status_code} {r.read()[:200]!r}")
                        return
                    lines = 0
                    for chunk in r.iter_bytes():
                        lines += chunk.count(b"\n")
                        if stop.is_set():
                            return  # the soak is over: a download under way is left unfinished, uncounted
                took = time.perf_counter() - t
                rec.took("download", took)
                rec.took("download_rate", lines / took)  # values a second: flat if linear in the list
                rec.lines(lines)
            except httpx.HTTPError as exc:
                rec.failed("download", repr(exc))

        every(period, stop, once)


def coordinator(base: str, key: str, rec: Any, stop: threading.Event, period: float) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:

        def once() -> None:
            for kind, path, params in (
                ("stats", "/admin/v1/groups/africa/stats", {}),
                ("audit", "/admin/v1/audit", {"group": "africa", "limit": "100"}),
            ):
                t = time.perf_counter()
                try:
                    r = c.get(path, params=params)
                    if r.status_code != 200:
                        rec.failed(kind, f"{r.status_code} {r.text[:200]}")
                        continue
                    rec.took(kind, time.perf_counter() - t)
                except httpx.HTTPError as exc:
                    rec.failed(kind, repr(exc))

        every(period, stop, once)


HOT_TABLES = (
    "object_versions",
    "object_values",
    "object_counts",
    "object_owners",
    "audit_events",
    "statuses",
)


def sizes(kind: str, url: str) -> dict[str, float]:
    """SQLite: the WAL and database files, in MB. PostgreSQL: the database, `object_versions`' heap and
    indexes (pg_relation_size, pg_indexes_size) in MB, and over the tables the writers touch the dead
    rows (pg_stat_user_tables) and how many times autovacuum has run on them."""
    if kind == "sqlite":
        path = url.removeprefix("sqlite:///")
        wal = Path(path + "-wal")
        return {
            "wal_mb": (wal.stat().st_size if wal.exists() else 0) / 2**20,
            "db_mb": Path(path).stat().st_size / 2**20,
        }
    tables = pg_tables(url)
    ov = tables.get("object_versions", {})
    return {
        "db_mb": tables.pop("_database", {}).get("bytes", 0.0) / 2**20,
        "versions_heap_mb": ov.get("heap", 0.0) / 2**20,
        "versions_idx_mb": ov.get("indexes", 0.0) / 2**20,
        "dead_rows": sum(t.get("dead", 0.0) for t in tables.values()),
        "autovacuums": sum(t.get("autovacuums", 0.0) for t in tables.values()),
    }


def pg_tables(url: str) -> dict[str, dict[str, float]]:
    """Per hot table: heap, index and total bytes, live and dead rows, autovacuum and autoanalyze runs,
    and the seconds since its last autovacuum (-1: never); `_database` holds the database's bytes."""
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    out: dict[str, dict[str, float]] = {}
    try:
        with eng.connect() as conn:
            db = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            out["_database"] = {"bytes": float(db)}
            rows = conn.execute(
                text(
                    "SELECT relname, pg_relation_size(relid), pg_indexes_size(relid), "
                    "pg_total_relation_size(relid), n_live_tup, n_dead_tup, autovacuum_count, "
                    "autoanalyze_count, coalesce(extract(epoch FROM now() - last_autovacuum), -1) "
                    "FROM pg_stat_user_tables WHERE relname = ANY(:names)"
                ),
                {"names": list(HOT_TABLES)},
            ).all()
    finally:
        eng.dispose()
    for name, heap, idx, total, live, dead, av, aa, since in rows:
        out[name] = {
            "heap": float(heap), "indexes": float(idx), "total": float(total), "live": float(live),
            "dead": float(dead), "autovacuums": float(av), "autoanalyzes": float(aa),
            "since_autovacuum_s": float(since),
        }  # fmt: skip
    return out


def scrape(metrics_url: str, sqlite: bool) -> dict[str, float]:
    """From the server's Prometheus listener: the database connections it holds open (in use or idle:
    each SQLite one has a page cache) and, on SQLite, the checkpointer's WAL resets done and failed."""
    try:
        body = httpx.get(metrics_url, timeout=10).text
    except httpx.HTTPError:
        return {}
    out = {"wal_resets": 0.0, "wal_reset_failures": 0.0} if sqlite else {}
    out["connections"] = 0.0
    for line in body.splitlines():
        if line.startswith(
            ('hub_db_pool_connections{state="idle"}', 'hub_db_pool_connections{state="checked_out"}')
        ):
            out["connections"] += float(line.rsplit(" ", 1)[1])
        if line.startswith('hub_sqlite_wal_resets_total{outcome="done"}'):
            out["wal_resets"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith('hub_sqlite_wal_resets_total{outcome="busy"}'):
            out["wal_reset_failures"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("hub_sqlite_memory_bytes "):
            out["sqlite_heap_mb"] = float(line.rsplit(" ", 1)[1]) / 2**20
    return out


def print_tables(tables: list[dict[str, dict[str, float]]]) -> None:
    """The hot tables at the first, middle and last minute: sizes, rows, dead rows, autovacuum runs."""
    print("\n| min | table | heap MB | indexes MB | total MB | live rows | dead rows | autovacuums | "
          "autoanalyzes |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    picks = sorted({0, len(tables) // 2, len(tables) - 1})
    for i in picks:
        for name in HOT_TABLES:
            t = tables[i].get(name)
            if t is None:
                continue
            print(f"| {i + 1} | {name} | {t['heap'] / 2**20:,.1f} | {t['indexes'] / 2**20:,.1f} | "
                  f"{t['total'] / 2**20:,.1f} | {t['live']:,.0f} | {t['dead']:,.0f} | "
                  f"{t['autovacuums']:,.0f} | {t['autoanalyzes']:,.0f} |")  # fmt: skip


def stored(url: str) -> int:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM object_versions")).scalar_one())
    finally:
        eng.dispose()


class RssSampler:
    """The server's RSS every `every` seconds in a thread of its own: a minute's peak says more than the
    one reading at its end, which a malloc trim or a finished download may have just lowered."""

    def __init__(self, read: Any, stop: threading.Event, every: float = 2.0) -> None:
        self._read, self._stop, self._every = read, stop, every
        self._lock = threading.Lock()
        self._samples: list[float] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            with contextlib.suppress(Exception):  # the server gone at the end
                value = self._read()
                with self._lock:
                    self._samples.append(value)

    def take(self) -> tuple[float, float]:
        """The minute's (median, peak) RSS, and a new minute begins."""
        with self._lock:
            samples, self._samples = self._samples, []
        if not samples:
            return float("nan"), float("nan")
        return statistics.median(samples), max(samples)


def in_process(role: Any, args: tuple[Any, ...], events: Any, stop: Any) -> None:
    """A client process's body: `role(*args, Reporter(events), stop, ...)` (see `client`)."""
    head, tail = args
    role(*head, Reporter(events), stop, *tail)


def client(mode: str, role: Any, head: tuple[Any, ...], tail: tuple[Any, ...], rec: Recorder, events: Any,
           stop: Any) -> Any:  # fmt: skip
    """A client running `role(*head, recorder, stop, *tail)` as a thread or a process of its own."""
    if mode == "threads":
        return threading.Thread(target=role, args=(*head, rec, stop, *tail))
    ctx = multiprocessing.get_context("spawn")
    return ctx.Process(target=in_process, args=(role, (head, tail), events, stop), daemon=True)


def fmt_minute(minute: int, times: dict[str, list[float]], errors: dict[str, int], extra: dict[str, float],
               checkpoints: dict[str, float], rss: float, rss_median: float, rss_peak: float,
               acknowledged: int) -> tuple[str, dict[str, Any]]:  # fmt: skip
    cells = [f"{minute:>3}", f"{acknowledged:>10,}"]
    cells += [f"{v:,.0f}" for v in extra.values()]
    if "wal_resets" in checkpoints:
        cells.append(f"{checkpoints['wal_resets']:,.0f} ({checkpoints['wal_reset_failures']:,.0f})")
    elif "wal_mb" in extra:
        cells.append("-")
    cells.append(f"{checkpoints['connections']:,.0f}" if "connections" in checkpoints else "-")
    cells.append(f"{rss:,.0f}")
    cells.append(f"{rss_median:,.0f}")
    cells.append(f"{rss_peak:,.0f}")
    if "wal_resets" in checkpoints:  # SQLite's own heap, within the RSS (hub_sqlite_memory_bytes)
        heap = checkpoints.get("sqlite_heap_mb")
        cells.append(f"{heap:,.0f}" if heap is not None else "-")
    row: dict[str, Any] = {"minute": minute, "acknowledged": acknowledged, "rss_mb": rss}
    row["rss_median_mb"] = rss_median
    row["rss_peak_mb"] = rss_peak
    row |= extra | checkpoints
    for kind in KINDS:
        vals = times.get(kind, [])
        med = statistics.median(vals) * 1000 if vals else float("nan")
        cells.append(f"{med:,.0f} ({len(vals)})" if vals else "-")
        row[f"{kind}_median_ms"] = med if vals else None
        row[f"{kind}_count"] = len(vals)
        if kind == "download":
            rates = times.get("download_rate", [])
            rate = statistics.median(rates) if rates else None
            cells.append(f"{rate:,.0f}" if rate is not None else "-")
            row["download_values_per_s"] = rate
    n_err = sum(errors.values())
    cells.append(str(n_err))
    row["errors"] = dict(errors)
    return "| " + " | ".join(cells) + " |", row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--readers", type=int, default=2)
    ap.add_argument("--envelope", type=int, default=200, help="indicators per posted envelope")
    ap.add_argument("--device-every", type=float, default=2.0)
    ap.add_argument("--coordinator-every", type=float, default=1.0)
    ap.add_argument(
        "--clients",
        choices=("processes", "threads"),
        default="processes",
        help="each client in a process of its own (default; as in the field) or a thread of this one",
    )
    ap.add_argument(
        "--device-list-max-age",
        type=int,
        default=None,
        metavar="SECONDS",
        help="HUB_DEVICE_LIST_MAX_AGE of the hub started: seconds a device list is kept and served again "
        "(default: the hub's own, 0: every download built afresh)",
    )
    ap.add_argument(
        "--device-list-stale",
        type=int,
        default=None,
        metavar="SECONDS",
        help="HUB_DEVICE_LIST_STALE_WHILE_REVALIDATE of the hub started: seconds past max-age a kept list "
        "is still served while its replacement is built (default: the hub's own, 0)",
    )
    ap.add_argument(
        "--postgres-url",
        default=None,
        help="a PostgreSQL server's admin URL (default HUB_BENCH_POSTGRES_URL or the test server); the "
        "soak creates and drops its own database there",
    )
    args = ap.parse_args()
    if args.postgres_url:
        _common.PG_ADMIN = args.postgres_url

    tmp = tempdir()
    world = prepare_hub_database(args.db, SOAK_SIZE, tmp)
    metrics_port = free_port()
    os.environ["HUB_METRICS_PORT"] = str(metrics_port)  # start_hub passes the environment on
    if args.device_list_max_age is not None:
        os.environ["HUB_DEVICE_LIST_MAX_AGE"] = str(args.device_list_max_age)
    if args.device_list_stale is not None:
        os.environ["HUB_DEVICE_LIST_STALE_WHILE_REVALIDATE"] = str(args.device_list_stale)
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    srv, base = start_hub(world.url, tmp / "hub.log")
    # client processes share the stop event and report through a queue (`Reporter`)
    ctx = multiprocessing.get_context("spawn")
    stop: Any = ctx.Event() if args.clients == "processes" else threading.Event()
    events: Any = ctx.Queue() if args.clients == "processes" else None
    drained = threading.Event()
    rec = Recorder()
    threads: list[Any] = []
    rows: list[dict[str, Any]] = []
    tables: list[dict[str, dict[str, float]]] = []
    try:
        wait_http(base + "/healthz", srv.proc, log=srv.log)
        print("## Soak:", args.db, f"{args.minutes:g} min,", f"{args.writers} writers x {args.envelope},",
              f"{args.readers} readers, device every {args.device_every:g} s, coordinator every "
              f"{args.coordinator_every:g} s, device lists kept "
              f"{os.environ.get('HUB_DEVICE_LIST_MAX_AGE', '0')} s (stale while rebuilt "
              f"{os.environ.get('HUB_DEVICE_LIST_STALE_WHILE_REVALIDATE', '0')} s), "
              f"clients in {args.clients}\n")  # fmt: skip
        for k, v in machine().items():
            print(f"- {k}: {v}")
        print()
        objects_url = f"/taxii2/africa/collections/{world.collection}/objects/"
        for i in range(args.writers):
            who = ("cert-a", "cert-b")[i % 2]
            seeds = itertools.count(i, args.writers)  # each writer its own envelopes, none posted twice
            head = (base, world.keys[who], objects_url, args.envelope, seeds)
            threads.append(client(args.clients, writer, head, (), rec, events, stop))
        for _ in range(args.readers):
            head = (base, world.keys["cert-c"], objects_url)
            threads.append(client(args.clients, reader, head, (), rec, events, stop))
        head = (base, world.keys["cert-c"])
        threads.append(client(args.clients, device, head, (args.device_every,), rec, events, stop))
        head = (base, world.keys["cert-a"])
        threads.append(client(args.clients, coordinator, head, (args.coordinator_every,), rec, events, stop))
        if events is not None:
            threads.append(threading.Thread(target=rec.drain, args=(events, drained), name="drain"))
        extra_cols = (
            ["WAL MB", "DB MB", "WAL resets (busy)"]
            if args.db == "sqlite"
            else ["DB MB", "versions heap MB", "versions indexes MB", "dead rows", "autovacuums"]
        )
        head = [
            "min",
            "acknowledged",
            *extra_cols,
            "connections",
            "RSS MB",
            "RSS median MB",
            "RSS peak MB",
            *(["SQLite heap MB"] if args.db == "sqlite" else []),
            *(f"{k} median ms (n)" + (" | download values/s" if k == "download" else "") for k in KINDS),
            "errors",
        ]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * (len(head) + 1))
        sampler = RssSampler(srv.rss_mb, stop)
        for t in [*threads, sampler.thread]:
            t.start()
        started = time.monotonic()
        minute = 0
        total_minutes = max(1, round(args.minutes))
        while minute < total_minutes:
            minute += 1
            time.sleep(max(0.0, started + 60 * minute * args.minutes / total_minutes - time.monotonic()))
            times, errors = rec.take()
            extra = sizes(args.db, world.url)
            if args.db == "postgresql":
                tables.append(pg_tables(world.url))
            line, row = fmt_minute(
                minute,
                times,
                errors,
                extra,
                scrape(metrics_url, args.db == "sqlite"),
                srv.rss_mb(),
                *sampler.take(),
                rec.acknowledged,
            )
            print(line, flush=True)
            rows.append(row | {"tables": tables[-1]} if tables else row)
        stop.set()
        for t in threads:
            if t.name != "drain":
                t.join(600)
        drained.set()
        for t in threads:
            t.join(600)
        have = stored(world.url)
        print(f"\nacknowledged {rec.acknowledged:,} objects; stored {have:,}; "
              f"last blocklist {rec.downloaded_lines:,} domains")  # fmt: skip
        if have < rec.acknowledged:
            print(f"LOST: {rec.acknowledged - have:,} acknowledged objects are not stored")
        for sample in rec.error_samples:
            print("error:", sample)
        if tables:
            print_tables(tables)
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        name = f"soak_{args.db}_{time.strftime('%Y%m%dT%H%M%S')}.json"
        result = {"args": vars(args), "minutes": rows, "acknowledged": rec.acknowledged, "stored": have}
        (out / name).write_text(json.dumps(result, indent=1))
    finally:
        stop.set()
        srv.stop()
        if args.db == "postgresql":
            with contextlib.suppress(Exception):
                pg_drop(bench_db_name(SOAK_SIZE))
        if os.environ.get("HUB_BENCH_KEEP") != "1":
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
