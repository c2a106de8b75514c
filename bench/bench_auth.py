"""What authenticating an API key costs: a TAXII GET of the discovery resource with a key, in process.

    python bench/bench_auth.py [--requests 2000] [--db sqlite|postgresql]

A fresh database with the demo world of tests/factories.py, the app built by `create_app`, and
starlette's TestClient (no sockets, so the figures are the hub's work). It prints, in µs per request:

- `first use`: a key's first request in this process (before SHA-256 digests: an argon2 verification);
- `steady`: the same key again and again (before: an in-process cache of verified secrets);
- `wrong secret`: a known key id with a wrong secret (a 401, logged and audited);
- `auth only`: `authenticate_request` alone, in its own short transaction.

It prints figures and asserts nothing; run it on two checkouts (PYTHONPATH=<other checkout>) to compare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import logging
import os
import shutil

from _common import pg_drop, pg_recreate, tempdir

TAXII = "application/taxii+json;version=2.1"


PG_NAME = f"hub_bench_{os.environ.get('HUB_TEST_DB_PREFIX', '')}auth"


def _url(db: str, tmp: Path) -> str:
    return f"sqlite:///{tmp / 'auth.db'}" if db == "sqlite" else pg_recreate(PG_NAME)


def _per_request(fn: Any, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e6)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def _measure(app: Any, sm: Any, keys: list[str], n: int, auth: Any) -> tuple[Any, ...]:
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://hub.test") as client:

        def get(key: str) -> int:
            r = client.get("/taxii2/", headers={"Authorization": f"Bearer {key}", "Accept": TAXII})
            return r.status_code

        first = []
        for key in keys:
            t0 = time.perf_counter()
            assert get(key) == 200
            first.append((time.perf_counter() - t0) * 1e6)
        key = keys[0]
        steady = _per_request(lambda: get(key), n)
        wrong = key.rsplit("_", 1)[0] + "_" + "x" * 43
        refused = _per_request(lambda: get(wrong), max(50, n // 10))
        guard = app.state.auth_guard

        def auth_only() -> None:
            with sm() as s:
                auth.authenticate_request(s, key, address="127.0.0.1", guard=guard)

        alone = _per_request(auth_only, n)
    return first, steady, refused, alone


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()

    from hub.app import create_app
    from hub.db import make_engine, make_sessionmaker
    from hub.schema import upgrade
    from hub.settings import Settings
    from hub.trust import auth
    from tests.factories import load_world

    logging.getLogger("hub").setLevel(logging.ERROR)  # one warning per refused key otherwise
    tmp = tempdir()
    url = _url(args.db, tmp)
    try:
        upgrade(url)
        engine = make_engine(url)
        world = load_world(make_sessionmaker(engine))
        # a high failure limit: the wrong-secret figure is the cost of a refusal, not of a 429
        app = create_app(
            Settings(
                database_url=url,
                secret_key="bench",  # noqa: S106 - a throwaway database
                auth_failure_limit=10**9,
            )
        )
        figures = _measure(app, make_sessionmaker(engine), list(world.keys.values()), args.requests, auth)
        engine.dispose()
    finally:
        if args.db == "postgresql":
            pg_drop(PG_NAME)
        shutil.rmtree(tmp, ignore_errors=True)
    first, steady, refused, alone = figures
    print(f"## authentication cost ({args.db}, {args.requests} requests; µs per request, p50 / p95)\n")
    print("| what | p50 µs | p95 µs |")
    print("|---|---:|---:|")
    print(f"| first use of a key (GET /taxii2/) | {statistics.median(first):,.0f} | {max(first):,.0f} |")
    print(f"| steady (GET /taxii2/, same key) | {steady[0]:,.0f} | {steady[1]:,.0f} |")
    print(f"| wrong secret (401, logged and audited) | {refused[0]:,.0f} | {refused[1]:,.0f} |")
    print(f"| authenticate_request alone | {alone[0]:,.0f} | {alone[1]:,.0f} |")
    print(f"\nsteady: {1e6 / steady[0]:,.0f} requests/s on one thread")


if __name__ == "__main__":
    main()
