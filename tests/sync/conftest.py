"""Fixtures of the sync tests: the `hub` command on the test's database, a feed site on loopback."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.conftest import free_port


@pytest.fixture
def cli(sm, world, db_url, monkeypatch):
    """Run `hub ...` against this test's database, with the test world loaded."""
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)  # the CLI refuses a missing database file
    monkeypatch.setattr("hub.cli.make_sessionmaker", lambda _engine: sm)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # pragma: no cover - client hang-ups are noise here
        pass


@pytest.fixture
def web(tmp_path):
    """A static file server on 127.0.0.1 standing in for a CIRT's feed site: (folder, base URL)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = _QuietServer(("127.0.0.1", free_port()), handler)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
