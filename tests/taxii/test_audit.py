"""The audit log under load: reads never wait for their audit row (a batching writer thread); pull events
roll up and are pruned."""

from __future__ import annotations

import logging
import os
import sqlite3
import time

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.db import make_engine, make_sessionmaker
from hub.schema import upgrade
from hub.store.audit import DAY_US, AuditWriter, PullEvent, record
from hub.store.models import AuditDaily, AuditEvent
from tests.conftest import drop_database, fresh_database
from tests.factories import TAXII, indicator


def _pull_rows(url: str) -> int:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return int(
                conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'pull-objects'")).scalar()
            )
    finally:
        eng.dispose()


def test_a_read_is_answered_while_the_audit_table_is_locked_and_its_row_follows(live):
    url = live.server.db_url
    objects = f"{live.base}{live.objects_url()}"
    auth = {"Authorization": f"Bearer {live.keys['cert-a']}", "Accept": TAXII}
    with httpx.Client(timeout=60) as http:
        body = orjson.dumps({"objects": [indicator(1)]})
        assert http.post(objects, content=body, headers={**auth, "Content-Type": TAXII}).status_code == 202
        before = _pull_rows(url)
        if url.startswith("sqlite"):
            holder: object = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]  # the database's one write lock
        else:
            eng = create_engine(url)
            holder = eng.connect()
            holder.execute(text("LOCK TABLE audit_events IN EXCLUSIVE MODE"))  # type: ignore[attr-defined]
        try:
            r = http.get(objects, headers=auth)
            assert r.status_code == 200 and len(r.json()["objects"]) == 1
        finally:
            holder.rollback()  # type: ignore[attr-defined]
            holder.close()  # type: ignore[attr-defined]
            if not url.startswith("sqlite"):
                eng.dispose()
    for _ in range(200):  # the deferred row lands once the lock is gone (bounded wait)
        if _pull_rows(url) == before + 1:
            break
        time.sleep(0.1)
    assert _pull_rows(url) == before + 1


def _old(session, days_ago: float, action: str = "pull-objects", count: int = 3, org: int = 1) -> None:
    record(
        session,
        action=action,
        organisation_id=org,
        group_id=1,
        collection_id="c",
        count=count,
        at_us=time.time_ns() // 1000 - int(days_ago * DAY_US),
    )


def test_audit_rollup_folds_old_pull_events_into_daily_counts(client, world, sm, db_url, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)  # the CLI refuses a missing database file
    monkeypatch.setattr("hub.cli.make_sessionmaker", lambda _engine: sm)
    assert client.get(world.objects_url(), headers=world.auth("cert-a")).status_code == 200  # a recent pull
    with sm() as s, s.begin():
        for _ in range(4):
            _old(s, 40.5)
        _old(s, 40.5, org=2, count=5)
        _old(s, 41.5)
        _old(s, 40.5, action="delete")  # not a pull: kept as it is
    r = CliRunner().invoke(cli, ["audit", "rollup", "--older-than", "30"])
    assert r.exit_code == 0, r.output
    assert "rolled up 6 pull events" in r.output
    with sm() as s:
        daily = sorted((d.organisation_id, d.events, d.count) for d in s.scalars(select(AuditDaily)))
        left = sorted(e.action for e in s.scalars(select(AuditEvent)))
    assert daily == [(1, 1, 3), (1, 4, 12), (2, 1, 5)]
    assert left.count("pull-objects") == 1 and "delete" in left  # the recent pull and the delete stay
    # a second run folds new old events into the same day rows
    with sm() as s, s.begin():
        _old(s, 40.5)
    assert (
        "rolled up 1 pull events" in CliRunner().invoke(cli, ["audit", "rollup", "--older-than", "30"]).output
    )
    with sm() as s:
        assert sorted((d.organisation_id, d.events) for d in s.scalars(select(AuditDaily)))[1] == (1, 5)


def test_audit_prune_deletes_events_and_daily_rows_older_than_the_cutoff(
    client, world, sm, db_url, monkeypatch
):
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setattr("hub.cli.make_sessionmaker", lambda _engine: sm)
    with sm() as s, s.begin():
        _old(s, 400)
        _old(s, 400, action="push")
        _old(s, 10)
    runner = CliRunner()
    assert runner.invoke(cli, ["audit", "rollup", "--older-than", "300"]).exit_code == 0
    r = runner.invoke(cli, ["audit", "prune", "--older-than", "365"])
    assert r.exit_code == 0, r.output
    assert "deleted 1 audit events and 1 daily rows" in r.output
    with sm() as s:
        assert [e.at_us > time.time_ns() // 1000 - 11 * DAY_US for e in s.scalars(select(AuditEvent))] == [
            True
        ]
        assert list(s.scalars(select(AuditDaily))) == []
    assert runner.invoke(cli, ["audit", "prune", "--older-than", "-1"]).exit_code == 2


@pytest.fixture
def own_db(db_kind, tmp_path):
    """A migrated database of its own: the audit writer commits from its own thread and connections."""
    name = f"hub_audit_writer_{os.getpid()}"
    url = fresh_database(db_kind, name, tmp_path)
    upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()
    drop_database(db_kind, name)


def _event(i: int) -> PullEvent:
    return PullEvent(
        action="pull-objects", organisation_id=1, account_id=None, group_id=1, collection_id="c", count=i
    )


def _counts(sm) -> list[int]:
    with sm() as session:
        return list(session.scalars(select(AuditEvent.count).order_by(AuditEvent.id)))


def test_the_audit_writer_batches_events_in_order_and_flush_waits_for_them(own_db):
    writer = AuditWriter(own_db, batch=7)
    for i in range(50):
        writer.submit(_event(i))  # returns at once: no database work on the read's path
    assert writer.flush(timeout=30)
    assert _counts(own_db) == list(range(50))
    writer.close()
    writer.submit(_event(50))  # a closed writer starts again rather than dropping the event
    writer.close()
    assert _counts(own_db) == list(range(51))


def test_an_unwritable_event_is_retried_then_logged_in_full_and_a_full_queue_logs_too(own_db, caplog):
    calls = []

    class Down:
        def __call__(self):
            calls.append(1)
            raise OperationalError("INSERT", {}, Exception("database is down"))

    writer = AuditWriter(Down(), attempts=3, pause=0.01)
    with caplog.at_level(logging.WARNING, logger="hub.audit"):
        writer.submit(_event(7))
        assert writer.flush(timeout=30)
    assert len(calls) == 3
    assert "replay it" in caplog.text and "'count': 7" in caplog.text

    full = AuditWriter(own_db, limit=0)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="hub.audit"):
        full.submit(_event(9))
    assert "audit queue full" in caplog.text and "'count': 9" in caplog.text
    assert full.flush(timeout=1)
