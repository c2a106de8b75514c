"""SQLite write transactions: why every path that reads then writes must call `begin_write` first.

In WAL mode a deferred transaction that has read holds a snapshot; once another connection commits, the
snapshot is stale and SQLite refuses the upgrade to a writer at once ("database is locked"), whatever
busy_timeout says. The request then fails with a 503 (a TAXII DELETE did, once, in CI, beside the audit
writer's commit). The suite turns on a guard that makes any such transaction fail loudly every time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import hub.db
from hub.db import ReadThenWrite, begin_write, make_engine, make_sessionmaker


@pytest.fixture
def sqlite_sm(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield make_sessionmaker(engine)
    engine.dispose()


def test_a_reader_upgraded_after_another_commit_is_refused_at_once(
    sqlite_sm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.db, "STRICT_WRITES", False)  # the behaviour the guard exists for
    with sqlite_sm() as reader, reader.begin():
        reader.execute(text("SELECT count(*) FROM t")).scalar()
        with sqlite_sm() as other, other.begin():
            begin_write(other)
            other.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(OperationalError, match="locked"):
            reader.execute(text("INSERT INTO t VALUES (2)"))


def test_the_guard_refuses_a_write_after_a_read_in_a_deferred_transaction(sqlite_sm) -> None:
    assert hub.db.STRICT_WRITES  # tests/conftest.py sets HUB_STRICT_SQLITE_WRITES=1
    with sqlite_sm() as s, s.begin():
        s.execute(text("SELECT count(*) FROM t")).scalar()
        with pytest.raises(ReadThenWrite, match="wrote after reading"):
            s.execute(text("INSERT INTO t VALUES (1)"))


def test_begin_write_and_a_write_first_transaction_pass_the_guard(sqlite_sm) -> None:
    with sqlite_sm() as s, s.begin():
        begin_write(s)
        s.execute(text("SELECT count(*) FROM t")).scalar()
        s.execute(text("INSERT INTO t VALUES (1)"))
    with sqlite_sm() as s, s.begin():  # the first statement writes: it takes the lock, waiting if busy
        s.execute(text("INSERT INTO t VALUES (2)"))
        s.execute(text("SELECT count(*) FROM t")).scalar()
        s.execute(text("INSERT INTO t VALUES (3)"))
    with sqlite_sm() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 3
