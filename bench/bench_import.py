"""`hub import` end to end (normalise + validate + policy + store): a 100,000-line blocklist and a
1,000-attribute MISP event, on SQLite and PostgreSQL. Prints figures; asserts nothing.

    python bench/bench_import.py [--lines 100000] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_connectors import misp_event
from connectors import FeedSettings, get_connector
from hub.db import make_engine, make_sessionmaker
from hub.schema import upgrade
from hub.sync.importer import Target, producer_of, run_import
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CONFIG = {
    "organisations": [{"slug": "cert-bench", "name": "CERT-BENCH"}],
    "groups": [
        {
            "slug": "bench",
            "name": "Bench",
            "members": [{"org": "cert-bench", "role": "contributor"}],
            "collections": [{"alias": "feed", "title": "Feed"}],
        }
    ],
}


def blocklist(lines: int) -> bytes:
    """A plain-text blocklist: IPv4, domains and URLs, one a line."""
    out = ["# bench blocklist"]
    for n in range(lines):
        kind = n % 3
        if kind == 0:
            out.append(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
        elif kind == 1:
            out.append(f"host{n}.bad.example")
        else:
            out.append(f"http://bad{n}.example/path/{n}")
    return ("\n".join(out) + "\n").encode()


def fresh(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench-import.db"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text('DROP DATABASE IF EXISTS "hub_bench_import" WITH (FORCE)'))
        c.execute(text('CREATE DATABASE "hub_bench_import"'))
    admin.dispose()
    return PG.rsplit("/", 1)[0] + "/hub_bench_import"


def run(kind: str, lines: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh(kind, Path(tmp))
        upgrade(url)
        engine = make_engine(url)
        sm = make_sessionmaker(engine)
        with sm() as s, s.begin():
            apply_config(s, TrustConfig.model_validate(CONFIG))
        pid, name = producer_of(sm, "cert-bench")
        settings = FeedSettings(producer_id=pid, producer_name=name, feed_name="bench", tlp="green")
        target = Target(group="bench", collection="feed", org="cert-bench")
        raw = blocklist(lines)
        for label in ("first import", "re-import (nothing new)"):
            t = time.perf_counter()
            report = run_import(sm, target=target, results=get_connector("text", settings).normalise(raw))
            dt = time.perf_counter() - t
            print(
                f"| {kind} | {lines:,}-line blocklist, {label} | {dt:.2f} s "
                f"| {report.read / dt:,.0f} records/s "
                f"| new {report.created:,}, unchanged {report.unchanged:,} |"
            )
        event = misp_event(1000)
        t = time.perf_counter()
        report = run_import(sm, target=target, results=get_connector("misp", settings).normalise(event))
        dt = time.perf_counter() - t
        print(
            f"| {kind} | 1,000-attribute MISP event (fast path) | {dt:.3f} s "
            f"| {report.read / dt:,.0f} records/s | new {report.created:,} |"
        )
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = ap.parse_args()
    print("| database | work | time | rate | stored |\n|---|---|---|---|---|")
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        run(kind, args.lines)


if __name__ == "__main__":
    main()
