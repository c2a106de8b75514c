"""A/B benchmark: this checkout against an earlier revision, both served at once, requests interleaved.

    python bench/bench_ab.py --base 7f5a44d [--db sqlite|postgresql|both] [--size 100000] \
        [--rounds 6] [--reps 200]

Sequential runs of bench_taxii.py on a shared two-core machine drift by 10-20% from one minute to the
next (the same revision measured 17.5k and 25.7k objects/s ten minutes apart), which hides any change
smaller than that. Here both hubs run side by side: a `git worktree` of the base revision and this
checkout, each `hub serve` in its own process on its own database, and the client sends each request to
one and then the same request to the other (alternating which goes first). Whatever the machine does
meanwhile falls on both alike, so the ratio is what the code changed.

Measured: ingest (envelopes of 1,000, the dataset of bench_taxii.py), paging the whole collection with
limit=1000 (`--rounds` times), and filtered GETs (match[type]=indicator, added_after, limit=100) for
the coordinator and the GREEN vendor. It prints a markdown table and never asserts timings.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    TAXII,
    Server,
    free_port,
    machine,
    make_dataset,
    pct,
    pg_drop,
    pg_recreate,
    wait_http,
)

ROOT = Path(__file__).resolve().parent.parent
# how far apart two interleaved runs of the same revision (`--base HEAD`) landed on this machine: reads
# within 5%, ingest within 10% (three A/A runs at 100k on SQLite: ingest 1.10, 0.94, 1.06)
NOISE = {"read": 0.05, "ingest": 0.10}

# run with the side's own tree first on sys.path: its migrations and its demo world
PREPARE = """
import json, sys
from hub.db import make_engine, make_sessionmaker
from hub.schema import upgrade
from tests.factories import load_world
url = sys.argv[1]
upgrade(url)
eng = make_engine(url)
world = load_world(make_sessionmaker(eng))
eng.dispose()
print(json.dumps({"keys": world.keys, "collection": world.collections["africa/indicators"],
                  "identity": world.identities["cert-a"]}))
"""


class Side:
    """One hub: a source tree, its database and its server."""

    def __init__(self, name: str, tree: Path, kind: str, tmp: Path):
        self.name, self.tree, self.kind = name, tree, kind
        # HUB_TEST_DB_PREFIX keeps two checkouts' runs apart on one PostgreSQL server
        self.dbname = f"hub_bench_ab_{os.environ.get('HUB_TEST_DB_PREFIX', '')}{name}"
        url = f"sqlite:///{tmp / (self.dbname + '.db')}" if kind == "sqlite" else pg_recreate(self.dbname)
        env = {**os.environ, "PYTHONPATH": str(tree)}
        cmd = [sys.executable, "-c", PREPARE, url]
        out = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=True)
        world = json.loads(out.stdout.strip().splitlines()[-1])
        self.keys: dict[str, str] = world["keys"]
        self.identity: str = world["identity"]
        self.objects = f"/taxii2/africa/collections/{world['collection']}/objects/"
        port = free_port()
        env |= {
            "HUB_DATABASE_URL": url,
            "HUB_PORT": str(port),
            "HUB_HOST": "127.0.0.1",
            "HUB_SECRET_KEY": "bench-secret",
            "HUB_MAX_PAGE_SIZE": "1000",
        }
        log = tmp / f"{self.dbname}.log"
        self.server = Server(name, [sys.executable, "-m", "hub.cli", "serve"], env, log, cwd=tree)
        self.base = f"http://127.0.0.1:{port}"
        wait_http(self.base + "/taxii2/", self.server.proc, headers=self.headers("cert-a"), log=log)
        self.client = httpx.Client(base_url=self.base, timeout=120)
        for org in ("cert-a", "vendor"):  # argon2 is checked once per key per process: warm it
            self.client.get("/taxii2/", headers=self.headers(org))
        self.times: dict[str, list[float]] = {}
        self.cpu0 = self.server.cpu_s()

    def headers(self, org: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[org]}", "Accept": TAXII, "Content-Type": TAXII}

    def timed(self, what: str, method: str, **kw: Any) -> httpx.Response:
        t0 = time.perf_counter()
        r = self.client.request(method, self.objects, **kw)
        self.times.setdefault(what, []).append(time.perf_counter() - t0)
        if r.status_code not in (200, 202):
            raise RuntimeError(f"{self.name}: {method} answered {r.status_code}: {r.text[:300]}")
        return r

    def close(self) -> None:
        self.client.close()
        self.server.stop()
        if self.kind == "postgresql":
            pg_drop(self.dbname)


def interleaved(sides: list[Side], k: int) -> list[Side]:
    """Both sides, the first one alternating: neither always meets the other's leftovers."""
    return sides if k % 2 == 0 else sides[::-1]


