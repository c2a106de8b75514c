"""Runs that never stall and never fail silently: each fault once observed in the field, as a test.

Each upstream or peer here is a tiny HTTP server of the test's own on 127.0.0.1 that misbehaves on
purpose (stalls, answers 500 then 200, serves garbage or HTML, sends a bad cursor, advertises a small
max_content_length, dies mid-push). Timeouts are short and every wait is bounded.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from hub.db import begin_write
from hub.store.models import AuditEvent
from hub.sync.models import Feed, FeedRun
from hub.sync.scheduler import claim_due, now_us
from hub.sync.worker import run_named
from tests.conftest import free_port
from tests.factories import indicator
from tests.sync.test_worker import feed, load, runs, spec

TAXII = "application/taxii+json;version=2.1"


@dataclass
class Tiny:
    """A loopback HTTP server answering through `respond(method, path, headers, body)`."""

    base: str
    respond: Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes] | None]
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def tiny() -> Iterator[Tiny]:
    state = Tiny(base="", respond=lambda *a: (404, {}, b""))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append((self.command, self.path, headers))
            answer = state.respond(self.command, self.path, headers, body)
            if answer is None:  # the server "dies": close the connection without answering
                self.close_connection = True
                self.connection.shutdown(2)
                return
            status, extra, payload = answer
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _any

        def log_message(self, *_a: Any) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):  # pragma: no cover - hang-ups are the point
            pass

    server = Server(("127.0.0.1", free_port()), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def envelope(
    objs: list[dict[str, Any]], *, added_last: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": TAXII}
    if added_last:
        headers["X-TAXII-Date-Added-Last"] = added_last
    return 200, headers, orjson.dumps({"more": False, "objects": objs})


def collection_info() -> tuple[int, dict[str, str], bytes]:
    info = {"id": "c1", "title": "up", "can_read": True, "can_write": True, "media_types": [TAXII]}
    return 200, {"Content-Type": TAXII}, orjson.dumps(info)


def taxii_upstream(objects: Callable[[], tuple[int, dict[str, str], bytes]]):
    """A TAXII 2.1 collection at /root/collections/c1/: its information, then `objects()` for pages."""

    def respond(method, path, headers, body):
        if path.startswith("/root/collections/c1/objects/"):
            return objects()
        if path.rstrip("/") == "/root/collections/c1":
            return collection_info()
        return 404, {}, b""

    return respond


def pull_spec(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return spec(name, url, format="taxii", peer_community="south", **extra)


# ------------------------------------------------------------------ fault 5: no timeout


def test_a_stalling_upstream_fails_the_run_after_the_feed_timeout(sm, world, tiny):
    def stall(*_a):
        tiny.release.wait(10)  # bounded: the fixture releases it at teardown
        return 200, {}, b"203.0.113.9\n"

    tiny.respond = stall
    load(sm, spec("stalls", f"{tiny.base}/list.txt", timeout=0.3))
    done = run_named(sm, "stalls", worker_id="w1")
    assert not done.outcome.ok
    assert "ReadTimeout" in done.run.error
    f = feed(sm, "stalls")
    assert f.leased_by is None and f.failures == 1


def test_a_stalling_taxii_upstream_fails_the_run_after_the_feed_timeout(sm, world, tiny):
    def objects():
        tiny.release.wait(10)
        return envelope([])

    tiny.respond = taxii_upstream(objects)
    load(sm, pull_spec("stalls-taxii", f"{tiny.base}/root/collections/c1/", timeout=0.3))
    done = run_named(sm, "stalls-taxii", worker_id="w1")
    assert not done.outcome.ok and "timed out" in done.run.error.lower(), done.run.error


def test_every_request_names_the_hub_in_its_user_agent(sm, world, tiny):
    tiny.respond = lambda *a: (200, {}, b"203.0.113.9\n")
    load(sm, spec("ua", f"{tiny.base}/list.txt"))
    assert run_named(sm, "ua", worker_id="w1").outcome.ok
    assert tiny.requests[0][2]["user-agent"].startswith("cirt-hub/")


# ------------------------------------------------------------------ failures and recovery


def test_500_then_200_fails_once_then_recovers(sm, world, tiny):
    answers = iter([(500, {}, b"oops"), (200, {}, b"203.0.113.10\n")])
    tiny.respond = lambda *a: next(answers)
    load(sm, spec("flaps", f"{tiny.base}/list.txt"))
    first = run_named(sm, "flaps", worker_id="w1")
    assert not first.outcome.ok and "HTTP 500" in first.run.error
    second = run_named(sm, "flaps", worker_id="w1")
    assert second.outcome.ok and second.run.created == 1
    assert feed(sm, "flaps").failures == 0


@pytest.mark.parametrize(
    ("fmt", "body", "reason"),
    [
        ("stix", b'{"type": "bundle", "objects": [{"type": "indic', "no valid record"),
        ("stix", b"\x00\xff garbage \x13", "no valid record"),
        ("text", b"<!DOCTYPE html><html><body>Down for maintenance</body></html>", "HTML page"),
        ("urlhaus-csv", b"<html><head><title>503</title></head><body>later</body></html>", "HTML page"),
    ],
)
def test_a_source_without_one_valid_record_is_a_failed_run(sm, world, tiny, fmt, body, reason):
    tiny.respond = lambda *a: (200, {"Content-Type": "text/html"}, body)
    load(sm, spec("broken", f"{tiny.base}/feed", format=fmt))
    done = run_named(sm, "broken", worker_id="w1")
    assert not done.outcome.ok
    assert reason in done.run.error
    assert done.run.status == "failed" and feed(sm, "broken").last_error == done.run.error


def test_a_taxii_page_whose_objects_is_not_a_list_is_a_failed_run(sm, world, tiny):
    tiny.respond = taxii_upstream(
        lambda: (200, {"Content-Type": TAXII}, orjson.dumps({"objects": "not a list"}))
    )
    load(sm, pull_spec("notalist", f"{tiny.base}/root/collections/c1/"))
    done = run_named(sm, "notalist", worker_id="w1")
    assert not done.outcome.ok
    assert "`objects` is str, not a list" in done.run.error
    assert done.run.read == 0
    assert all(h["user-agent"].startswith("cirt-hub/") for _m, _p, h in tiny.requests)


# ------------------------------------------------------------------ fault 4: bad cursors


@pytest.mark.parametrize("header", ["not-a-timestamp", "2024-01-01T00:00:00." + "0" * 40 + "Z"])
def test_an_upstream_cursor_that_does_not_parse_is_never_stored(sm, world, tiny, header):
    tiny.respond = taxii_upstream(lambda: envelope([indicator(800, tlp="clear")], added_last=header))
    load(sm, pull_spec("badcursor", f"{tiny.base}/root/collections/c1/"))
    done = run_named(sm, "badcursor", worker_id="w1")
    assert not done.outcome.ok
    assert "not a timestamp" in done.run.error and done.run.created == 1  # what was read is kept
    f = feed(sm, "badcursor")
    assert f.cursor is None and f.leased_by is None
    # the upstream mends its ways: the next run stores a good cursor (normalised to the microsecond)
    tiny.respond = taxii_upstream(lambda: envelope([], added_last="2024-02-03T04:05:06.7Z"))
    again = run_named(sm, "badcursor", worker_id="w1")
    assert again.outcome.ok, again.outcome.error
    assert feed(sm, "badcursor").cursor == "2024-02-03T04:05:06.700000Z"
    assert "added_after=2024" not in tiny.requests[-1][1]  # the bad one was never sent back


def test_a_stored_cursor_that_does_not_parse_fails_with_the_command_that_repairs_it(cli, sm, tiny):
    tiny.respond = taxii_upstream(lambda: envelope([], added_last="2024-02-03T04:05:06.000Z"))
    load(sm, pull_spec("stuck", f"{tiny.base}/root/collections/c1/"))
    with sm() as s, s.begin():
        s.scalar(select(Feed).where(Feed.name == "stuck")).cursor = "not-a-timestamp"
    done = run_named(sm, "stuck", worker_id="w1")
    assert not done.outcome.ok and "hub sync reset-cursor stuck" in done.run.error
    assert not tiny.requests  # nothing was sent upstream with it
    r = cli("sync", "reset-cursor", "stuck", "--to", "nonsense")
    assert r.exit_code == 2 and "--to:" in r.output
    r = cli("sync", "reset-cursor", "stuck", "--to", "2024-01-01T00:00:00Z")
    assert r.exit_code == 0 and "not-a-timestamp -> 2024-01-01T00:00:00.000000Z" in r.output
    assert run_named(sm, "stuck", worker_id="w1").outcome.ok
    assert "added_after=2024-01-01T00%3A00%3A00.000000Z" in tiny.requests[-1][1]


def test_a_run_whose_record_the_database_refuses_is_recorded_as_failed_and_the_lease_released(
    sm, world, web, monkeypatch
):
    folder, base = web
    (folder / "l.txt").write_bytes(b"198.51.100.1\n")
    load(sm, spec("refused-record", f"{base}/l.txt"))
    import hub.sync.jobs as jobs

    real = jobs.run_pull

    def too_large(*a, **k):
        out = real(*a, **k)
        out.read = 2**70  # a count neither database can hold
        return out

    monkeypatch.setattr(jobs, "run_pull", too_large)
    done = run_named(sm, "refused-record", worker_id="w1")
    assert not done.outcome.ok and "recording the run failed" in done.run.error
    f = feed(sm, "refused-record")
    assert f.leased_by is None and f.failures == 1


# ------------------------------------------------------------------ pushes: fault 7, 8, 10


class FakePeer:
    """A TAXII 2.1 peer collection at /root/collections/p1/ that stores what it is sent."""

    def __init__(self, tiny: Tiny, *, max_content_length: int, die_after: int | None = None):
        self.tiny, self.limit, self.die_after = tiny, max_content_length, die_after
        self.stored: dict[str, dict[str, Any]] = {}
        self.envelopes: list[int] = []
        tiny.respond = self.respond

    @property
    def objects(self) -> set[str]:
        """The ids stored, marking definitions left out."""
        return {i for i in self.stored if not i.startswith("marking-definition--")}

    @property
    def url(self) -> str:
        return f"{self.tiny.base}/root/collections/p1/"

    def respond(self, method, path, headers, body):
        if method == "GET" and path == "/root/":
            info = {"title": "peer", "versions": [TAXII], "max_content_length": self.limit}
            return 200, {"Content-Type": TAXII}, orjson.dumps(info)
        if method == "POST" and path == "/root/collections/p1/objects/":
            if len(body) > self.limit:
                return 413, {"Content-Type": TAXII}, orjson.dumps({"title": "too large"})
            if self.die_after is not None and len(self.envelopes) >= self.die_after:
                return None
            self.envelopes.append(len(body))
            successes = []
            for o in orjson.loads(body)["objects"]:
                message = "already stored" if o["id"] in self.stored else "stored"
                self.stored[o["id"]] = o
                successes.append({"id": o["id"], "version": o.get("modified", ""), "message": message})
            status = {
                "id": "s1",
                "status": "complete",
                "total_count": len(successes),
                "success_count": len(successes),
                "successes": successes,
                "failure_count": 0,
                "pending_count": 0,
            }
            return 202, {"Content-Type": TAXII}, orjson.dumps(status)
        return 404, {}, b""


def _clear_objects(client, world, n: int, start: int) -> list[dict[str, Any]]:
    objs = [indicator(start + i, tlp="clear", description="d" * 300) for i in range(n)]
    r = client.post(
        world.objects_url(), content=orjson.dumps({"objects": objs}), headers=world.post_headers("cert-a")
    )
    assert r.status_code == 202 and r.json()["failure_count"] == 0
    return objs


def push_spec(name: str, url: str) -> dict[str, Any]:
    return spec(name, url, direction="push", format="taxii", user="peer", password_env="PEER_PW")


ENV = {"PEER_PW": "pw"}


def test_push_splits_envelopes_to_the_peers_max_content_length(sm, client, world, tiny):
    peer = FakePeer(tiny, max_content_length=4000)
    objs = _clear_objects(client, world, 30, 900)
    load(sm, push_spec("small-peer", peer.url))
    done = run_named(sm, "small-peer", worker_id="w1", environ=ENV)
    assert done.outcome.ok, done.outcome.error
    assert done.run.sent == 30 and {o["id"] for o in objs} <= set(peer.stored)
    assert len(peer.envelopes) > 3 and max(peer.envelopes) <= 4000
    # HTTP Basic with the password from the environment, the hub's User-Agent
    post = next(h for m, _p, h in tiny.requests if m == "POST")
    assert post["authorization"].startswith("Basic ") and post["user-agent"].startswith("cirt-hub/")


def test_an_object_larger_than_the_peers_limit_is_named_and_the_rest_goes(sm, client, world, tiny):
    peer = FakePeer(tiny, max_content_length=2500)
    big = indicator(950, tlp="clear", description="D" * 3000)
    r = client.post(
        world.objects_url(), content=orjson.dumps({"objects": [big]}), headers=world.post_headers("cert-a")
    )
    assert r.status_code == 202
    _clear_objects(client, world, 3, 960)
    load(sm, push_spec("too-big", peer.url))
    done = run_named(sm, "too-big", worker_id="w1", environ=ENV)
    assert done.run.sent == 3 and done.run.refused == 1
    assert big["id"] in done.run.notes and "max_content_length" in done.run.notes


def test_a_receiver_killed_mid_push_keeps_the_count_audit_and_cursor_and_the_retry_resumes(
    sm, client, world, tiny
):
    peer = FakePeer(tiny, max_content_length=4000, die_after=2)
    _clear_objects(client, world, 30, 1000)
    load(sm, push_spec("dies", peer.url))
    done = run_named(sm, "dies", worker_id="w1", environ=ENV)
    assert not done.outcome.ok and "RemoteProtocolError" in done.run.error
    acknowledged = len(peer.objects)
    assert acknowledged > 0 and done.run.sent == acknowledged
    assert done.run.cursor_after is not None and feed(sm, "dies").cursor == done.run.cursor_after
    with sm() as s:
        audits = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "push-out")))
    assert sum(a.count for a in audits) == acknowledged
    assert any("stopped:" in a.detail for a in audits)
    # the receiver is back: the retry sends only what was not acknowledged
    peer.die_after = None
    again = run_named(sm, "dies", worker_id="w1", environ=ENV)
    assert again.outcome.ok, again.outcome.error
    assert again.run.sent == 30 - acknowledged and again.run.unchanged == 0
    assert len(peer.objects) == 30


@pytest.fixture
def committing(db_kind, tmp_path, settings):
    """A database of this test's own whose sessions really commit, each on its own connection.

    The shared fixtures join one connection with savepoints, so a write nested in the push's read
    transaction would roll back with it; in a real deployment each session has its own connection.
    """
    from fastapi.testclient import TestClient

    from hub.app import create_app
    from hub.db import make_engine, make_sessionmaker
    from hub.schema import upgrade
    from tests.conftest import _worker, drop_database, fresh_database
    from tests.factories import load_world

    name = f"hub_kill_{_worker()}"
    url = fresh_database(db_kind, name, tmp_path)
    upgrade(url)
    engine = make_engine(url)
    sm = make_sessionmaker(engine)
    world = load_world(sm)
    with TestClient(create_app(settings, sessionmaker=sm), base_url="http://hub.test") as client:
        yield sm, client, world
    engine.dispose()
    drop_database(db_kind, name)


def test_a_worker_killed_mid_push_leaves_the_cursor_and_audit_of_what_was_acknowledged(
    committing, tiny, monkeypatch
):
    sm, client, world = committing
    peer = FakePeer(tiny, max_content_length=4000)
    _clear_objects(client, world, 30, 1300)
    load(sm, push_spec("killed", peer.url))
    from hub.sync.peer import PeerCollection

    real = PeerCollection.add_objects
    calls = {"n": 0}

    def dies_on_the_third(self, envelope):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("kill -9")  # nothing of the run's own record is written after this
        return real(self, envelope)

    monkeypatch.setattr(PeerCollection, "add_objects", dies_on_the_third)
    with pytest.raises(SystemExit):
        run_named(sm, "killed", worker_id="dead:9", environ=ENV)
    acknowledged = len(peer.objects)
    assert runs(sm, "killed") == []
    f = feed(sm, "killed")
    assert f.cursor is not None and f.leased_by == "dead:9"
    with sm() as s:
        audits = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "push-out")))
    assert sum(a.count for a in audits) == acknowledged > 0
    # the operator frees the feed; the next run resumes after the last acknowledged envelope
    monkeypatch.setattr(PeerCollection, "add_objects", real)
    with sm() as s, s.begin():
        begin_write(s)
        from hub.sync.scheduler import release

        release(s, name="killed")
    again = run_named(sm, "killed", worker_id="w2", environ=ENV)
    assert again.outcome.ok and (again.run.sent, again.run.unchanged) == (30 - acknowledged, 0)


def test_sent_distinguishes_new_at_the_peer_from_already_there(cli, sm, client, world, tiny):
    peer = FakePeer(tiny, max_content_length=100_000)
    _clear_objects(client, world, 4, 1100)
    load(sm, push_spec("twice", peer.url))
    assert run_named(sm, "twice", worker_id="w1", environ=ENV).run.sent == 4
    assert cli("sync", "reset-cursor", "twice").exit_code == 0
    again = run_named(sm, "twice", worker_id="w1", environ=ENV)
    assert (again.run.sent, again.run.unchanged) == (0, 4)
    assert "sent 0 new, 4 already at the peer" in again.outcome.summary("push")


def test_a_push_failure_is_one_line_not_a_traceback(cli, sm, client, world, tiny):
    tiny.respond = lambda *a: (500, {}, b"boom")
    _clear_objects(client, world, 1, 1200)
    r = cli("push", f"{tiny.base}/root/collections/p1/", "--group", "africa", "--collection", "indicators")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "API root information: HTTP 500" in r.output


# ------------------------------------------------------------------ operator control: fault 3, 9, 10


def test_a_disabled_feed_is_not_run_even_by_name(cli, sm):
    load(sm, spec("off", "https://feeds.example.org/x.txt", enabled=False))
    r = cli("sync", "run-once", "--feed", "off")
    assert r.exit_code == 2 and "is disabled" in r.output
    assert runs(sm, "off") == []


def test_release_frees_a_feed_a_dead_worker_holds(cli, sm, web):
    folder, base = web
    (folder / "l.txt").write_bytes(b"198.51.100.3\n")
    load(sm, spec("orphan", f"{base}/l.txt"))
    with sm() as s:
        claim_due(s, worker_id="dead:1", now_us=now_us(), lease_s=1800)
    r = cli("sync", "run-once", "--feed", "orphan")
    assert r.exit_code == 2 and "hub sync release orphan" in r.output
    r = cli("sync", "release", "orphan")
    assert r.exit_code == 0 and "released from worker dead:1" in r.output
    r = cli("sync", "run-once", "--feed", "orphan")
    assert r.exit_code == 0 and "orphan: ok" in r.output
    assert cli("sync", "release", "nope").exit_code == 2


def test_widening_a_push_resets_its_cursor_and_says_so(cli, sm, tmp_path):
    import yaml

    path = tmp_path / "feeds.yaml"
    narrow = push_spec("widen", "https://peer.example/taxii2/r/collections/1/")
    path.write_text(yaml.safe_dump({"feeds": [narrow]}))
    assert cli("sync", "load", str(path)).exit_code == 0
    with sm() as s, s.begin():
        s.scalar(select(Feed).where(Feed.name == "widen")).cursor = "2024-01-01T00:00:00.000000Z"
    path.write_text(yaml.safe_dump({"feeds": [{**narrow, "peer_community": "south"}]}))
    r = cli("sync", "load", str(path))
    assert r.exit_code == 0 and "cursor reset: widen" in r.output
    assert feed(sm, "widen").cursor is None


def test_a_url_feed_sends_its_secret_in_the_named_header_and_basic_auth_is_sent(sm, world, tiny, monkeypatch):
    tiny.respond = lambda *a: (200, {}, b"203.0.113.20\n")
    monkeypatch.setenv("FEED_KEY", "k-123")
    load(
        sm,
        spec("hdr", f"{tiny.base}/a.txt", auth_header="Auth-Key", password_env="FEED_KEY"),
        spec("basic", f"{tiny.base}/b.txt", user="alice", password_env="FEED_KEY"),
    )
    assert run_named(sm, "hdr", worker_id="w1").outcome.ok
    assert run_named(sm, "basic", worker_id="w1").outcome.ok
    (_, _, first), (_, _, second) = tiny.requests
    assert first["auth-key"] == "k-123" and "authorization" not in first
    import base64

    assert second["authorization"] == "Basic " + base64.b64encode(b"alice:k-123").decode()


def test_stop_interrupts_a_run_at_its_next_checkpoint_and_records_it(sm, world, web):
    folder, base = web
    (folder / "l.txt").write_bytes(b"198.51.100.4\n198.51.100.5\n")
    load(sm, spec("stopped", f"{base}/l.txt"))
    stop = threading.Event()
    stop.set()
    done = run_named(sm, "stopped", worker_id="w1", stop=stop)
    assert not done.outcome.ok and "interrupted" in done.run.error
    assert done.run.created == 2  # the batch before the checkpoint is kept
    assert feed(sm, "stopped").leased_by is None


def test_a_long_run_renews_its_lease(sm, world, web, monkeypatch):
    folder, base = web
    (folder / "l.txt").write_bytes(b"".join(b"198.51.%d.%d\n" % (i // 250, i % 250) for i in range(2500)))
    load(sm, spec("long", f"{base}/l.txt"))
    seen: list[int | None] = []
    import hub.sync.scheduler as scheduler

    real = scheduler.renew_lease

    def spy(session, **kw):
        ok = real(session, **kw)
        seen.append(session.get(Feed, kw["feed_id"]).lease_until_us)
        return ok

    from hub.sync.jobs import RunControl

    monkeypatch.setattr("hub.sync.worker.renew_lease", spy)
    # renew at every checkpoint (after each batch of 1,000) rather than every third of the lease
    monkeypatch.setattr("hub.sync.worker.RunControl", lambda **kw: RunControl(**{**kw, "renew_every_s": 0}))
    started = now_us()
    done = run_named(sm, "long", worker_id="w1", lease_s=600)
    assert done.outcome.ok and done.run.created == 2500
    assert len(seen) >= 2 and all(s is not None and s >= started + 600 * 10**6 for s in seen)
    assert seen == sorted(seen)
    assert feed(sm, "long").leased_by is None


def test_a_feed_is_unhealthy_after_consecutive_failures(cli, sm, world):
    load(sm, spec("sick", f"http://127.0.0.1:{free_port()}/x.txt", unhealthy_after=2))
    run_named(sm, "sick", worker_id="w1")
    assert "UNHEALTHY" not in cli("sync", "list").output
    run_named(sm, "sick", worker_id="w1")
    assert "UNHEALTHY (2 consecutive failures)" in cli("sync", "list").output
    assert "feed unhealthy: 2 consecutive failures" in cli("sync", "runs", "--feed", "sick").output
    with sm() as s:
        assert [r.status for r in s.scalars(select(FeedRun).order_by(FeedRun.id))] == ["failed", "failed"]


def test_a_cron_schedule_sets_the_next_run(sm, world, web):
    from datetime import UTC, datetime

    folder, base = web
    (folder / "l.txt").write_bytes(b"198.51.100.6\n")
    load(sm, spec("cron", f"{base}/l.txt", schedule="0 6 * * *"))
    done = run_named(sm, "cron", worker_id="w1")
    assert done.outcome.ok
    nxt = datetime.fromtimestamp(feed(sm, "cron").next_run_at_us / 1e6, tz=UTC)
    assert (nxt.hour, nxt.minute, nxt.second) == (6, 0, 0)
    assert 0 < nxt.timestamp() - done.run.finished_us / 1e6 <= 86400


def test_sync_list_masks_a_secret_in_a_url_stored_before_such_urls_were_refused(cli, sm):
    load(sm, spec("legacy", "https://feeds.example.org/x.txt"))
    with sm() as s, s.begin():
        s.scalar(
            select(Feed).where(Feed.name == "legacy")
        ).url = "http://alice:S3cretPass@feeds.example.org/x.txt?apikey=K3y&day=1"
    out = cli("sync", "list").output
    assert "S3cretPass" not in out and "K3y" not in out
    assert "http://***@feeds.example.org/x.txt?apikey=%2A%2A%2A&day=1" in out


def test_sigterm_interrupts_a_run_blocked_on_a_silent_upstream(cli, sm, tiny):
    import os
    import signal
    import time

    def stall(*_a):
        tiny.release.wait(10)
        return 200, {}, b"203.0.113.30\n"

    tiny.respond = stall
    load(sm, spec("blocked", f"{tiny.base}/list.txt", timeout=20))

    def terminate() -> None:
        deadline = time.monotonic() + 10
        while not tiny.requests:  # until the run's request is in flight
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate, daemon=True).start()
    started = time.monotonic()
    r = cli("sync", "run-once", "--feed", "blocked")
    assert time.monotonic() - started < 10  # not the 20 s timeout
    assert r.exit_code == 1 and "SIGTERM: stopping" in r.output
    [run] = runs(sm, "blocked")
    assert run.status == "failed" and "interrupted" in run.error and "SIGTERM" in run.error
    assert feed(sm, "blocked").leased_by is None


def test_the_worker_loop_survives_an_error_outside_any_run(sm, world, web, monkeypatch):
    from hub.sync import worker as w

    folder, base = web
    (folder / "l.txt").write_bytes(b"198.51.100.8\n")
    load(sm, spec("survivor", f"{base}/l.txt"))
    real, calls = w.run_next, {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug outside any run")
        return real(*a, **k)

    monkeypatch.setattr(w, "run_next", flaky)
    assert w.Worker(sm, worker_id="w1", poll_s=0.01, max_runs=1).run() == 1
    assert [r.status for r in runs(sm, "survivor")] == ["ok"]
