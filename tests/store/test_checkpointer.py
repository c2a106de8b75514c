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
