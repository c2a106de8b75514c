"""Health, readiness, Prometheus metrics, request ids and the access log, through HTTP."""

from __future__ import annotations

import base64
import io
import json
import logging

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from hub import metrics
from hub.app import create_app
from hub.db import make_engine, make_sessionmaker
from hub.observability import log_handler
from tests.conftest import drop_database, free_port, fresh_database
from tests.factories import indicator


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_healthz_answers_without_credentials_and_says_nothing_else(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_is_ready_on_a_current_schema(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready"}


def test_readyz_is_503_on_a_database_without_the_schema(db_kind, settings, tmp_path):
    url = fresh_database(db_kind, "hub_unready", tmp_path)
    engine = make_engine(url)
    try:
        app = create_app(settings, sessionmaker=make_sessionmaker(engine))
        with TestClient(app, raise_server_exceptions=False) as c:
            r = c.get("/readyz")
        assert r.status_code == 503
        # nothing about the database, its URL or its revision reaches an unauthenticated caller
        assert r.json() == {"status": "not ready"}
        assert "Retry-After" in r.headers
    finally:
        engine.dispose()
        drop_database(db_kind, "hub_unready")


def test_readyz_is_503_when_the_database_is_unreachable(settings):
    engine = create_engine(f"postgresql+psycopg://hub:secret@127.0.0.1:{free_port()}/hub")
    try:
        app = create_app(settings, sessionmaker=make_sessionmaker(engine))
        with TestClient(app, raise_server_exceptions=False) as c:
            r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "not ready"}
        assert "secret" not in r.text and "127.0.0.1" not in r.text
    finally:
        engine.dispose()


def test_a_sane_request_id_is_echoed_and_a_hostile_one_replaced(client, world):
    r = client.get("/taxii2/", headers={**world.auth("cert-a"), "X-Request-ID": "abc-123.x:9"})
    assert r.headers["x-request-id"] == "abc-123.x:9"
    made = client.get("/taxii2/", headers=world.auth("cert-a")).headers["x-request-id"]
    assert len(made) == 32
    forged = client.get("/healthz", headers={"X-Request-ID": 'a" injected=1 ' + "x" * 300})
    assert forged.headers["x-request-id"] != 'a" injected=1 ' + "x" * 300
    assert len(forged.headers["x-request-id"]) == 32


def test_access_log_has_who_what_and_the_request_id_but_never_the_key(client, world, caplog):
    key = world.keys["cert-b"]
    with caplog.at_level(logging.INFO, logger="hub.access"):
        r = client.get(
            world.objects_url() + "?limit=5", headers={**world.auth("cert-b"), "X-Request-ID": "req-42"}
        )
        refused = client.get("/taxii2/", headers={**world.auth("cert-b"), "Authorization": f"Bearer {key}x"})
    assert refused.status_code == 401
    assert r.status_code == 200
    records = [rec for rec in caplog.records if rec.name == "hub.access"]
    first = records[0]
    assert first.method == "GET"
    assert first.path == world.objects_url()  # the path only: no query string
    assert first.status == 200
    assert first.organisation == "cert-b"
    assert first.request_id == "req-42"
    assert first.duration_ms >= 0
    assert records[1].organisation is None  # a refused key names no one
    stream = io.StringIO()
    handler = log_handler("json", stream)
    for rec in records:
        handler.handle(rec)
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(records)
    parsed = [json.loads(line) for line in lines]  # one JSON object a line
    assert parsed[0]["request_id"] == "req-42"
    assert parsed[0]["organisation"] == "cert-b"
    assert parsed[0]["logger"] == "hub.access"
    secret = key.split("_", 2)[2]
    assert all(secret not in line and "Bearer" not in line for line in lines)


def test_text_log_format_is_one_plain_line(client, caplog):
    stream = io.StringIO()
    handler = log_handler("text", stream)
    logging.getLogger("hub.access").addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="hub.access"):
            client.get("/healthz", headers={"X-Request-ID": "plain-1"})
    finally:
        logging.getLogger("hub.access").removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    assert "GET /healthz 200" in line and line.endswith("[plain-1]")


def test_request_metrics_use_route_templates_not_raw_paths(client, world):
    route = "/taxii2/{api_root}/collections/{collection_id}/objects/"
    before = sample("hub_http_requests_total", method="GET", route=route, status="200")
    count = sample("hub_http_request_duration_seconds_count", method="GET", route=route)
    client.get(world.objects_url(), headers=world.auth("cert-a"))
    client.get(world.objects_url("asia"), headers=world.auth("cert-c"))
    client.get("/no/such/path/" + "x" * 50)
    assert sample("hub_http_requests_total", method="GET", route=route, status="200") == before + 2
    assert sample("hub_http_request_duration_seconds_count", method="GET", route=route) == count + 2
    text = metrics_text()
    assert "x" * 50 not in text  # an unknown path becomes <unmatched>, so no client can add series
    assert 'route="<unmatched>"' in text


def metrics_text() -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.REGISTRY).decode()


def test_auth_failures_are_counted_by_kind(client, world):
    missing = sample("hub_auth_failures_total", reason="missing")
    rejected = sample("hub_auth_failures_total", reason="rejected")
    client.get("/taxii2/", headers={"Accept": "application/taxii+json;version=2.1"})
    client.get("/taxii2/", headers={**world.auth("cert-a"), "Authorization": "Bearer hub_nope_nope"})
    assert sample("hub_auth_failures_total", reason="missing") == missing + 1
    assert sample("hub_auth_failures_total", reason="rejected") == rejected + 1


