"""Engine, session factory and the declarative base; one session (one transaction) per request or job."""

from __future__ import annotations

import os
import sqlite3
import threading
from functools import partial
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


WRITE_OPTION = "hub_write"

#: Raise `ReadThenWrite` when a deferred SQLite transaction writes after it has read (the test suite
#: sets it). Such a transaction cannot take the write lock once another connection has committed since
#: its first read: SQLite answers "database is locked" at once, whatever busy_timeout says, and the
#: request fails with a 503. Off in production, where the write is merely at risk; the test suite turns
#: it on with HUB_STRICT_SQLITE_WRITES=1, which the CLI processes it starts inherit.
STRICT_WRITES = os.environ.get("HUB_STRICT_SQLITE_WRITES") == "1"


class ReadThenWrite(RuntimeError):
    """A deferred SQLite transaction wrote after reading: it should have called `begin_write` first."""


def begin_write(session: Any) -> None:
    """Mark the session's coming transaction as a writer (SQLite: BEGIN IMMEDIATE); call it first."""
    session.connection(execution_options={WRITE_OPTION: True})


class Base(DeclarativeBase):
    """Declarative base of every hub table."""

    metadata = MetaData(naming_convention=NAMING)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, autocheckpoint: int = 50_000) -> None:
    # take transaction control from pysqlite (SQLAlchemy's documented recipe) so that BEGIN and
    # SAVEPOINT behave as on PostgreSQL; `_sqlite_begin` then opens each transaction
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    # WAL lets readers run beside one writer; NORMAL sync is durable in WAL mode across app crashes
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # checkpoint the WAL every ~200 MB rather than every 4 MB, with a 128 MB page cache: each
    # envelope touches ~1,000 random pages of the id index, and frequent checkpoints wrote them back
    # again and again inside requests (measured: 1M-object ingest 10.6k/s before, ~20k/s after)
    cur.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
    cur.execute("PRAGMA cache_size=-131072")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # a write transaction takes the write lock up front (IMMEDIATE), so two writers queue on
    # busy_timeout instead of one failing with "database is locked" when it upgrades from a read;
    # reads stay deferred so that they never wait for a writer in WAL mode
    write = conn.get_execution_options().get(WRITE_OPTION)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
    conn.info["hub_txn"] = "write" if write else "fresh"


_DML = ("insert", "update", "delete", "replace")


def _sqlite_guard(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    # the transaction's state: "write" (IMMEDIATE), "fresh" (deferred, nothing run yet), "read"
    if not STRICT_WRITES:
        return
    state = conn.info.get("hub_txn")
    if state is None or state == "write":
        return
    head = statement.lstrip()[:7].lower()
    if head.startswith(_DML):
        if state == "read":
            raise ReadThenWrite(f"a deferred transaction wrote after reading: {statement[:120]}")
        conn.info["hub_txn"] = "write"  # a first statement that writes takes the lock, waiting if busy
    elif state == "fresh" and head.startswith(("select", "with")):
        conn.info["hub_txn"] = "read"


def _sqlite_end(conn: Any) -> None:
    conn.info.pop("hub_txn", None)


def make_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, background_checkpoints: bool = False
) -> Engine:
    """Create an engine for SQLite (WAL, foreign keys on) or PostgreSQL (psycopg 3).

    `background_checkpoints`: a `SqliteCheckpointer` runs beside this engine (the server does), so its
    connections checkpoint only as a safety net, at ~800 MB of WAL.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
        autocheckpoint = 200_000 if background_checkpoints else 50_000
        event.listen(engine, "connect", partial(_sqlite_pragmas, autocheckpoint=autocheckpoint))
        event.listen(engine, "begin", _sqlite_begin)
        if STRICT_WRITES:  # nothing on the statement path of a production engine
            event.listen(engine, "before_cursor_execute", _sqlite_guard)
            event.listen(engine, "commit", _sqlite_end)
            event.listen(engine, "rollback", _sqlite_end)
        return engine
    # prepare_threshold=None: psycopg would otherwise prepare statements after five runs, and PostgreSQL
    # then plans them generically; for our long IN lists and keyset predicates a generic plan can be a
    # sequential scan, measured at 100x slower in the import benchmark
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # JIT compiles a page's query for 100+ ms when the planner thinks it costly; OLTP never gains
        connect_args={"prepare_threshold": None, "options": "-c jit=off"},
    )


def make_sessionmaker(bind: Any) -> sessionmaker[Session]:
    """A session factory; sessions do not expire on commit so responses can be built after it."""
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=False)


class SqliteCheckpointer:
    """Checkpoints a SQLite database's WAL from a thread of its own, every `interval` seconds.

    SQLite otherwise checkpoints inside whichever commit crosses the threshold, so one request in a
    dozen paid for writing back the pages of the others. PASSIVE never blocks readers or the writer;
    sqlite3 releases the GIL while it works, so on a two-core machine it runs beside the requests
    (measured over HTTP at 1M objects: 21.5k objects/s with a 2 s interval, 16.9k with 0.5 s, 17.9k with
    SQLite's own checkpoints).
    """

    def __init__(self, path: str, interval: float = 2.0):
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> SqliteCheckpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            while not self._stop.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    continue  # busy or locked: the next round will do it (the safety net stays)
        finally:
            conn.close()
