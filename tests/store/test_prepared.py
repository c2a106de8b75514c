"""PostgreSQL: a search's value look-ups run as prepared statements, nothing else does, and an operator
behind a pooler that cannot keep them turns that off (HUB_DATABASE_PREPARED_STATEMENTS)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, event, text

from hub.db import _execute, make_engine
from hub.lookup.search import search
from tests.lookup.helpers import pattern_indicator, principal_of, sco
from tests.taxii_helpers import store


def test_a_search_prepares_its_value_lookups_and_nothing_else(
    db_kind: str, client: Any, world: Any, sm: Any, connection: Connection
) -> None:
    if db_kind != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    store(
        client,
        world,
        [sco("ipv4-addr", "203.0.113.7"), pattern_indicator("[ipv4-addr:value = '203.0.113.7']")],
    )
    prepared = "SELECT statement FROM pg_prepared_statements"
    before = set(connection.execute(text(prepared)).scalars())
    with sm() as s, s.begin():
        found = search(s, principal_of(sm, world, "cert-c"), "203.0.113.7")
    assert len(found.hits) == 2 and found.hits[0].reporters == 1
    new = set(connection.execute(text(prepared)).scalars()) - before
    # the index look-up and the reporters count, both on object_values; the trust reads and the
    # TAXII writes of this test were planned each time
    assert len(new) == 2 and all("object_values" in sql for sql in new), new


def test_the_operator_turns_prepared_statements_off(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("prepared statements are PostgreSQL's")
    for raw, on in (("", True), ("true", True), ("off", False), ("0", False), ("No", False)):
        monkeypatch.setenv("HUB_DATABASE_PREPARED_STATEMENTS", raw)
        engine = make_engine(db_url)
        try:
            assert event.contains(engine, "do_execute", _execute) is on
        finally:
            engine.dispose()
    monkeypatch.setenv("HUB_DATABASE_PREPARED_STATEMENTS", "true")
    engine = make_engine(db_url, prepared_statements=False)  # the server's own setting wins
    assert not event.contains(engine, "do_execute", _execute)
    engine.dispose()
    monkeypatch.setenv("HUB_DATABASE_PREPARED_STATEMENTS", "sometimes")
    with pytest.raises(ValueError, match="HUB_DATABASE_PREPARED_STATEMENTS must be true or false"):
        make_engine(db_url)


def test_a_command_refuses_a_setting_that_is_no_boolean_in_one_line(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker and the CLI read the setting as the server does: a bad value stops the command at
    once, naming the setting, before the database is opened, without a traceback."""
    from typer.testing import CliRunner

    from hub.cli import app

    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setenv("HUB_DATABASE_PREPARED_STATEMENTS", "sometimes")
    r = CliRunner().invoke(app, ["db", "recount"])
    assert r.exit_code != 0
    assert "HUB_DATABASE_PREPARED_STATEMENTS" in r.output and "valid boolean" in r.output
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)  # an exit, not a crash