def run(kind: str, base_tree: Path, size: int, rounds: int, reps: int, tmp: Path) -> dict[str, Any]:
    sides: list[Side] = []
    try:
        for name, tree in (("base", base_tree), ("head", ROOT)):
            sides.append(Side(name, tree, kind, tmp))  # appended one by one: a failed start stops the rest
        if len({s.identity for s in sides}) != 1:
            raise RuntimeError("the two revisions' demo worlds differ: cert-a's identity is not the same")
        ds = make_dataset(size, identity_id=sides[0].identity)
        print(f"== {kind}: ingest {size:,} objects into both", file=sys.stderr)
        for k, env in enumerate(ds.envelopes):
            for s in interleaved(sides, k):
                r = s.timed("ingest", "POST", content=env, headers=s.headers("cert-a"))
                if orjson.loads(r.content).get("failure_count"):
                    raise RuntimeError(f"{s.name}: objects refused: {r.text[:300]}")
        ingest_cpu = {s.name: s.server.cpu_s() - s.cpu0 for s in sides}  # the hub process's alone
        stamps: dict[str, list[str]] = {s.name: [] for s in sides}  # each page's last date added
        print(f"== {kind}: page the collection {rounds} times", file=sys.stderr)
        for rnd in range(rounds):
            nxt: dict[str, str | None] = {s.name: None for s in sides}
            live = list(sides)
            k = 0
            while live:
                for s in interleaved(live, k + rnd):
                    params: dict[str, Any] = {"limit": 1000}
                    if nxt[s.name]:
                        params["next"] = nxt[s.name]
                    r = s.timed("page", "GET", params=params, headers=s.headers("cert-a"))
                    doc = orjson.loads(r.content)
                    if rnd == 0 and doc.get("objects"):
                        stamps[s.name].append(r.headers["X-TAXII-Date-Added-Last"])
                    nxt[s.name] = doc.get("next")
                    if not doc.get("more"):
                        live.remove(s)
                k += 1
        print(f"== {kind}: {reps} filtered GETs per reader", file=sys.stderr)
        # added_after at the same positions in both (a page boundary between 40% and 60% of the
        # collection), in each side's own dates added: both answer with the same objects
        rng = random.Random(7)
        n = len(stamps["head"])
        positions = [rng.randrange(int(0.4 * n), max(int(0.4 * n) + 1, int(0.6 * n))) for _ in range(reps)]
        for k, i in enumerate(positions):
            for org in ("cert-a", "vendor"):
                for s in interleaved(sides, k):
                    params = {"match[type]": "indicator", "added_after": stamps[s.name][i], "limit": 100}
                    s.timed(f"filtered {org}", "GET", params=params, headers=s.headers(org))
        return {
            "kind": kind,
            "size": size,
            "sides": {
                s.name: {
                    "ingest_rate": size / sum(s.times["ingest"]),
                    "ingest_cpu_s": ingest_cpu[s.name],
                    "ingest_per_cpu_s": size / ingest_cpu[s.name] if ingest_cpu[s.name] else 0.0,
                    **{f"{w} p50_ms": pct(ts, 50) * 1000 for w, ts in s.times.items() if w != "ingest"},
                    **{f"{w} p95_ms": pct(ts, 95) * 1000 for w, ts in s.times.items() if w != "ingest"},
                    "post_p50_ms": pct(s.times["ingest"], 50) * 1000,
                    "server_cpu_s": s.server.cpu_s() - s.cpu0,
                    "rss_mb": s.server.rss_mb(),
                }
                for s in sides
            },
        }
    finally:
        for s in sides:
            s.close()