def test_objects_stored_and_refused_are_counted_by_reason(client, world):
    stored = sample("hub_objects_stored_total")
    invalid = sample("hub_objects_refused_total", reason="invalid")
    policy = sample("hub_objects_refused_total", reason="policy")
    objs = [indicator(901), {"type": "indicator", "id": "nonsense"}, indicator(902, tlp="red")]
    r = client.post(
        world.objects_url(), content=orjson.dumps({"objects": objs}), headers=world.post_headers("cert-a")
    )
    assert r.json()["success_count"] == 1
    assert sample("hub_objects_stored_total") == stored + 1
    assert sample("hub_objects_refused_total", reason="invalid") == invalid + 1
    assert sample("hub_objects_refused_total", reason="policy") == policy + 1


def test_pool_gauges_report_the_served_engine(db_kind, db_url):
    engine = make_engine(db_url, pool_size=3)
    metrics.POOLS.watch(engine)
    try:
        with engine.connect():
            text = metrics_text()
            assert "hub_db_pool_connections" in text
            assert sample("hub_db_pool_connections", state="checked_out") >= 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_log_handler_keeps_exceptions_on_one_record(fmt):
    stream = io.StringIO()
    handler = log_handler(fmt, stream)
    log = logging.getLogger("hub.test-observability")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    out = stream.getvalue()
    if fmt == "json":
        (line,) = out.splitlines()
        record = json.loads(line)
        assert record["message"] == "failed" and "ValueError: boom" in record["exc_info"]
    else:
        assert "ValueError: boom" in out


def test_an_unexpected_error_is_logged_and_answered_with_the_request_id(app, caplog):
    @app.get("/boom-for-test")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.INFO):
        r = c.get("/boom-for-test", headers={"X-Request-ID": "trace-500"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "trace-500"
    assert "boom" not in r.text
    logged = [rec for rec in caplog.records if rec.name == "hub" and rec.levelno == logging.ERROR]
    assert logged and logged[0].exc_info
    access = [rec for rec in caplog.records if rec.name == "hub.access"]
    assert access[-1].status == 500 and access[-1].request_id == "trace-500"


def test_access_and_error_logs_redact_a_key_pasted_in_the_url(client, world, capsys):
    from hub.observability import configure_logging

    key = world.keys["cert-b"]
    _prefix, key_id, secret = key.split("_", 2)
    undo = configure_logging("json", "info")  # the production set-up: the root handler on stderr
    try:
        capsys.readouterr()
        client.post(f"/admin/v1/organisations/cert-b/keys/{key}/rotate", headers=world.auth("cert-b"))
        client.get(f"/taxii2/{key}/", headers=world.auth("cert-b"))
        client.get(f"/console/redeem/inv_{key_id}_{secret}")
        logging.getLogger("hub").error("unhandled error on POST /admin/v1/keys/%s/rotate", key)
        logging.getLogger("hub").warning("a bare secret %s, a session %s", secret, "s" * 43)
    finally:
        undo()
    lines = capsys.readouterr().err.splitlines()
    access = [json.loads(line) for line in lines if '"hub.access"' in line]
    assert len(access) == 3
    assert all(secret not in line for line in lines), lines
    assert "s" * 43 not in "\n".join(lines)
    assert f"/keys/hub_{key_id}_[redacted]/rotate" in access[0]["message"]  # the public id stays
    assert access[0]["path"] == f"/admin/v1/organisations/cert-b/keys/hub_{key_id}_[redacted]/rotate"
    assert f"inv_{key_id}_[redacted]" in access[2]["path"]
    # STIX ids, UUIDs and hex digests are not secrets and stay readable
    from hub.observability import redact

    kept = "/objects/mutex--0b2c4a3e-9d7e-4f10-8b2a-1c5e7d9f0a11/ " + "ab" * 32 + " " + "0" * 32
    kept += " x-acme-thing--0b2c4a3e-9d7e-4f10-8b2a-1c5e7d9f0a11"
    assert redact(kept) == kept
    # a secret from secrets.token_urlsafe may hold "--", or end in what looks like a STIX id: it goes
    for secret in (
        "-z3DuW--xG-KkmVbOna2HlNoqOncQOmOs3pAeFG6ON4",
        "AbC--0b2c4a3e-9d7e-4f10-8b2a-1c5e7d9f0a11",
        "indicator--0b2c4a3e-9d7e-4f10-8b2a-1c5e7d9f0a11x",
        "x" * 40,
    ):
        assert redact(f"a bare secret {secret}.") == "a bare secret [redacted].", secret


@given(st.binary(min_size=32, max_size=32), st.sampled_from(["", "hub_0123456789abcdef_", "inv_01234567_"]))
def test_every_secret_the_hub_hands_out_is_redacted(raw, prefix):
    """secrets.token_urlsafe(32) is 32 random bytes in URL-safe base64: whatever the bytes, the secret
    does not reach a log line, bare or behind a key's or an invitation's public id."""
    from hub.observability import redact

    secret = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    assert secret not in redact(f"GET /taxii2/{prefix}{secret}/ failed: {prefix}{secret}")
