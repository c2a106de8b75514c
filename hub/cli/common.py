"""What every `hub` command shares: the consoles, settings, database sessions and the error exit."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from hub.settings import Settings

console = Console()
err = Console(stderr=True)


def _settings(**overrides: object) -> Settings:
    s = Settings()
    return s.model_copy(update={k: v for k, v in overrides.items() if v is not None})


_engines: list[Engine] = []


def _sessions(url: str):  # type: ignore[no-untyped-def]
    """A session factory on a fresh engine, disposed when the command ends."""
    # looked up on the package at call time: `hub.cli.make_sessionmaker` is the seam tests replace to
    # run commands inside their own transaction
    import hub.cli

    engine = hub.cli.make_engine(url)
    _engines.append(engine)
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