def table(r: dict[str, Any], base_rev: str, head_rev: str) -> str:
    b, h = r["sides"]["base"], r["sides"]["head"]
    rows = [
        ("ingest, objects/s", "ingest_rate", "{:,.0f}", True),
        ("ingest, objects per server CPU second", "ingest_per_cpu_s", "{:,.0f}", True),
        ("server CPU during ingest, s", "ingest_cpu_s", "{:.1f}", False),
        ("POST of 1,000 p50, ms", "post_p50_ms", "{:.1f}", False),
        ("server CPU over the run, s", "server_cpu_s", "{:.1f}", False),
        ("page (limit=1000) p50, ms", "page p50_ms", "{:.1f}", False),
        ("page (limit=1000) p95, ms", "page p95_ms", "{:.1f}", False),
        ("filtered GET, coordinator p50, ms", "filtered cert-a p50_ms", "{:.1f}", False),
        ("filtered GET, vendor (green) p50, ms", "filtered vendor p50_ms", "{:.1f}", False),
        ("filtered GET, vendor p95, ms", "filtered vendor p95_ms", "{:.1f}", False),
        ("server RSS at the end, MB", "rss_mb", "{:.0f}", False),
    ]
    out = [
        f"### {r['kind']}, {r['size']:,} objects: {base_rev} (base) and {head_rev} (head), interleaved",
        "",
        "| measure | base | head | head / base | within the A/A spread? |",
        "|---|---|---|---|---|",
    ]
    for label, key, fmt, higher_better in rows:
        ratio = h[key] / b[key] if b[key] else float("nan")
        change = "better" if (ratio > 1) == higher_better else "worse"
        ingest_keys = ("ingest_rate", "ingest_per_cpu_s", "ingest_cpu_s", "post_p50_ms", "server_cpu_s")
        noise = NOISE["ingest"] if key in ingest_keys else NOISE["read"]
        verdict = f"same (±{noise:.0%})" if abs(ratio - 1) <= noise else change
        out.append(f"| {label} | {fmt.format(b[key])} | {fmt.format(h[key])} | {ratio:.2f} | {verdict} |")
    return "\n".join(out)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the revision to compare with (a commit, tag or branch)")
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=6, help="times each hub's collection is paged whole")
    ap.add_argument("--reps", type=int, default=200, help="filtered GETs per reader")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    args = ap.parse_args(argv)
    base_rev, head_rev = git("rev-parse", "--short", args.base), git("rev-parse", "--short", "HEAD")
    tmp = Path(tempfile.mkdtemp(prefix="hub_bench_ab_"))
    tree = tmp / "base"
    git("worktree", "add", "--detach", str(tree), base_rev)
    # the package finds its migrations as `hub.migrations`: in a checkout that is the top-level folder,
    # which an editable install maps for the installed checkout only, so the base tree gets its own link
    if not (tree / "hub" / "migrations").exists() and (tree / "migrations").is_dir():
        (tree / "hub" / "migrations").symlink_to(Path("..") / "migrations")
    results = []
    try:
        print("## Machine\n\n| | |\n|---|---|")
        for k, v in machine().items():
            print(f"| {k} | {v} |")
        print()
        kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
        for kind in kinds:
            r = run(kind, tree, args.size, args.rounds, args.reps, tmp)
            results.append(r)
            print(table(r, base_rev, head_rev), "\n", flush=True)
    finally:
        git("worktree", "remove", "--force", str(tree))
        for p in tmp.glob("*"):
            p.unlink()
        tmp.rmdir()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
