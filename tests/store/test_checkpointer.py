"""The server's SQLite checkpointer moves the WAL into the database file without a request doing it."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from hub.db import WRITE_OPTION, SqliteCheckpointer, make_engine


def test_background_checkpoints_copy_the_wal_into_the_database(tmp_path):
    path = tmp_path / "cp.db"
    engine = make_engine(f"sqlite:///{path}", background_checkpoints=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (randomblob(4000))"), [{}] * 500)
    before = os.path.getsize(path)  # the rows are in the WAL; the safety net is far away
    checkpointer = SqliteCheckpointer(str(path), interval=0.02).start()
    try:
        deadline = time.monotonic() + 10
        while os.path.getsize(path) <= before + 1_000_000 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        checkpointer.stop()
        engine.dispose()
    assert os.path.getsize(path) > before + 1_000_000


def test_checkpoint_resets_the_wal_past_its_limit_while_readers_come_and_go(tmp_path):
    """PASSIVE alone never rewinds the WAL; past the limit the checkpointer truncates it, waiting (a
    bounded time) for old snapshots, and short readers coming and going do not stop it."""
    import sqlite3
    import threading

    path = tmp_path / "reset.db"
    limit = 1024 * 1024
    engine = make_engine(f"sqlite:///{path}", background_checkpoints=True, sqlite_wal_limit_mb=1)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))
    checkpointer = SqliteCheckpointer(str(path), interval=0.01, limit_bytes=limit, wait_ms=200)
    cp = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)

    def write(rows: int = 400) -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (randomblob(4000))"), [{}] * rows)

    # a reader holding an old snapshot: the WAL cannot be reset, and the checkpoint gives up in time.
    # The checkpointer's clock stands still meanwhile: the back-off after one failure is two rounds
    # (20 ms here), and a loaded machine can pause longer than that between two lines of this test, which
    # would make the second round a real retry rather than the "at once again" it is meant to be
    frozen = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("hub.db.time", SimpleNamespace(monotonic=lambda: frozen, time=time.time))
        old = sqlite3.connect(str(path), isolation_level=None)
        old.execute("BEGIN")
        old.execute("SELECT count(*) FROM t").fetchone()
        write()
        assert checkpointer.wal_bytes() > limit
        started = time.monotonic()
        state = checkpointer.checkpoint(cp)
        assert time.monotonic() - started < 5
        assert state.resets == 0 and state.reset_failures == 1
        assert checkpointer.wal_bytes() > limit
        checkpointer.checkpoint(cp)  # at once again: no second wait, writers are not stalled round on round
        assert state.reset_failures == 1
        old.execute("COMMIT")
        old.close()
    # the real clock again: it has passed the back-off (it stood at `frozen` before the failed wait)
    assert time.monotonic() >= frozen + 2 * checkpointer.interval

    # readers that each hold a snapshot briefly, and a writer, while the checkpointer runs its rounds.
    # The wait is the server's default here: 200 ms is a short wait for three busy readers on a loaded
    # two-core machine (CI saw one round in five give up), and what this part asserts is that readers
    # coming and going do not stop the reset, not how fast it gets through them
    checkpointer.wait_ms = 4000
    stop = threading.Event()

    def reader() -> None:
        conn = sqlite3.connect(str(path), isolation_level=None)
        while not stop.is_set():
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM t").fetchone()
            conn.execute("COMMIT")
        conn.close()

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for th in readers:
        th.start()
    try:
        resets = []
        for _ in range(5):
            write()
            before = checkpointer.wal_bytes()
            state = checkpointer.checkpoint(cp)
            resets.append((before > limit, state.wal_bytes <= limit))
    finally:
        stop.set()
        for th in readers:
            th.join()
        cp.close()
        engine.dispose()
    assert all(over for over, _ in resets)  # each round started over the limit ...
    assert sum(1 for _, under in resets if under) >= 4  # ... and ended under it
    assert state.resets >= 4


def test_passive_checkpoints_alone_never_shrink_the_wal(tmp_path):
    """What the reset is for: under the limit, the checkpointer only copies frames; the file stays."""
    path = tmp_path / "passive.db"
    engine = make_engine(f"sqlite:///{path}", background_checkpoints=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))
        conn.execute(text("INSERT INTO t VALUES (randomblob(4000))"), [{}] * 400)
    checkpointer = SqliteCheckpointer(str(path), limit_bytes=64 * 1024 * 1024)
    import sqlite3

    cp = sqlite3.connect(str(path), isolation_level=None)
    try:
        size = checkpointer.wal_bytes()
        state = checkpointer.checkpoint(cp)
        after = checkpointer.wal_bytes()
    finally:
        cp.close()
        engine.dispose()
    assert state.log_frames == state.checkpointed_frames > 0
    assert state.resets == 0 and after == size > 1024 * 1024


def test_sqlite_page_cache_is_the_budget_shared_by_the_pool(tmp_path):
    """HUB_SQLITE_CACHE_MB is the total (SQLite's soft heap limit); each connection may cache a quarter."""
    from hub.app import create_app
    from hub.db import sqlite_pool
    from hub.settings import Settings

    for pool_size, budget in ((10, 256), (2, 64), (1, 8)):
        engine = make_engine(
            f"sqlite:///{tmp_path}/c{pool_size}.db", pool_size=pool_size, sqlite_cache_mb=budget
        )
        try:
            with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
                cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            with engine.connect() as conn:
                read_cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
                limit = conn.exec_driver_sql("PRAGMA journal_size_limit").scalar()
                heap = conn.exec_driver_sql("PRAGMA soft_heap_limit").scalar()
            pooled, overflow = sqlite_pool(pool_size)
            assert engine.pool.size() == pooled and overflow == 0
            # a writer may take a quarter of the budget, a reader a sixteenth (at least 2 MB each, a
            # reader never more than a writer); the process holds to the budget (the largest of its
            # engines': the limit is the process's)
            assert -cache == max(2048, budget * 1024 // min(4, pooled))
            assert -read_cache == min(-cache, max(2048, budget * 1024 // 16))
            assert heap >= budget * 1024 * 1024
            assert limit == 256 * 1024 * 1024
        finally:
            engine.dispose()
    # the server's defaults: 256 MB in all over at most 10 connections
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/s.db", sqlite_cache_mb=100, sqlite_wal_limit_mb=32
    )
    assert create_app(settings)  # the settings are accepted
    engine = make_engine(
        settings.database_url,
        pool_size=settings.pool_size,
        sqlite_cache_mb=settings.sqlite_cache_mb,
        sqlite_wal_limit_mb=settings.sqlite_wal_limit_mb,
    )
    try:
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -(100 * 1024 // 4)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -(100 * 1024 // 16)
            assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == 32 * 1024 * 1024
    finally:
        engine.dispose()


def test_wal_size_and_checkpoint_progress_are_metrics(tmp_path):
    import sqlite3

    from prometheus_client import generate_latest

    from hub import metrics

    path = tmp_path / "m.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))
        conn.execute(text("INSERT INTO t VALUES (randomblob(4000))"), [{}] * 300)
    checkpointer = SqliteCheckpointer(str(path), limit_bytes=1024 * 1024)
    metrics.WAL.watch(checkpointer)
    cp = sqlite3.connect(str(path), isolation_level=None)
    try:
        checkpointer.checkpoint(cp)
        text_ = generate_latest(metrics.REGISTRY).decode()
    finally:
        cp.close()
        engine.dispose()
    assert "hub_sqlite_wal_bytes " in text_
    assert 'hub_sqlite_wal_resets_total{outcome="done"} 1.0' in text_
    assert 'hub_sqlite_checkpoint_frames{state="checkpointed"}' in text_
    assert "hub_sqlite_checkpoint_lagging 0.0" in text_


def test_sqlite_memory_is_a_metric_and_follows_the_page_cache(tmp_path):
    """hub_sqlite_memory_bytes is SQLite's own count of its heap: it grows as a connection caches pages
    and falls when the connection goes (what tells SQLite's memory from Python's in a growing RSS).
    Measured in a process of its own: SQLite's count is the process's, and this one's other threads
    (live servers of other tests) use SQLite too."""
    import subprocess
    import sys

    script = f"""
import re, sqlite3
from prometheus_client import generate_latest
from hub import metrics
from hub.db import SqliteCheckpointer, sqlite_memory_used
path = {str(tmp_path / "mem.db")!r}
setup = sqlite3.connect(path)
setup.execute("CREATE TABLE t (x BLOB)")
setup.executemany("INSERT INTO t VALUES (randomblob(4000))", [()] * 2000)
setup.commit()
setup.close()
before = sqlite_memory_used()
reader = sqlite3.connect(path)
reader.execute("PRAGMA cache_size=-16384")
reader.execute("SELECT sum(length(x)) FROM t").fetchone()  # 8 MB of pages into its cache
during = sqlite_memory_used()
metrics.WAL.watch(checkpointer := SqliteCheckpointer(path))
shown = re.search(r"^hub_sqlite_memory_bytes (\\S+)$", generate_latest(metrics.REGISTRY).decode(), re.M)
reader.close()
after = sqlite_memory_used()
print(before, during, after, float(shown.group(1)) if shown else None)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    before, during, after, shown = (float(x) for x in out.stdout.split())
    mb4 = 4 * 1024 * 1024
    assert during - before > mb4 and during - after > mb4 and shown >= during - mb4


def test_checkpoint_resets_the_wal_while_writers_follow_each_other(tmp_path):
    """Under a steady write load some writer always wants the lock the reset needs; the write gate holds
    this process's new writers back for the reset, so it gets through round after round, and every
    write still commits."""
    import sqlite3
    import threading

    from hub.db import write_gate

    path = tmp_path / "writers.db"
    limit = 512 * 1024
    engine = make_engine(f"sqlite:///{path}", background_checkpoints=True, sqlite_wal_limit_mb=1)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))
    checkpointer = SqliteCheckpointer(str(path), interval=0.01, limit_bytes=limit, wait_ms=1000)
    assert checkpointer.gate is write_gate(str(path))
    cp = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    stop = threading.Event()
    written = [0, 0]

    def writer(n: int) -> None:
        while not stop.is_set():
            with engine.connect() as conn:
                conn = conn.execution_options(hub_write=True)  # BEGIN IMMEDIATE, through the gate
                with conn.begin():
                    conn.execute(text("INSERT INTO t VALUES (randomblob(4000))"), [{}] * 20)
                    time.sleep(0.005)  # the lock is held a while, as by a request's work
            written[n] += 20

    def reader() -> None:
        with engine.connect() as conn:
            while not stop.is_set():
                with conn.begin():
                    conn.execute(text("SELECT count(*) FROM t")).scalar()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for th in threads:
        th.start()
    outcomes = []
    try:
        for _ in range(8):
            deadline = time.monotonic() + 20
            while checkpointer.wal_bytes() <= limit and time.monotonic() < deadline:
                time.sleep(0.01)
            checkpointer._next_reset = 0.0  # every round tries (the back-off is tested above)
            before = checkpointer.state.resets
            checkpointer.checkpoint(cp)
            outcomes.append(checkpointer.state.resets > before)
    finally:
        stop.set()
        for th in threads:
            th.join()
        cp.close()
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM t")).scalar()
    engine.dispose()
    assert sum(outcomes) >= 7, outcomes  # the resets got through the writers
    assert checkpointer.gate.closings >= 8
    assert stored == sum(written)  # nothing a writer committed was lost or refused


def test_the_servers_sqlite_connections_stay_open_with_their_page_caches(tmp_path):
    """The server's engine keeps every connection it opens: after as many requests at once as it has
    connections, the next ones get the same connections back (their page caches warm), none is closed
    on return and none opened anew, and a request beyond them waits for one instead of opening more."""
    import threading

    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from hub.app import create_app
    from hub.schema import upgrade
    from hub.settings import Settings

    url = f"sqlite:///{tmp_path}/pool.db"
    upgrade(url)
    app = create_app(Settings(database_url=url, pool_size=10, secret_key="x" * 32))
    with TestClient(app):  # the lifespan makes the server's engine
        engine = app.state.sessionmaker.kw["bind"]
        opened: list[int] = []
        event.listen(engine, "connect", lambda dbapi, _rec: opened.append(id(dbapi)))
        held = [engine.connect() for _ in range(10)]  # ten requests at once
        for conn in held:
            conn.exec_driver_sql("SELECT count(*) FROM object_versions").scalar()
        first = {id(c.connection.dbapi_connection) for c in held}
        for conn in held:
            conn.close()
        assert len(first) == 10 and engine.pool.checkedin() == 10  # all kept, none closed on return
        n = len(opened)  # what the lifespan had opened already, and these ten
        again = [engine.connect() for _ in range(10)]
        assert {id(c.connection.dbapi_connection) for c in again} == first  # the same connections
        assert len(opened) == n
        waited = threading.Event()

        def eleventh() -> None:
            with engine.connect():
                waited.set()

        th = threading.Thread(target=eleventh)
        th.start()
        time.sleep(0.2)
        assert not waited.is_set() and len(opened) == n  # it waits for a connection, none is opened
        again[0].close()
        th.join(5)
        assert waited.is_set() and len(opened) == n
        for conn in again[1:]:
            conn.close()


MEMORY_PROBE = """
import sqlite3, sys
from hub.db import make_engine
path, budget, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def rss_mb():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) / 1024
engine = make_engine(f"sqlite:///{path}", pool_size=10, sqlite_cache_mb=budget)
held = [engine.connect() for _ in range(connections)]
before = rss_mb()
for conn in held:  # each connection reads the whole table, as requests one after another would
    conn.exec_driver_sql("SELECT sum(length(x)) FROM t").scalar()
print(rss_mb() - before)
"""


def test_the_connections_page_caches_together_stay_within_the_budget(tmp_path):
    """However many of its connections the server has used, SQLite's memory in the process stays within
    HUB_SQLITE_CACHE_MB: a connection opened late takes its cache out of the same budget (each may
    cache more than a tenth of it, so ten connections each filling theirs would double it)."""
    import subprocess
    import sys

    path = tmp_path / "big.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))
        conn.execute(text("INSERT INTO t VALUES (randomblob(4000))"), [{}] * 15_000)  # about 60 MB
    engine.dispose()

    def grown(budget: int, connections: int) -> float:
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(path), str(budget), str(connections)],
            capture_output=True, text=True, timeout=120, env={**os.environ},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return float(out.stdout.strip())

    one = grown(16, 1)  # a single connection fills its cache: a quarter of the budget, about 4 MB
    ten = grown(16, 10)  # ten connections, each able to cache 4 MB: 40 MB without the process's limit
    assert ten <= 16 + 8, (one, ten)  # the budget, and some slack for SQLite's other allocations
    assert ten >= one


READ_WHILE_WRITING = """
import sys
from hub.db import WRITE_OPTION, make_engine, sqlite_memory_used
engine = make_engine(f"sqlite:///{sys.argv[1]}", pool_size=10, sqlite_cache_mb=64)  # writer 16 MB, reader 4
reader = engine.connect()
writer = engine.connect().execution_options(**{WRITE_OPTION: True})
base = sqlite_memory_used()
peak = 0
for start in range(0, 15_000, 1_500):  # a long read in pages of 6 MB, a write between two pages
    with reader.begin():
        page = "SELECT sum(length(x)) FROM t WHERE rowid > ? AND rowid <= ?"
        reader.exec_driver_sql(page, (start, start + 1_500)).scalar()
        peak = max(peak, sqlite_memory_used() - base)
    with writer.begin():
        writer.exec_driver_sql("UPDATE t SET x = x WHERE rowid = ?", (start + 1,))
with writer.begin():  # a writer reading as much keeps more of it
    writer.exec_driver_sql("SELECT sum(length(x)) FROM t").scalar()
    wrote = sqlite_memory_used() - base
print(peak / 2**20, wrote / 2**20)
"""


def test_a_long_read_between_writes_holds_a_readers_cache_and_a_writer_more(tmp_path):
    """A read transaction caches a sixteenth of HUB_SQLITE_CACHE_MB, a write transaction a quarter: a
    long read in short transactions with writes between them (a device list built under load) never
    holds more than the reader's cache, while a writer keeps its envelope's pages."""
    import subprocess
    import sys

    path = tmp_path / "pages.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))
        conn.execute(text("INSERT INTO t VALUES (randomblob(4000))"), [{}] * 15_000)  # a page a row
    engine.dispose()
    out = subprocess.run(
        [sys.executable, "-c", READ_WHILE_WRITING, str(path)],
        capture_output=True, text=True, timeout=120, env={**os.environ},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    read, wrote = map(float, out.stdout.split())
    assert read <= 4 + 2, (read, wrote)  # the reader's 4 MB, and SQLite's other allocations
    assert wrote >= 12, (read, wrote)  # up to the writer's 16 MB
