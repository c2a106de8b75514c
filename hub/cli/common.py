"""What every `hub` command shares: the consoles, settings, database sessions and the error exit."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from hub.settings import Settings

# soft wrap: lines are never cut at 80 columns when the output is a pipe or a file (ids and URLs stay whole)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _settings(**overrides: object) -> Settings:
    s = Settings()
    return s.model_copy(update={k: v for k, v in overrides.items() if v is not None})


_engines: list[Engine] = []


def _sessions(url: str):  # type: ignore[no-untyped-def]
    """A session factory on a fresh engine, disposed when the command ends.

    Only `hub demo` and `hub db upgrade` create a database: anywhere else a missing SQLite file is an
    error, and a database without the current schema is refused before the command starts.
    """
    # looked up on the package at call time: `hub.cli.make_sessionmaker` is the seam tests replace to
    # run commands inside their own transaction
    import hub.cli
    from hub.environment import require_existing_database
    from hub.schema import SchemaOutOfDate, check_schema

    require_existing_database(url)
    engine = hub.cli.make_engine(url)
    _engines.append(engine)
    try:
        check_schema(engine)
    except SchemaOutOfDate as exc:
        _fail(str(exc))
    return hub.cli.make_sessionmaker(engine)


def _dispose() -> None:
    while _engines:
        _engines.pop().dispose()


def _fail(message: str) -> NoReturn:
    # escaped: messages quote user input and file contents, which may hold [brackets]
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


def _safe_url(s: Settings) -> str:
    return make_url(s.database_url).render_as_string(hide_password=True)


def _when(us: int | None) -> str:
    from hub.stix import format_us

    return format_us(us)[:19] + "Z" if us else "-"
