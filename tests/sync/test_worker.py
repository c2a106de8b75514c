"""Sync workers: claim, run, record; incremental pulls and pushes, backoff, leases, one runner per feed."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import orjson
import pytest
from sqlalchemy import delete, select

from hub.db import begin_write, make_sessionmaker
from hub.store.models import AuditEvent
from hub.sync.feeds import FeedsConfig, apply_feeds
from hub.sync.models import Feed, FeedRun
from hub.sync.scheduler import claim_due, lease, lock_due, now_us
from hub.sync.worker import run_claimed, run_due, run_named
from tests.conftest import free_port
from tests.factories import TLP, indicator
from tests.taxii_helpers import store

BLOCKLIST = b"203.0.113.7\nevil.example\nnot a value at all !!\n2001:db8::1\n"
S = 1_000_000


def spec(name: str, url: str, **extra):
    base = {"name": name, "format": "text", "url": url, "group": "africa", "collection": "indicators"}
    if extra.get("direction") != "push":
        base["publish_as"] = "cert-a"
    return {**base, **extra}


def load(sm, *feeds, now: int = 0) -> None:
    with sm() as s, s.begin():
        begin_write(s)
        apply_feeds(s, FeedsConfig.model_validate({"feeds": list(feeds)}), now_us=now)


def feed(sm, name: str) -> Feed:
    with sm() as s:
        return s.scalar(select(Feed).where(Feed.name == name))


def runs(sm, name: str) -> list[FeedRun]:
    with sm() as s:
        return list(s.scalars(select(FeedRun).join(Feed).where(Feed.name == name).order_by(FeedRun.id)))


# ------------------------------------------------------------------ pulls


def test_pull_feed_run_records_counts_and_rerun_stores_nothing_new(cli, sm, web):
    folder, base = web
    (folder / "list.txt").write_bytes(BLOCKLIST)
    load(sm, spec("blocklist", f"{base}/list.txt", tlp="green", interval=600))
    before = now_us()
    r = cli("sync", "run-once")
    assert r.exit_code == 0, r.output
    assert "blocklist: ok: read 4, new 3" in r.output and "rejected 1" in r.output
    [first] = runs(sm, "blocklist")
    assert (first.status, first.created, first.rejected, first.unchanged, first.error) == (
        "ok",
        3,
        1,
        0,
        None,
    )
    f = feed(sm, "blocklist")
    assert f.failures == 0 and f.lease_until_us is None and f.leased_by is None
    assert f.next_run_at_us >= before + 600 * S
    # not due again: a second pass runs nothing; a named run re-reads and finds nothing new
    assert "No feed is due" in cli("sync", "run-once").output
    # a named run asks with If-Modified-Since: the site answers 304 and nothing is read
    r = cli("sync", "run-once", "--feed", "blocklist")
    assert "read 0" in r.output and "not modified since the last download" in r.output
    # after reset-cursor the feed downloads in full again, and finds nothing new
    assert cli("sync", "reset-cursor", "blocklist").exit_code == 0
    r = cli("sync", "run-once", "--feed", "blocklist")
    assert "new 0" in r.output and "unchanged 3" in r.output
    r = cli("sync", "runs", "--feed", "blocklist")
    assert r.output.count("blocklist  ok") == 3, r.output
    assert "not modified since the last download" in r.output


@pytest.mark.interop
def test_taxii_pull_is_incremental_through_the_cursor(sm, world, live, monkeypatch):
    upstream = f"{live.base}/taxii2/africa/collections/{live.collections['africa/indicators']}/"

    def publish(*objs):
        r = httpx.post(
            upstream + "objects/",
            content=orjson.dumps({"objects": list(objs)}),
            headers=live.post_headers("cert-a"),
        )
        assert r.status_code == 202

    publish(*(indicator(9000 + i, tlp="clear") for i in range(5)))
    monkeypatch.setenv("FEED_UPSTREAM_PASSWORD", live.keys["cert-a"])
    load(
        sm,
        spec(
            "upstream",
            upstream,
            format="taxii",
            publish_as="cert-b",
            peer_community="south",
            user="cert-a",
            password_env="FEED_UPSTREAM_PASSWORD",
        ),
    )
    first = run_named(sm, "upstream", worker_id="w1")
    assert first.outcome.ok, first.outcome.error
    assert (first.run.created, first.run.cursor_before) == (5, None)
    assert first.run.cursor_after and feed(sm, "upstream").cursor == first.run.cursor_after
    publish(indicator(9100, tlp="clear"))
    second = run_named(sm, "upstream", worker_id="w1")
    assert (second.run.read, second.run.created) == (1, 1)
    assert second.run.cursor_before == first.run.cursor_after
    assert second.run.cursor_after > first.run.cursor_after
    assert feed(sm, "upstream").cursor == second.run.cursor_after


# ------------------------------------------------------------------ failures and retries


def test_failing_feed_records_the_error_backs_off_and_recovers(cli, sm, web):
    folder, base = web
    dead = f"http://127.0.0.1:{free_port()}/list.txt"
    load(sm, spec("flaky", dead, interval=3600))
    r = cli("sync", "run-once")
    assert r.exit_code == 1 and "flaky: failed" in r.output and "ConnectError" in r.output
    f = feed(sm, "flaky")
    [run] = runs(sm, "flaky")
    assert f.failures == 1 and "ConnectError" in f.last_error and run.status == "failed"
    assert f.next_run_at_us - run.finished_us == 60 * S
    run_named(sm, "flaky", worker_id="w1")
    f = feed(sm, "flaky")
    assert f.failures == 2 and f.next_run_at_us - runs(sm, "flaky")[-1].finished_us == 120 * S
    assert "last error:" in cli("sync", "list").output
    # the site comes back: one good run resets the count
    (folder / "list.txt").write_bytes(BLOCKLIST)
    load(sm, spec("flaky", f"{base}/list.txt", interval=3600))
    done = run_named(sm, "flaky", worker_id="w1")
    assert done.outcome.ok
    f = feed(sm, "flaky")
    assert (f.failures, f.last_error) == (0, None)
    assert f.next_run_at_us - done.run.finished_us == 3600 * S
    assert [r.status for r in runs(sm, "flaky")] == ["failed", "failed", "ok"]


def test_missing_password_variable_fails_the_run_and_says_which(sm, world, monkeypatch):
    monkeypatch.delenv("FEED_NOT_SET", raising=False)
    load(
        sm,
        spec(
            "up",
            "https://up.example/taxii2/a/collections/1/",
            format="taxii",
            public=True,
            user="u",
            password_env="FEED_NOT_SET",
        ),
    )
    done = run_named(sm, "up", worker_id="w1")
    assert not done.outcome.ok
    assert "environment variable FEED_NOT_SET (password_env of feed 'up') is not set" in done.run.error


# ------------------------------------------------------------------ claiming


def test_disabled_and_not_yet_due_feeds_are_not_claimed(sm, world):
    load(sm, spec("off", "x", enabled=False), spec("later", "y"), now=10 * S)
    with sm() as s:
        assert claim_due(s, worker_id="w1", now_us=5 * S, lease_s=60) is None  # "later" is due at 10 s
    with sm() as s:
        got = claim_due(s, worker_id="w1", now_us=11 * S, lease_s=60)
    assert got is not None and got.name == "later"


def test_expired_lease_is_claimable_again_and_the_late_worker_only_adds_history(sm, world, web):
    folder, base = web
    (folder / "list.txt").write_bytes(b"198.51.100.1\n")
    load(sm, spec("one", f"{base}/list.txt"))
    t0 = now_us()
    with sm() as s:
        first = claim_due(s, worker_id="dead", now_us=t0, lease_s=30)
    assert first is not None
    with sm() as s:
        assert claim_due(s, worker_id="w2", now_us=t0 + 29 * S, lease_s=30) is None
    with sm() as s:
        second = claim_due(s, worker_id="w2", now_us=t0 + 31 * S, lease_s=30)
    assert second is not None and second.leased_by == "w2"
    # the first worker was not dead after all: its run is history, the feed stays with w2
    run_claimed(sm, first, worker_id="dead")
    f = feed(sm, "one")
    assert f.leased_by == "w2" and f.lease_until_us == t0 + 61 * S
    run_claimed(sm, second, worker_id="w2")
    f = feed(sm, "one")
    assert f.leased_by is None and f.lease_until_us is None
    assert [r.worker_id for r in runs(sm, "one")] == ["dead", "w2"]


def test_a_named_run_of_a_feed_another_worker_holds_is_refused(cli, sm):
    load(sm, spec("busy", "x"))
    with sm() as s:
        claim_due(s, worker_id="elsewhere:1", now_us=now_us(), lease_s=600)
    r = cli("sync", "run-once", "--feed", "busy")
    assert r.exit_code == 2 and "is running on worker elsewhere:1" in r.output
    r = cli("sync", "run-once", "--feed", "nope")
    assert r.exit_code == 2 and "no feed 'nope'" in r.output


@pytest.fixture
def committed(engine):
    """Sessions that really commit, for claimers on separate connections; the feeds are removed after."""
    sm = make_sessionmaker(engine)
    yield sm
    with sm() as s, s.begin():
        s.execute(delete(FeedRun))
        s.execute(delete(Feed))


def test_concurrent_claimers_never_get_the_same_feed(committed):
    load(committed, spec("shared", "x"))
    claimers = 4
    barrier = threading.Barrier(claimers)
    got: list[str | None] = []

    def claim(n: int) -> None:
        with committed() as s:
            barrier.wait()
            f = claim_due(s, worker_id=f"w{n}", now_us=now_us(), lease_s=60)
            got.append(f.leased_by if f else None)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(claimers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(got) == claimers
    winners = [g for g in got if g]
    assert len(winners) == 1
    assert feed(committed, "shared").leased_by == winners[0]


def test_a_claimer_passes_over_a_feed_another_claim_is_holding(committed, db_kind):
    """PostgreSQL: SKIP LOCKED returns at once; SQLite: the write lock makes the second claimer wait."""
    load(committed, spec("first", "x"), spec("second", "y"), now=0)
    results: dict[str, str | None] = {}

    def other() -> None:
        with committed() as s:
            f = claim_due(s, worker_id="w2", now_us=now_us(), lease_s=60)
            results["w2"] = f.name if f else None

    with committed() as holder, holder.begin():
        begin_write(holder)
        held = lock_due(holder, now_us=now_us())
        assert held is not None and held.name == "first"
        lease(held, worker_id="w1", now_us=now_us(), lease_s=60)
        holder.flush()
        t = threading.Thread(target=other)
        t.start()
        t.join(0.5)
        if db_kind == "postgresql":
            assert results == {"w2": "second"}  # skipped the locked row instead of waiting for it
        else:
            assert t.is_alive()  # one writer at a time: w2 waits for w1's claim to commit
    t.join(20)
    assert results == {"w2": "second"}
    assert {f.name: f.leased_by for f in (feed(committed, "first"), feed(committed, "second"))} == {
        "first": "w1",
        "second": "w2",
    }
    with committed() as s:
        assert claim_due(s, worker_id="w3", now_us=now_us(), lease_s=60) is None


# ------------------------------------------------------------------ pushes


@pytest.mark.interop
def test_push_feed_sends_only_what_the_redistribution_rule_allows(sm, client, world, live, monkeypatch):
    objs = {lvl: indicator(n, tlp=lvl) for n, lvl in enumerate(["clear", "green", "amber", "amber+strict"])}
    objs["granular"] = indicator(
        11,
        tlp="green",
        description="context",
        granular_markings=[{"marking_ref": TLP["amber"], "selectors": ["description"]}],
    )
    store(client, world, list(objs.values()))
    peer = f"{live.base}/taxii2/asia/collections/{live.collections['asia/indicators']}/"
    monkeypatch.setenv("FEED_PEER_PASSWORD", live.keys["cert-c"])
    load(
        sm,
        spec(
            "to-peer",
            peer,
            direction="push",
            format="taxii",
            peer_community="south",
            user="cert-c",
            password_env="FEED_PEER_PASSWORD",
        ),
    )
    [done] = run_due(sm, worker_id="w1")
    assert done.outcome.ok, done.outcome.error
    assert (done.run.sent, done.run.refused) == (3, 0)
    got = httpx.get(peer + "objects/", headers=live.auth("cert-c")).json()["objects"]
    got = [o for o in got if o["type"] != "marking-definition"]
    assert {o["id"] for o in got} == {objs[k]["id"] for k in ("clear", "green", "granular")}
    assert all("description" not in o for o in got)
    assert feed(sm, "to-peer").cursor == done.run.cursor_after is not None
    with sm() as s:
        audits = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "push-out")))
    assert sum(a.count for a in audits) == 3 and all("to-peer" in a.detail for a in audits)
    # incremental: only what was added since goes
    store(client, world, [indicator(50, tlp="clear"), indicator(51, tlp="amber")])
    again = run_named(sm, "to-peer", worker_id="w1")
    assert again.run.sent == 1 and again.run.cursor_before == done.run.cursor_after


# ------------------------------------------------------------------ the worker loop


def test_worker_runs_due_feeds_until_max_runs(cli, sm, web):
    folder, base = web
    (folder / "a.txt").write_bytes(b"198.51.100.1\n")
    (folder / "b.txt").write_bytes(b"198.51.100.2\n")
    load(sm, spec("a", f"{base}/a.txt"), spec("b", f"{base}/b.txt"))
    r = cli("sync", "worker", "--worker-id", "test:1", "--poll-seconds", "0.05", "--max-runs", "2")
    assert r.exit_code == 0, r.output
    assert "a: ok" in r.output and "b: ok" in r.output and "stopped after 2 runs" in r.output
    assert {r.worker_id for r in runs(sm, "a") + runs(sm, "b")} == {"test:1"}


def test_worker_stops_gracefully_on_sigterm(cli):
    before = signal.getsignal(signal.SIGTERM)

    def terminate() -> None:
        deadline = time.monotonic() + 10
        while signal.getsignal(signal.SIGTERM) == before:  # until the worker's handler is in place
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate, daemon=True).start()
    r = cli("sync", "worker", "--poll-seconds", "0.05")
    assert r.exit_code == 0, r.output
    assert "SIGTERM: stopping" in r.output and "stopped after 0 runs" in r.output
    assert signal.getsignal(signal.SIGTERM) == before
