"""Alembic is the only way the schema is made: it goes up and down cleanly and matches the models."""

from __future__ import annotations

import os

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import hub.console.models
import hub.store.models
import hub.store.tables
import hub.sync.models
import hub.sync.notify_models
import hub.trust.constituency_models
import hub.trust.models  # noqa: F401
from hub.db import Base, make_engine
from hub.schema import SchemaOutOfDate, alembic_config, check_schema, head_revision, upgrade
from tests.conftest import drop_database, fresh_database


@pytest.fixture
def empty_url(db_kind, tmp_path):
    name = f"hub_test_migrations_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    yield fresh_database(db_kind, name, tmp_path)
    drop_database(db_kind, name)


def test_upgrade_downgrade_upgrade_round_trips(empty_url):
    upgrade(empty_url)
    command.downgrade(alembic_config(empty_url), "base")
    eng = make_engine(empty_url)
    assert set(inspect(eng).get_table_names()) <= {"alembic_version"}
    eng.dispose()
    upgrade(empty_url)
    eng = make_engine(empty_url)
    check_schema(eng)
    eng.dispose()


def test_models_match_the_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_out_of_date_schema_is_refused_with_what_to_run(empty_url):
    eng = make_engine(empty_url)
    with pytest.raises(SchemaOutOfDate, match="hub db upgrade"):
        check_schema(eng)
    eng.dispose()
    assert head_revision()


def test_hub_serve_refuses_an_empty_database(empty_url, monkeypatch):
    from typer.testing import CliRunner

    from hub.cli import app

    monkeypatch.setenv("HUB_DATABASE_URL", empty_url)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "hub db upgrade" in result.output


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    from sqlalchemy import text

    eng = make_engine(f"sqlite:///{tmp_path}/x.db")
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    eng.dispose()


def test_upgrade_generates_a_random_page_token_secret(empty_url):
    from sqlalchemy import text

    secrets = []
    for again in (False, True):
        if again:
            command.downgrade(alembic_config(empty_url), "base")
        upgrade(empty_url)
        eng = make_engine(empty_url)
        with eng.connect() as conn:
            secrets.append(
                conn.execute(text("SELECT value FROM hub_secrets WHERE name = 'page-token'")).scalar()
            )
        eng.dispose()
    assert all(s and len(s) >= 40 for s in secrets)
    assert secrets[0] != secrets[1]


def test_the_ingest_tables_carry_no_foreign_keys_and_sqlite_never_reuses_a_seq(empty_url):
    from sqlalchemy import text

    upgrade(empty_url)
    eng = make_engine(empty_url)
    try:
        insp = inspect(eng)
        assert insp.get_foreign_keys("object_versions") == [] and insp.get_foreign_keys("object_owners") == []
        if empty_url.startswith("sqlite"):
            with eng.connect() as conn:
                found = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'object_versions'"))
                ddl = found.scalar()
            assert "AUTOINCREMENT" in ddl  # a deleted newest version's seq is never handed out again
    finally:
        eng.dispose()


def test_0006_marks_feeds_only_the_operator_could_declare_and_makes_names_unique_per_group(empty_url):
    from sqlalchemy import text

    command.upgrade(alembic_config(empty_url), "0006_feeds-1")
    eng = make_engine(empty_url)
    cols = ("name, direction, format, url, group_slug, collection, tlp, tlp_version, options, username, "
            "password_env, interval_s, enabled, next_run_at_us, failures")  # fmt: skip
    rows = [
        ("site", "pull", "text", "https://feeds.example/l.txt", None, None),  # a coordinator could have
        ("HTTPS", "pull", "text", "HTTPS://feeds.example/l.txt", None, None),
        ("file", "pull", "text", "/srv/feeds/l.txt", None, None),  # only the operator's
        ("creds", "pull", "text", "https://feeds.example/l.txt", "u", "FEED_PW"),
        ("out", "push", "taxii", "https://peer.example/c/", None, None),
    ]
    with eng.begin() as conn:
        for name, direction, fmt, url, user, pw in rows:
            insert = (
                f"INSERT INTO feeds ({cols}) VALUES (:n, :d, :f, :u, 'africa', 'c', 'green', 2, '{{}}', "
                ":user, :pw, 60, true, 0, 0)"
            )
            conn.execute(
                text(insert), {"n": name, "d": direction, "f": fmt, "u": url, "user": user, "pw": pw}
            )
    eng.dispose()
    upgrade(empty_url)
    eng = make_engine(empty_url)
    with eng.connect() as conn:
        by = dict(conn.execute(text("SELECT name, declared_by FROM feeds")).all())
    assert by == {"site": "coordinator", "HTTPS": "coordinator", "file": "operator", "creds": "operator",
                  "out": "operator"}  # fmt: skip
    with eng.begin() as conn:  # another group's feed may be called "site" too
        other = (
            f"INSERT INTO feeds ({cols}) VALUES ('site', 'pull', 'text', 'https://x.example/', 'asia', "
            "'c', 'green', 2, '{}', NULL, NULL, 60, true, 0, 0)"
        )
        conn.execute(text(other))
    eng.dispose()
