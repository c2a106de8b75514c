"""End-to-end TAXII 2.1 benchmark of the hub (SQLite and PostgreSQL), with medallion 3 as a baseline.

    python bench/bench_taxii.py --db sqlite|postgresql|both --sizes 10000,100000,1000000 \
        [--medallion-sizes 1000,10000] [--quick]

Each server runs in its own process on 127.0.0.1 (the hub under uvicorn via `hub serve`, medallion under
its own werkzeug runner), so the RSS and CPU time measured are the server's alone. The client posts
pre-serialised envelopes of 1,000 objects over one persistent HTTP connection, pages the whole
collection with limit=1000, then times filtered GETs for readers of different clearances.

It prints figures (markdown tables) and never asserts timings; targets are shown beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    MEDALLION_COLLECTION,
    MEDALLION_ROOT,
    TAXII,
    TLP2,
    CpuMeter,
    Dataset,
    Server,
    bench_db_name,
    cpu_line,
    machine,
    make_dataset,
    pct,
    pg_drop,
    prepare_hub_database,
    start_hub,
    start_medallion,
    tempdir,
    wait_http,
)

RESULTS = Path(__file__).resolve().parent / "results"

# readers of the hub's demo world (tests/factories.py WORLD, trust group "africa")
HUB_READERS = {
    "coordinator (cert-a, amber+strict, producer)": "cert-a",
    "reader (cert-c, amber+strict)": "cert-c",
    "reader (vendor, green)": "vendor",
}


def us_of(ts: str) -> int:
    """Microseconds since the epoch of a TAXII timestamp (any number of fraction digits, 'Z')."""
    head, _, frac = ts.rstrip("Z").partition(".")
    dt = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000 + int((frac + "000000")[:6])


def ts_of(us: int) -> str:
    dt = datetime.fromtimestamp(us // 1_000_000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{us % 1_000_000:06d}Z"


class Target:
    """One running TAXII server and how to talk to it."""

    def __init__(
        self,
        name: str,
        server: Server,
        base: str,
        objects_path: str,
        headers: dict[str, dict[str, str]],
        auth: Any = None,
        timeout: float = 600.0,
    ):
        self.name = name
        self.server = server
        self.base = base
        self.objects_url = base + objects_path
        self.headers = headers  # per reader label
        self.auth = auth
        self.client = httpx.Client(timeout=timeout, auth=auth, http2=False)

    def close(self) -> None:
        self.client.close()
        self.server.stop()


# ------------------------------------------------------------------ phases


def ingest(t: Target, ds: Dataset, writer: str, dbname: str | None = None) -> dict[str, Any]:
    headers = {**t.headers[writer], "Content-Type": TAXII}
    times: list[float] = []
    stamps: list[str] = []
    stored = failures = 0
    rss = [t.server.rss_mb()]
    cpu0, cli0 = t.server.cpu_s(), psutil.Process().cpu_times()
    decile_every = max(1, len(ds.envelopes) // 10)
    meter = CpuMeter(t.server, dbname)
    started = time.perf_counter()
    for i, env in enumerate(ds.envelopes):
        t0 = time.perf_counter()
        r = t.client.post(t.objects_url, content=env, headers=headers)
        times.append(time.perf_counter() - t0)
        if r.status_code != 202:
            raise RuntimeError(f"{t.name}: POST envelope {i} answered {r.status_code}: {r.text[:500]}")
        status = orjson.loads(r.content)
        stored += status.get("success_count", 0)
        failures += status.get("failure_count", 0)
        if failures and len(stamps) < 1:
            print(f"  ! {t.name}: refused objects, e.g. {status.get('failures', [])[:1]}", file=sys.stderr)
        stamps.append(status.get("request_timestamp", ""))
        if (i + 1) % decile_every == 0:
            rss.append(t.server.rss_mb())
    wall = time.perf_counter() - started
    cpu_share = meter.stop()
    cli1 = psutil.Process().cpu_times()
    cpu = t.server.cpu_s() - cpu0
    # per decile of the run (by envelope index): objects / summed request time
    deciles = []
    e = len(ds.envelopes)
    for d in range(10):
        lo, hi = d * e // 10, (d + 1) * e // 10
        if hi > lo:
            deciles.append(sum(ds.counts[lo:hi]) / sum(times[lo:hi]))
    return {
        "objects": ds.n,
        "stored": stored,
        "failures": failures,
        "wall_s": wall,
        "rate": ds.n / wall,
        "deciles": deciles,
        "post_p50_ms": pct(times, 50) * 1000,
        "post_p95_ms": pct(times, 95) * 1000,
        "server_cpu_s": cpu,
        "rss_mb": rss,
        "cpu": cpu_share,
        "client_cpu_during_s": (cli1.user - cli0.user) + (cli1.system - cli0.system),
        "stamps": stamps,
    }


def page_all(t: Target, reader: str, expected: int, dbname: str | None = None) -> dict[str, Any]:
    headers = t.headers[reader]
    times: list[float] = []
    rss = [t.server.rss_mb()]
    count = 0
    ids: set[str] = set()
    problems: list[str] = []
    first_added = last_added = None
    prev_last = None
    params: dict[str, Any] = {"limit": 1000}
    cpu0 = t.server.cpu_s()
    meter = CpuMeter(t.server, dbname)
    started = time.perf_counter()
    pages = 0
    while True:
        t0 = time.perf_counter()
        r = t.client.get(t.objects_url, params=params, headers=headers)
        times.append(time.perf_counter() - t0)
        pages += 1
        if r.status_code != 200:
            raise RuntimeError(f"{t.name}: page {pages} answered {r.status_code}: {r.text[:500]}")
        doc = orjson.loads(r.content)
        objs = doc.get("objects", [])
        count += len(objs)
        ids.update(o["id"] for o in objs)
        fa, la = r.headers.get("X-TAXII-Date-Added-First"), r.headers.get("X-TAXII-Date-Added-Last")
        if objs and (fa is None or la is None):
            problems.append(f"page {pages}: no X-TAXII-Date-Added headers")
        if fa and la:
            if first_added is None:
                first_added = fa
            if prev_last is not None and us_of(fa) <= us_of(prev_last):
                problems.append(
                    f"page {pages}: first date added {fa} not after previous page's last {prev_last}"
                )
            prev_last = last_added = la
        if len(objs) != 1000 and doc.get("more"):
            problems.append(f"page {pages}: {len(objs)} objects but more=true")
        if pages % 50 == 0:
            rss.append(t.server.rss_mb())
        if not doc.get("more"):
            break
        if not doc.get("next"):
            problems.append(f"page {pages}: more=true without next")
            break
        params = {"limit": 1000, "next": doc["next"]}
    total = time.perf_counter() - started
    rss.append(t.server.rss_mb())
    if count != expected:
        problems.append(f"paged {count} objects, expected {expected}")
    if len(ids) != count:
        problems.append(f"{count - len(ids)} duplicate ids across pages")
    return {
        "pages": pages,
        "objects": count,
        "total_s": total,
        "p50_ms": pct(times, 50) * 1000,
        "p95_ms": pct(times, 95) * 1000,
        "rss_mb": rss,
        "rss_growth_mb": max(rss) - rss[0],
        "server_cpu_s": t.server.cpu_s() - cpu0,
        "cpu": meter.stop(),
        "first_added": first_added,
        "last_added": last_added,
        "problems": problems,
    }


def after_values(stamps: list[str], reps: int, seed: int = 7) -> list[str]:
    """Varied added_after values in the middle of the run (envelopes 40%..60%)."""
    us = [us_of(s) for s in stamps]
    e = len(us)
    lo = int(0.4 * e)
    hi = min(e - 1, max(lo + 1, int(0.6 * e)))
    a, b = us[lo] - 1, us[hi] - 1
    rng = random.Random(seed)
    return [ts_of(rng.randint(min(a, b), max(a, b))) for _ in range(reps)]


def filtered(
    t: Target,
    readers: list[str],
    afters: list[str],
    limit: int,
    *,
    budget_s: float | None = None,
    hidden_markings: dict[str, set[str]] | None = None,
    dbname: str | None = None,
) -> dict[str, Any]:
    """match[type]=indicator + added_after + limit, readers interleaved; checks what comes back."""
    times: dict[str, list[float]] = {r: [] for r in readers}
    counts: dict[str, list[int]] = {r: [] for r in readers}
    problems: list[str] = []
    meter = CpuMeter(t.server, dbname)
    started = time.perf_counter()
    timed_out = None
    for k, after in enumerate(afters):
        order = readers[k % len(readers) :] + readers[: k % len(readers)]
        for reader in order:
            params = {"match[type]": "indicator", "added_after": after, "limit": limit}
            t0 = time.perf_counter()
            try:
                r = t.client.get(t.objects_url, params=params, headers=t.headers[reader])
            except httpx.TimeoutException:
                timed_out = time.perf_counter() - t0
                break
            times[reader].append(time.perf_counter() - t0)
            if r.status_code != 200:
                problems.append(f"{reader}: {r.status_code} {r.text[:200]}")
                continue
            objs = orjson.loads(r.content).get("objects", [])
            counts[reader].append(len(objs))
            if any(o.get("type") != "indicator" for o in objs):
                problems.append(f"{reader}: a non-indicator in a match[type]=indicator page")
            fa = r.headers.get("X-TAXII-Date-Added-First")
            if objs and fa and us_of(fa) <= us_of(after):
                problems.append(f"{reader}: date added {fa} not after added_after {after}")
            hidden = (hidden_markings or {}).get(reader)
            if hidden and any(set(o.get("object_marking_refs", ())) & hidden for o in objs):
                problems.append(f"{reader}: an object above the reader's clearance was served")
        if timed_out is not None:
            break
        if budget_s is not None and time.perf_counter() - started > budget_s and k >= 2:
            break
    out: dict[str, Any] = {
        "limit": limit,
        "readers": {},
        "problems": sorted(set(problems))[:10],
        "timed_out_s": timed_out,
        "cpu": meter.stop(),
    }
    for reader in readers:
        ts = times[reader]
        out["readers"][reader] = {
            "n": len(ts),
            "p50_ms": pct(ts, 50) * 1000,
            "p95_ms": pct(ts, 95) * 1000,
            "mean_count": (sum(counts[reader]) / len(counts[reader])) if counts[reader] else 0,
        }
    return out


# ------------------------------------------------------------------ runs


def run_hub(kind: str, size: int, ds: Dataset, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    print(f"\n== hub on {kind}, {size:,} objects", file=sys.stderr)
    world = prepare_hub_database(kind, size, tmp)
    log = tmp / f"hub_{kind}_{size}.log"
    server, base = start_hub(world.url, log)
    headers = {org: {"Authorization": f"Bearer {key}", "Accept": TAXII} for org, key in world.keys.items()}
    try:
        wait_http(base + "/taxii2/", server.proc, headers=headers["cert-a"], log=log)
        t = Target("hub", server, base, f"/taxii2/africa/collections/{world.collection}/objects/", headers)
        res: dict[str, Any] = {"server": "hub", "db": kind, "size": size, "loadavg": os.getloadavg()}
        dbname = bench_db_name(size) if kind == "postgresql" else None
        # warm the key cache of every reader (argon2 is checked once per key per process)
        for org in HUB_READERS.values():
            t.client.get(base + "/taxii2/", headers=headers[org])
        res["rss_start_mb"] = server.rss_mb()
        res["ingest"] = ingest(t, ds, "cert-a", dbname)
        print(f"  ingest {res['ingest']['rate']:,.0f} objects/s", file=sys.stderr)
        res["analyzed"] = False
        if kind == "postgresql" and args.pg_analyze:
            # what autovacuum would have done by now on a server where it is on
            from sqlalchemy import create_engine, text

            eng = create_engine(world.url, isolation_level="AUTOCOMMIT")
            with eng.connect() as conn:
                t0 = time.perf_counter()
                conn.execute(text("ANALYZE"))
                res["analyze_s"] = time.perf_counter() - t0
            eng.dispose()
            res["analyzed"] = True
        res["page"] = page_all(t, "cert-a", ds.n, dbname)
        print(f"  paged {res['page']['pages']} pages in {res['page']['total_s']:.1f} s", file=sys.stderr)
        afters = after_values(res["ingest"]["stamps"], args.reps)
        hidden = {"vendor": {TLP2["amber"]}}
        res["filtered100"] = filtered(
            t, list(HUB_READERS.values()), afters, 100, hidden_markings=hidden, dbname=dbname
        )
        res["filtered1000"] = filtered(
            t, ["cert-a", "vendor"], afters[: args.reps_full], 1000, hidden_markings=hidden
        )
        res["rss_end_mb"] = server.rss_mb()
        res["ingest"].pop("stamps")
        t.close()
        return res
    finally:
        server.stop()
        if kind == "postgresql" and not args.keep:
            pg_drop(bench_db_name(size))
        elif kind == "sqlite" and not args.keep:
            for p in tmp.glob(f"hub_bench_{size}.db*"):
                p.unlink()


def run_medallion(size: int, ds: Dataset, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    print(f"\n== medallion (memory backend), {size:,} objects", file=sys.stderr)
    log = tmp / f"medallion_{size}.log"
    server, base = start_medallion(tmp, log)
    auth = httpx.BasicAuth("bench", "bench")
    headers = {"bench": {"Accept": TAXII}}
    try:
        wait_http(base + "/taxii2/", server.proc, headers=headers["bench"], auth=auth, log=log)
        t = Target(
            "medallion",
            server,
            base,
            f"/{MEDALLION_ROOT}/collections/{MEDALLION_COLLECTION}/objects/",
            headers,
            auth=auth,
            timeout=args.medallion_timeout,
        )
        res: dict[str, Any] = {"server": "medallion", "size": size, "rss_start_mb": server.rss_mb()}
        res["ingest"] = ingest(t, ds, "bench")
        print(f"  ingest {res['ingest']['rate']:,.0f} objects/s", file=sys.stderr)
        afters = after_values(res["ingest"]["stamps"], args.reps)
        res["filtered100"] = filtered(t, ["bench"], afters, 100, budget_s=args.medallion_budget)
        f = res["filtered100"]
        print(
            f"  filtered GET: {f['readers']['bench']['n']} done, timed out: {f['timed_out_s']}",
            file=sys.stderr,
        )
        if f["timed_out_s"] is None:
            try:
                res["page"] = page_all(t, "bench", ds.n)
            except httpx.TimeoutException:
                res["page"] = {"timed_out_s": args.medallion_timeout}
        else:
            res["page"] = {"skipped": "filtered GET timed out; the server is still busy with it"}
        res["rss_end_mb"] = server.rss_mb()
        res["ingest"].pop("stamps")
        t.client.close()
        return res
    finally:
        server.stop()


# ------------------------------------------------------------------ report


def yes(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def hub_table(r: dict[str, Any]) -> str:
    i, p, f1, f10 = r["ingest"], r["page"], r["filtered100"], r["filtered1000"]
    rd = f1["readers"]
    coord, vend, cc = rd["cert-a"], rd["vendor"], rd["cert-c"]
    ratio = vend["p50_ms"] / coord["p50_ms"] if coord["p50_ms"] else float("nan")
    dec = i["deciles"]
    steady = min(dec) / max(dec) if dec else float("nan")
    analyzed = f"yes, {r.get('analyze_s', 0):.1f} s" if r.get("analyzed") else "no"
    lines = [
        f"### hub, {r['db']}, {r['size']:,} objects",
        "",
        "| measure | figure | target | |",
        "|---|---|---|---|",
        f"| ingest, end to end (envelopes of 1,000) | {i['rate']:,.0f} objects/s ({i['wall_s']:.1f} s) | "
        f">= 20,000/s (SQLite) | {yes(i['rate'] >= 20000) if r['db'] == 'sqlite' else 'n/a'} |",
        f"| ingest per decile, objects/s | {' / '.join(f'{d:,.0f}' for d in dec)} | steady | "
        f"slowest/fastest {steady:.2f} |",
        f"| POST of 1,000 p50 / p95 | {i['post_p50_ms']:.1f} / {i['post_p95_ms']:.1f} ms | | |",
        f"| server CPU during ingest | {i['server_cpu_s']:.1f} s "
        f"({i['server_cpu_s'] / i['wall_s'] * 100:.0f}% of a "
        f"core); client {i['client_cpu_during_s']:.1f} s | | |",
        f"| CPU during ingest, in cores (of {os.cpu_count()}) | {cpu_line(i['cpu'])} | | |",
        f"| CPU while paging / filtered GETs, in cores | {cpu_line(p['cpu'])} / {cpu_line(f1['cpu'])} | | |",
        f"| load average (1 min) when the run started | {r['loadavg'][0]:.2f} | | |",
        *([f"| ANALYZE after ingest (--pg-analyze) | {analyzed} | | |"] if r["db"] == "postgresql" else []),
        f"| stored / refused | {i['stored']:,} / {i['failures']:,} | all stored | "
        f"{yes(i['stored'] == r['size'])} |",
        f"| page all, limit=1000 | {p['pages']} pages, {p['objects']:,} objects in "
        f"{p['total_s']:.1f} s | | |",
        f"| page p50 / p95 | {p['p50_ms']:.1f} / {p['p95_ms']:.1f} ms | | |",
        f"| server RSS while paging: before / max / after | {p['rss_mb'][0]:.0f} / {max(p['rss_mb']):.0f} / "
        f"{p['rss_mb'][-1]:.0f} MB | flat within 50 MB | {yes(p['rss_growth_mb'] <= 50)} |",
        f"| server RSS: start / after ingest / end | {r['rss_start_mb']:.0f} / {i['rss_mb'][-1]:.0f} / "
        f"{r['rss_end_mb']:.0f} MB | | |",
        f"| filtered GET (type+added_after, limit=100), coordinator p50 / p95 | {coord['p50_ms']:.1f} / "
        f"{coord['p95_ms']:.1f} ms (n={coord['n']}) | p50 < 10 ms | {yes(coord['p50_ms'] < 10)} |",
        f"| same, reader cert-c (amber+strict, not producer) p50 / p95 | {cc['p50_ms']:.1f} / "
        f"{cc['p95_ms']:.1f} ms "
        f"| | |",
        f"| same, reader vendor (green) p50 / p95 | {vend['p50_ms']:.1f} / {vend['p95_ms']:.1f} ms "
        f"(mean {vend['mean_count']:.0f} objects) | | |",
        f"| policy cost: vendor p50 / coordinator p50 | {ratio:.2f}x | < 1.20x (at 1M) | "
        f"{yes(ratio < 1.2) if r['size'] >= 1_000_000 else '(' + yes(ratio < 1.2) + ')'} |",
        f"| filtered full page (limit=1000) p50 / p95, coordinator | "
        f"{f10['readers']['cert-a']['p50_ms']:.1f} / "
        f"{f10['readers']['cert-a']['p95_ms']:.1f} ms (n={f10['readers']['cert-a']['n']}) | p50 < 30 ms | "
        f"{yes(f10['readers']['cert-a']['p50_ms'] < 30)} |",
        f"| filtered full page (limit=1000) p50 / p95, vendor | {f10['readers']['vendor']['p50_ms']:.1f} / "
        f"{f10['readers']['vendor']['p95_ms']:.1f} ms | | |",
    ]
    problems = p["problems"] + f1["problems"] + f10["problems"]
    if problems:
        lines += ["", "Correctness problems seen:", *[f"- {x}" for x in problems]]
    return "\n".join(lines)


def medallion_table(m: dict[str, Any], hubs: list[dict[str, Any]]) -> str:
    i, f = m["ingest"], m["filtered100"]["readers"]["bench"]
    to = m["filtered100"]["timed_out_s"]
    fl = (
        f"> {to:.0f} s (timed out; no answer)"
        if to is not None and f["n"] == 0
        else f"{f['p50_ms']:.1f} / {f['p95_ms']:.1f} ms (n={f['n']})"
    )
    p = m["page"]
    if "pages" in p:
        pl = (
            f"{p['pages']} pages, {p['objects']:,} objects in {p['total_s']:.1f} s; "
            f"p50 {p['p50_ms']:.1f} ms, "
            f"p95 {p['p95_ms']:.1f} ms"
        )
    elif "timed_out_s" in p:
        pl = f"first page > {p['timed_out_s']:.0f} s (timed out)"
    else:
        pl = p.get("skipped", "not run")
    lines = [
        f"### medallion 3.0 (memory backend), {m['size']:,} objects",
        "",
        "| measure | figure |",
        "|---|---|",
        f"| ingest, end to end | {i['rate']:,.0f} objects/s ({i['wall_s']:.1f} s); per decile "
        f"{' / '.join(f'{d:,.0f}' for d in i['deciles'])} |",
        f"| filtered GET (type+added_after, limit=100) p50 / p95 | {fl} |",
        f"| page all, limit=1000 | {pl} |",
        f"| server RSS start / end | {m['rss_start_mb']:.0f} / {m['rss_end_mb']:.0f} MB |",
        f"| CPU during ingest, in cores | {cpu_line(i['cpu'])} |",
    ]
    for h in hubs:
        if h["size"] != m["size"]:
            continue
        ing = h["ingest"]["rate"] / i["rate"]
        hf = h["filtered100"]["readers"]["cert-a"]["p50_ms"]
        if f["n"]:
            fr = f"{f['p50_ms'] / hf:,.0f}x"
            fok = f["p50_ms"] / hf >= 1000
        elif to is not None:
            fr = f">= {to * 1000 / hf:,.0f}x (lower bound: medallion timed out)"
            fok = to * 1000 / hf >= 1000
        else:
            fr, fok = "n/a", None
        lines += [
            f"| hub ({h['db']}) / medallion, ingest rate | {ing:,.1f}x (target >= 8x at 10k: "
            f"{yes(ing >= 8) if m['size'] == 10_000 else 'n/a'}) |",
            f"| hub ({h['db']}) / medallion, filtered GET rate (p50) | {fr} (target >= 1000x at 10k: "
            f"{yes(fok) if m['size'] == 10_000 else 'n/a'}) |",
        ]
    return "\n".join(lines)


def summary_table(hubs: list[dict[str, Any]]) -> str:
    lines = [
        "### summary",
        "",
        "| db | objects | ingest/s | slowest decile/s | page p50 ms | page RSS growth MB | "
        "filtered p50 ms (coord / vendor) | policy ratio | full page p50 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for h in hubs:
        rd = h["filtered100"]["readers"]
        c, v = rd["cert-a"]["p50_ms"], rd["vendor"]["p50_ms"]
        lines.append(
            f"| {h['db']} | {h['size']:,} | {h['ingest']['rate']:,.0f} | "
            f"{min(h['ingest']['deciles']):,.0f} | "
            f"{h['page']['p50_ms']:.1f} | {h['page']['rss_growth_mb']:.0f} | {c:.1f} / {v:.1f} | "
            f"{v / c:.2f}x | "
            f"{h['filtered1000']['readers']['cert-a']['p50_ms']:.1f} |"
        )
    by_db: dict[str, list[dict[str, Any]]] = {}
    for h in hubs:
        by_db.setdefault(h["db"], []).append(h)
    for db, hs in by_db.items():
        hs = sorted(hs, key=lambda x: x["size"])
        if len(hs) >= 2:
            a, b = hs[0], hs[-1]
            g = (
                b["filtered100"]["readers"]["cert-a"]["p50_ms"]
                / a["filtered100"]["readers"]["cert-a"]["p50_ms"]
            )
            lines.append(
                f"\nfiltered GET p50 growth on {db}, {a['size']:,} -> {b['size']:,} objects: {g:.2f}x "
                f"(target within 2x: {yes(g <= 2)})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument(
        "--medallion-sizes",
        default=None,
        help="sizes to run medallion at (default 1000,10000; --quick: 1000; 'none' to skip)",
    )
    ap.add_argument("--quick", action="store_true", help="1k and 10k only, medallion at 1k: a smoke check")
    ap.add_argument("--reps", type=int, default=200, help="filtered GETs (limit=100) per reader")
    ap.add_argument("--reps-full", type=int, default=50, help="filtered GETs with limit=1000 per reader")
    ap.add_argument(
        "--medallion-timeout",
        type=float,
        default=120.0,
        help="seconds before a medallion request is given up (its filtered GET grows quadratically)",
    )
    ap.add_argument("--medallion-budget", type=float, default=60.0, help="seconds of medallion filtered GETs")
    ap.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    ap.add_argument(
        "--pg-analyze",
        action="store_true",
        help="PostgreSQL: ANALYZE after ingest, before the reads "
        "(what autovacuum does in time on a server where it is on)",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    args = ap.parse_args(argv)

    sizes = [1000, 10000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    msizes_raw = args.medallion_sizes or ("1000" if args.quick else "1000,10000")
    msizes = [] if msizes_raw == "none" else [int(s) for s in msizes_raw.split(",") if s]
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]

    from hub.vocab.ids import identity_id

    ident = identity_id("cert-a")
    mach = machine()
    try:
        rev = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = "unknown"
    mach["hub revision"] = rev or "unknown"
    mach["load average at start (1/5/15 min)"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print("## Machine\n")
    print("| | |\n|---|---|")
    for k, v in mach.items():
        print(f"| {k} | {v} |")
    print(flush=True)

    tmp = tempdir()
    hubs: list[dict[str, Any]] = []
    meds: list[dict[str, Any]] = []
    for size in sorted(set(sizes) | set(msizes)):
        ds = make_dataset(size, identity_id=ident)
        print(
            f"\n(generated {size:,} objects in {ds.seconds:.1f} s: {ds.types}, TLP {ds.tlps})",
            file=sys.stderr,
        )
        if size in sizes:
            for kind in dbs:
                r = run_hub(kind, size, ds, args, tmp)
                hubs.append(r)
                print("\n" + hub_table(r), flush=True)
        if size in msizes:
            m = run_medallion(size, ds, args, tmp)
            meds.append(m)
            print("\n" + medallion_table(m, hubs), flush=True)
        del ds
    print("\n" + summary_table(hubs), flush=True)
    out = args.json or RESULTS / f"bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": mach, "hub": hubs, "medallion": meds}, indent=1, default=str))
    print(f"\n(raw figures: {out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
