"""Files the CLI writes with secrets in them are its owner's only."""

from __future__ import annotations

import json
import os
import stat

from typer.testing import CliRunner

from hub.cli import app
from tests.conftest import drop_database, fresh_database


def test_demo_keys_json_is_created_owner_only(db_kind, tmp_path, monkeypatch, request):
    name = f"hub_test_keysfile_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = fresh_database(db_kind, name, tmp_path)
    request.addfinalizer(lambda: drop_database(db_kind, name))
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    old = os.umask(0o022)  # the usual umask, which would make a plain write world-readable
    try:
        fresh = tmp_path / "keys.json"
        r = CliRunner().invoke(app, ["demo", "--no-serve", "--keys-json", str(fresh)])
        assert r.exit_code == 0, r.output
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
        assert json.loads(fresh.read_text())["organisations"]["hub-ops"]
        # a file already there with wide rights is replaced, not written into
        there = tmp_path / "there.json"
        there.write_text("{}")
        there.chmod(0o644)
        r = CliRunner().invoke(app, ["demo", "--no-serve", "--keys-json", str(there)])
        assert r.exit_code == 0, r.output
        assert stat.S_IMODE(there.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    finally:
        os.umask(old)
