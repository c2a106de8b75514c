"""Prometheus metrics of one hub process (a `hub serve` replica or a `hub sync worker`).

Each process keeps its own counters in `REGISTRY` and serves them on its own metrics port
(`HUB_METRICS_PORT`, see docs/operating.md, "Metrics"); Prometheus scrapes every replica and worker and sums
across them. Nothing here is shared between processes, so no multi-process mode is needed: the hub
never forks uvicorn workers. Labels are bounded sets (route templates, never raw paths; reason
classes, never free text), so a hostile client cannot grow the series count.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "hub_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "hub_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "hub_auth_failures",
    "Requests refused with 401: `missing` (no credentials) or `rejected` (unknown, revoked or expired key).",
    ["reason"],
    registry=REGISTRY,
)
OBJECTS_STORED = Counter(
    "hub_objects_stored",
    "New object versions stored by the ingest path (TAXII POST, import, sync pull).",
    registry=REGISTRY,
)
OBJECTS_REFUSED = Counter(
    "hub_objects_refused",
    "Objects the ingest path refused: `invalid` (not valid STIX 2.1), `marking` (a marking definition "
    "conflicting with a stored one) or `policy` (TLP ceiling, provenance, ownership).",
    ["reason"],
    registry=REGISTRY,
)
DEVICE_LISTS = Counter(
    "hub_device_lists",
    "Device lists answered from kept copies (HUB_DEVICE_LIST_MAX_AGE): `kept` (a kept copy served), "
    "`stale` (a copy past max-age served while its replacement is built), `built` (a build started), "
    "`joined` (a request followed a build in progress), `evicted` (a copy "
    "removed to stay within the cache's bounds).",
    ["outcome"],
    registry=REGISTRY,
)
FEED_RUNS = Counter(
    "hub_feed_runs",
    "Feed runs recorded by this worker, by direction (pull, push) and outcome (ok, failed).",
    ["direction", "outcome"],
    registry=REGISTRY,
)
FEED_RUN_DURATION = Histogram(
    "hub_feed_run_duration_seconds",
    "Duration of feed runs, by direction and outcome.",
    ["direction", "outcome"],
    buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0),
    registry=REGISTRY,
)

REFUSAL_REASONS = ("invalid", "marking", "policy")
for _reason in REFUSAL_REASONS:  # export zeros from the start, so rates work before the first refusal
    OBJECTS_REFUSED.labels(reason=_reason)
for _reason in ("missing", "rejected"):
    AUTH_FAILURES.labels(reason=_reason)
for _outcome in ("kept", "stale", "built", "joined", "evicted"):
    DEVICE_LISTS.labels(outcome=_outcome)


def refused(reason: str) -> None:
    """Count one object refused by the ingest path; `reason` is one of REFUSAL_REASONS."""
    OBJECTS_REFUSED.labels(reason=reason if reason in REFUSAL_REASONS else "policy").inc()


def stored(count: int) -> None:
    """Count new object versions stored."""
    if count:
        OBJECTS_STORED.inc(count)


def feed_run(direction: str, ok: bool, seconds: float) -> None:
    """Count one recorded feed run and its duration."""
    outcome = "ok" if ok else "failed"
    FEED_RUNS.labels(direction=direction, outcome=outcome).inc()
    FEED_RUN_DURATION.labels(direction=direction, outcome=outcome).observe(max(seconds, 0.0))


class PoolCollector(Collector):
    """Connection-pool gauges of the engines this process serves from (read at scrape time)."""

    def __init__(self) -> None:
        self._engines: weakref.WeakSet[Any] = weakref.WeakSet()

    def watch(self, engine: Any) -> None:
        """Report this engine's pool until the engine is garbage collected."""
        self._engines.add(engine)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = GaugeMetricFamily("hub_db_pool_size", "Configured size of the database connection pool.")
        used = GaugeMetricFamily(
            "hub_db_pool_connections",
            "Database connections by state: `checked_out` (in use by a request or job), `idle` (pooled), "
            "`overflow` (opened beyond the pool size).",
            labels=["state"],
        )
        totals = {"size": 0, "checked_out": 0, "idle": 0, "overflow": 0}
        for engine in list(self._engines):
            pool = engine.pool
            for name, method in (
                ("size", "size"),
                ("checked_out", "checkedout"),
                ("idle", "checkedin"),
                ("overflow", "overflow"),
            ):
                fn = getattr(pool, method, None)
                if fn is not None:
                    totals[name] += max(int(fn()), 0)
        size.add_metric([], totals["size"])
        for state in ("checked_out", "idle", "overflow"):
            used.add_metric([state], totals[state])
        yield size
        yield used


POOLS = PoolCollector()
REGISTRY.register(POOLS)


class WalCollector(Collector):
    """The SQLite WAL's size and the checkpointer's progress (hub.db.SqliteCheckpointer), at scrape time."""

    def __init__(self) -> None:
        self._checkpointers: weakref.WeakSet[Any] = weakref.WeakSet()

    def watch(self, checkpointer: Any) -> None:
        """Report this checkpointer until it is garbage collected."""
        self._checkpointers.add(checkpointer)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        cps = list(self._checkpointers)
        if not cps:
            return
        size = GaugeMetricFamily("hub_sqlite_wal_bytes", "Size of the SQLite write-ahead log file.")
        limit = GaugeMetricFamily(
            "hub_sqlite_wal_limit_bytes",
            "WAL size past which the checkpointer resets it (HUB_SQLITE_WAL_LIMIT_MB).",
        )
        frames = GaugeMetricFamily(
            "hub_sqlite_checkpoint_frames",
            "WAL frames at the last checkpoint: `log` (in the WAL), `checkpointed` (copied back).",
            labels=["state"],
        )
        resets = CounterMetricFamily(
            "hub_sqlite_wal_resets",
            "Checkpoints that reset the WAL (`done`), or gave up waiting for old readers (`busy`).",
            labels=["outcome"],
        )
        last = GaugeMetricFamily(
            "hub_sqlite_wal_last_reset_timestamp_seconds", "When the WAL was last reset (0: not yet)."
        )
        lagging = GaugeMetricFamily(
            "hub_sqlite_checkpoint_lagging", "1 when the WAL has been over its limit for over a minute."
        )
        from hub.db import sqlite_memory_used

        used = sqlite_memory_used()
        if used is not None:
            yield GaugeMetricFamily(
                "hub_sqlite_memory_bytes",
                "Memory SQLite holds in this process (page caches, statements; the budget "
                "HUB_SQLITE_CACHE_MB bounds through PRAGMA soft_heap_limit).",
                value=used,
            )
        for cp in cps:
            st = cp.state
            size.add_metric([], cp.wal_bytes())
            limit.add_metric([], cp.limit_bytes)
            frames.add_metric(["log"], st.log_frames)
            frames.add_metric(["checkpointed"], st.checkpointed_frames)
            resets.add_metric(["done"], st.resets)
            resets.add_metric(["busy"], st.reset_failures)
            last.add_metric([], st.last_reset_at)
            lagging.add_metric([], 1 if cp.lagging() else 0)
        yield from (size, limit, frames, resets, last, lagging)


WAL = WalCollector()
REGISTRY.register(WAL)


def serve_metrics(port: int, host: str = "127.0.0.1") -> Any:
    """Serve REGISTRY on its own port, in a daemon thread (prometheus_client's HTTP server)."""
    server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    return server
