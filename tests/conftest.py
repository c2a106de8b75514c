"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL, on schemas made by Alembic."""

from __future__ import annotations

import os
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

# before hub.db is imported: a SQLite transaction that reads then writes without begin_write fails
# loudly in every test (and in the CLI processes tests start), not once in a while under contention
os.environ["HUB_STRICT_SQLITE_WRITES"] = "1"

from hub.db import WRITE_OPTION, make_engine
from hub.schema import upgrade
from hub.settings import Settings

# No per-example deadline for any property test: what they prove is a property, never a speed, and
# hypothesis's default of 200 ms fails a test as "unreliable timings" when one example of hundreds is
# descheduled for longer than that on a loaded machine (two xdist workers and their servers on two
# cores). A test's own @settings start from this profile; most already said deadline=None.
hypothesis_settings.register_profile("hub", deadline=None)
hypothesis_settings.load_profile("hub")

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        action="store",
        default="both",
        choices=("sqlite", "postgresql", "both"),
        help="databases the storage tests run on (default: both)",
    )


def _databases(config: pytest.Config) -> list[str]:
    choice = config.getoption("--db")
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_kind" in metafunc.fixturenames:
        metafunc.parametrize("db_kind", _databases(metafunc.config), scope="session")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def pg_admin_url() -> str:
    """The PostgreSQL server the suite uses (HUB_TEST_POSTGRES_URL)."""
    return os.environ.get("HUB_TEST_POSTGRES_URL", DEFAULT_PG)


def _pg_name(name: str) -> str:
    """A database name, prefixed by HUB_TEST_DB_PREFIX so two checkouts' suites can share one server."""
    return os.environ.get("HUB_TEST_DB_PREFIX", "") + name


def fresh_database(kind: str, name: str, tmp: Path) -> str:
    """A new, empty database of the given kind, returned as a URL; PostgreSQL unreachable fails loudly."""
    if kind == "sqlite":
        path = tmp / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    name = _pg_name(name)
    admin_url = pg_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any connection failure: say what to do
        pytest.fail(
            f"PostgreSQL at {admin_url} is not reachable ({exc.__class__.__name__}: {exc}). "
            "The suite runs every storage test on PostgreSQL too: start it, or set "
            "HUB_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    finally:
        admin.dispose()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def drop_database(kind: str, name: str) -> None:
    """Drop a PostgreSQL database made by `fresh_database` (SQLite files go with the temp dir)."""
    if kind != "postgresql":
        return
    name = _pg_name(name)
    admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def db_url(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this worker and kind (schema from `alembic upgrade head`)."""
    name = f"hub_test_{_worker()}"
    url = fresh_database(db_kind, name, tmp_path_factory.mktemp(db_kind))
    upgrade(url)
    yield url
    drop_database(db_kind, name)


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test.

    It is a write transaction from the start (SQLite: BEGIN IMMEDIATE): every session of the test runs
    in it as a savepoint, so the read-then-write guard (HUB_STRICT_SQLITE_WRITES) has nothing to say.
    """
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        trans = conn.begin()
        try:
            yield conn
        finally:
            trans.rollback()


@pytest.fixture
def sm(connection: Connection) -> sessionmaker:
    """Sessions joined to the test's transaction: their commits become savepoints."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
    )


@pytest.fixture
def session(sm: sessionmaker) -> Iterator[Session]:
    with sm() as s:
        yield s


@pytest.fixture
def settings() -> Settings:
    return Settings(
        database_url="sqlite://",
        secret_key="test-secret",
        max_page_size=1000,
        max_content_length=2 * 1024 * 1024,
    )


@pytest.fixture
def app(settings: Settings, sm: sessionmaker) -> Any:
    from hub.app import create_app

    return create_app(settings, sessionmaker=sm)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://hub.test", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def world(sm: sessionmaker) -> Any:
    """The demo trust groups loaded, with a key per organisation."""
    from tests.factories import load_world

    return load_world(sm)


@pytest.fixture
def clear_of_midnight() -> None:
    """For a test that names today's date (UTC) while the hub dates what it stores, or that compares per-day
    counts with the hub's: it starts at least a minute before midnight, waiting out the day's last minute
    if need be, so that the test and the hub see the same day from its first line to its last."""
    left = 86_400 - time.time() % 86_400
    if left < 60:
        time.sleep(left + 1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout; tests that need it skip with a reason where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (it sits beside the checkout in CI)")
    return SHARED_DATA


# ------------------------------------------------------------------ live servers (real clients)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The hub served by uvicorn on 127.0.0.1 in a thread, on its own migrated database."""

    def __init__(self, url: str, settings: Settings):
        import uvicorn

        from hub.app import create_app

        self.db_url = url
        self.settings = settings
        # the socket is bound here and handed to uvicorn, rather than a port picked by free_port() and
        # bound once the app is made and its lifespan has run: in between, another process on the machine
        # (the other xdist worker starting servers of its own) could be given the same port
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own bind does
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the hub did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()  # uvicorn closes it on shutdown; this is for a server that never started


@pytest.fixture(scope="module")
def live_overrides() -> dict[str, Any]:
    """Settings a module's live hub takes besides the defaults below (a module overrides this fixture)."""
    return {}


@pytest.fixture(scope="module")
def live(
    db_kind: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    live_overrides: dict[str, Any],
) -> Iterator[Any]:
    """A running hub with the demo world loaded, on a database of its own for this module."""
    from hub.db import make_sessionmaker
    from tests.factories import load_world

    # a stable name (str hashes differ per process), dropped again at teardown
    name = f"hub_live_{_worker()}_{zlib.crc32(request.module.__name__.encode()) % 10**8}"
    url = fresh_database(db_kind, name, tmp_path_factory.mktemp("live"))
    upgrade(url)
    eng = make_engine(url)
    world = load_world(make_sessionmaker(eng))
    eng.dispose()
    # every client of a module's live hub is 127.0.0.1: the per-address throttle on failed keys (tested on
    # its own in tests/trust/test_auth.py) would otherwise turn one test's expected 401s into another's 429s
    live_settings = Settings(
        database_url=url, secret_key="live-secret", max_page_size=1000, auth_failure_limit=10_000,
        **live_overrides,
    )  # fmt: skip
    server = LiveServer(url, live_settings).start()
    world.base = server.base
    world.server = server
    try:
        yield world
    finally:
        server.stop()
        drop_database(db_kind, name)
