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
