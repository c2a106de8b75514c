"""`hub db`: the database schema."""

from __future__ import annotations

import typer

from hub.cli.app import app
from hub.cli.common import _safe_url, _settings, console
from hub.schema import upgrade

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Create or upgrade the schema (SQLite or PostgreSQL, from HUB_DATABASE_URL)."""
    s = _settings()
    upgrade(s.database_url, revision)
    console.print(f"schema of {_safe_url(s)} is at {revision}")


@db_app.command("recount")
def db_recount() -> None:
    """Count the stored objects again for the group statistics (after versions were changed by hand)."""
    from hub.cli.common import _sessions
    from hub.db import begin_write
    from hub.store.counts import rebuild

    sm = _sessions(_settings().database_url)
    with sm() as session, session.begin():
        begin_write(session)
        rows = rebuild(session)
    console.print(f"statistics recounted: {rows} count rows", highlight=False, markup=False)
