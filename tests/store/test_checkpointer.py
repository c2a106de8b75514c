"""The server's SQLite checkpointer moves the WAL into the database file without a request doing it."""

from __future__ import annotations

import os
import time

from sqlalchemy import text

from hub.db import SqliteCheckpointer, make_engine


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

    # a reader holding an old snapshot: the WAL cannot be reset, and the checkpoint gives up in time
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
    checkpointer.checkpoint(cp)  # at once again: no second wait, writers are not stalled round after round
    assert state.reset_failures == 1
    old.execute("COMMIT")
    old.close()
    time.sleep(0.05)  # the back-off after one failure (two rounds) has passed

    # readers that each hold a snapshot briefly, and a writer, while the checkpointer runs its rounds
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
    """HUB_SQLITE_CACHE_MB is the total: each connection of the pool gets its share, whatever the pool."""
    from hub.app import create_app
    from hub.db import sqlite_pool
    from hub.settings import Settings

    for pool_size, budget in ((10, 256), (2, 64), (1, 8)):
        engine = make_engine(
            f"sqlite:///{tmp_path}/c{pool_size}.db", pool_size=pool_size, sqlite_cache_mb=budget
        )
        try:
            with engine.connect() as conn:
                cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
                limit = conn.exec_driver_sql("PRAGMA journal_size_limit").scalar()
            pooled, overflow = sqlite_pool(pool_size)
            assert engine.pool.size() == pooled
            assert cache < 0 and -cache * (pooled + overflow) <= max(
                budget * 1024, 2048 * (pooled + overflow)
            )
            assert -cache * (pooled + overflow) >= budget * 1024 * 0.9 or -cache == 2048
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
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -(100 * 1024 // 10)
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
