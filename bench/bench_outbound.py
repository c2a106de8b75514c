"""The outbound read path (`hub export`): what may leave a collection, with TLP made explicit on unmarked
copies and marking definitions sent along. Prints figures; asserts nothing.

    python bench/bench_outbound.py [--objects 20000] [--db sqlite|postgresql|both] [--leaving-ab]

`--leaving-ab` also times the push to a peer with and without the feedback leaving rule
(`hub.store.reads._leaving`: a report leaves only with the object it names), the CPU time of the
process (SQLite runs in it), best of 5 each, on the same database.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_import import CONFIG, fresh
from connectors import FeedSettings, get_connector
from hub.db import make_engine, make_sessionmaker
from hub.policy.rules import Destination
from hub.schema import upgrade
from hub.sync.importer import Target, producer_of, run_import
from hub.sync.outbound import export_bundle, outbound, source_collection
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config


def lines(n: int) -> bytes:
    return ("\n".join(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(n)) + "\n").encode()


def run(kind: str, n: int, leaving_ab: bool = False) -> None:
    cfg = {**CONFIG, "groups": [{**CONFIG["groups"][0], "community": "bench", "default_tlp": "clear"}]}
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh(kind, Path(tmp))
        upgrade(url)
        engine = make_engine(url)
        sm = make_sessionmaker(engine)
        with sm() as s, s.begin():
            apply_config(s, TrustConfig.model_validate(cfg))
        pid, name = producer_of(sm, "cert-bench")
        target = Target(group="bench", collection="feed", org="cert-bench")
        # half marked CLEAR by the connector, half observables left unmarked (CLEAR by the group default)
        settings = FeedSettings(
            producer_id=pid, producer_name=name, feed_name="bench", tlp="clear", with_observables=True
        )
        run_import(sm, target=target, results=get_connector("text", settings).normalise(lines(n // 3)))
        with sm() as session, session.begin():
            coll, grp = source_collection(session, group="bench", collection="feed")
            for label, dest in (
                ("public export", Destination(kind="export", name="export")),
                ("peer of the community", Destination(kind="peer", name="peer", community="bench")),
            ):
                out = io.BytesIO()
                t = time.perf_counter()
                report = export_bundle(
                    outbound(session, collection=coll, group=grp, destination=dest),
                    out,
                    bundle_id="bundle--x",
                )
                dt = time.perf_counter() - t
                print(
                    f"| {kind} | {label} | {report.sent:,} objects | {dt:.2f} s | "
                    f"{report.sent / dt:,.0f} objects/s | {out.tell() / 1e6:.1f} MB |"
                )
        if leaving_ab:
            leaving_cost(sm, kind)
        engine.dispose()


def leaving_cost(sm: Any, kind: str) -> None:
    """The push read with the feedback leaving rule and without it, best of 5 each, alternating."""
    from hub.store import reads

    rule = reads._leaving
    best = {"with": 9e9, "without": 9e9}
    dest = Destination(kind="peer", name="peer", community="bench")
    try:
        for _ in range(5):
            for label in ("with", "without"):
                reads._leaving = rule if label == "with" else (lambda _c, _b: [])  # type: ignore[assignment]
                with sm() as session, session.begin():
                    coll, grp = source_collection(session, group="bench", collection="feed")
                    t = time.process_time()  # CPU time: the machine's other load counts less
                    for _item in outbound(session, collection=coll, group=grp, destination=dest):
                        pass
                    best[label] = min(best[label], time.process_time() - t)
    finally:
        reads._leaving = rule
    print(
        f"| {kind} | peer, feedback leaving rule on / off (CPU, best of 5) | | "
        f"{best['with']:.2f} s / {best['without']:.2f} s | | |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--objects", type=int, default=20_000)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--leaving-ab", action="store_true", help="time the feedback leaving rule on and off")
    args = ap.parse_args()
    print("| database | destination | objects | time | rate | bundle |\n|---|---|---|---|---|---|")
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        run(kind, args.objects, args.leaving_ab)


if __name__ == "__main__":
    main()
