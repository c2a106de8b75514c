"""Environment mistakes end in one actionable line from the `hub` command, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.environment import EnvironmentProblem, normalise_database_url
from tests.conftest import free_port, pg_admin_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """Run `hub ...` in an empty folder; returns (exit code, stderr lines, result)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)

    def run(*args: str, url: str | None = None):
        if url is not None:
            monkeypatch.setenv("HUB_DATABASE_URL", url)
        r = CliRunner().invoke(app, list(args))
        return r.exit_code, r.stderr.strip().splitlines(), r

    return run


def one_line(code: int, lines: list[str]) -> str:
    assert code == 2
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    assert lines[0].startswith("error: ")
    return lines[0]


def pg_url(port: int | None = None, database: str = "test") -> str:
    base, _, _ = pg_admin_url().rpartition("/")
    if port is not None:
        base = base.rsplit(":", 1)[0] + f":{port}"
    return f"{base}/{database}"


def test_postgresql_url_without_the_driver_says_which_extra_to_install(hub, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as in an install without the postgres extra
    line = one_line(*hub("key", "list", "--org", "x", url=pg_url())[:2])
    assert "PostgreSQL driver is not installed" in line and "cirt-hub[postgres]" in line


def test_a_database_that_does_not_exist_is_named_with_how_to_create_it(hub):
    line = one_line(*hub("db", "upgrade", url=pg_url(database="i13_no_such_database"))[:2])
    assert "'i13_no_such_database' does not exist" in line and "createdb i13_no_such_database" in line


def test_a_closed_port_says_the_server_is_not_reachable(hub):
    port = free_port()
    line = one_line(*hub("serve", url=pg_url(port=port))[:2])
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}" in line and "HUB_DATABASE_URL" in line


def test_the_password_in_a_url_is_never_printed(hub):
    port = free_port()
    url = pg_url(port=port).replace("://postgres@", "://postgres:s3cret-pw@")
    line = one_line(*hub("key", "list", "--org", "x", url=url)[:2])
    assert "s3cret-pw" not in line and "***" in line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://hub:hub@127.0.0.1/hub", "'mysql' databases are not supported"),
        ("not a url at all", "is not a database URL"),
        ("postgresql+asyncpg://h@127.0.0.1/hub", "driver 'asyncpg' is not supported"),
    ],
)
def test_unsupported_or_malformed_urls_are_refused_before_connecting(hub, url, says):
    line = one_line(*hub("db", "upgrade", url=url)[:2])
    assert line.startswith("error: HUB_DATABASE_URL: ") and says in line
    assert "sqlite:///" in line or "psycopg" in line


def test_plain_postgresql_urls_mean_psycopg3():
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgres://u:p@h:5433/db") == "postgresql+psycopg://u:p@h:5433/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_a_bad_setting_names_the_variable(hub, monkeypatch):
    monkeypatch.setenv("HUB_PORT", "eighty")
    line = one_line(*hub("serve")[:2])
    assert line.startswith("error: HUB_PORT: ")


@pytest.mark.parametrize(
    "args",
    [
        ("key", "list", "--org", "cert-a"),
        ("key", "revoke", "abc"),
        ("serve",),
        ("sync", "list"),
        ("trust", "load", str(ROOT / "config" / "trust-groups.example.yaml")),
        ("export", "--group", "africa", "--collection", "indicators", "-o", "out.json"),
        ("policy", "explain", "--object", "indicator--x", "--export"),
    ],
)
def test_commands_other_than_demo_and_upgrade_never_create_a_database_file(hub, tmp_path, args):
    line = one_line(*hub(*args)[:2])
    assert f"no hub database at {tmp_path / 'hub.db'}" in line and "hub db upgrade" in line
    assert not (tmp_path / "hub.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_db_upgrade_creates_the_database_file(hub, tmp_path):
    code, _lines, r = hub("db", "upgrade")
    assert code == 0, r.output
    assert (tmp_path / "hub.db").exists()
    code, lines, _r = hub("key", "list", "--org", "nobody")  # the database is there: only the org is not
    assert "no hub database" not in " ".join(lines) and "nobody" in " ".join(lines), lines


def test_a_database_without_the_schema_is_refused_with_what_to_run(hub, tmp_path):
    (tmp_path / "hub.db").touch()
    line = one_line(*hub("key", "list", "--org", "x")[:2])
    assert "has no hub schema" in line and "hub db upgrade" in line


def test_export_to_a_missing_folder_is_one_line(hub, tmp_path):
    assert hub("demo", "--no-serve")[0] == 0
    line = one_line(
        *hub("export", "--group", "africa", "--collection", "indicators", "-o", "/missing/d/x.json")[:2]
    )
    assert line == "error: /missing/d/x.json: the folder /missing/d does not exist; create it first"


def test_debug_shows_the_traceback(hub):
    code, _lines, r = hub("--debug", "key", "list", "--org", "x")
    assert code == 1
    assert isinstance(r.exception, EnvironmentProblem)


def test_the_installed_command_prints_one_line_and_exits_2(tmp_path):
    hub_bin = Path(sys.executable).parent / "hub"
    env = {"PATH": "/usr/bin:/bin", "HUB_DATABASE_URL": "sqlite:///hub.db"}
    r = subprocess.run(
        [str(hub_bin), "key", "list", "--org", "x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: no hub database at ")
    assert not (tmp_path / "hub.db").exists()
