"""Feed-run metrics of a `hub sync worker`, and the metrics port it serves them on."""

from __future__ import annotations

import httpx

from hub import metrics
from tests.conftest import free_port
from tests.sync.test_worker import load, spec


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_worker_counts_feed_runs_by_outcome_with_durations(cli, sm, web):
    folder, base = web
    (folder / "ok.txt").write_bytes(b"198.51.100.9\n")
    load(sm, spec("fine", f"{base}/ok.txt"), spec("broken", f"{base}/missing.txt"))
    ok = sample("hub_feed_runs_total", direction="pull", outcome="ok")
    failed = sample("hub_feed_runs_total", direction="pull", outcome="failed")
    timed = sample("hub_feed_run_duration_seconds_count", direction="pull", outcome="ok")
    r = cli("sync", "worker", "--worker-id", "m:1", "--poll-seconds", "0.05", "--max-runs", "2")
    assert r.exit_code == 0, r.output
    assert sample("hub_feed_runs_total", direction="pull", outcome="ok") == ok + 1
    assert sample("hub_feed_runs_total", direction="pull", outcome="failed") == failed + 1
    assert sample("hub_feed_run_duration_seconds_count", direction="pull", outcome="ok") == timed + 1


def test_metrics_port_serves_the_prometheus_text_format():
    port = free_port()
    server = metrics.serve_metrics(port, "127.0.0.1")
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    for name in (
        "hub_http_requests_total",
        "hub_objects_refused_total",
        "hub_feed_runs_total",
        "hub_auth_failures_total",
        "hub_db_pool_connections",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in r.text
