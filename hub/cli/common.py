"""What every `hub` command shares: the consoles, settings, database sessions and the error exit."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.segment import Segment
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from hub.settings import Settings

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional embeddings, overrides and
# isolates (which reorder what a terminal shows, "Trojan Source"): a terminal acts on them, so text from a
# server or a database must not carry them there (fake styling, OSC 8 hyperlinks, screen clears)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """The text without the control characters a terminal would act on."""
    return _CONTROLS.sub("", text)


class SafeConsole(Console):
    """A rich console for text that comes from a hub, a file or a database: markup is off unless a call
    asks for it (with the data in it escaped), and every piece of text it renders loses its control
    characters; only rich's own control segments (its styles are added after this) reach the terminal."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        super().__init__(**kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        """Rich's rendering, with control characters removed from each text segment."""
        for seg in super().render(renderable, options):
            if seg.control is None and _CONTROLS.search(seg.text):
                yield Segment(clean(seg.text), seg.style)
            else:
                yield seg


# soft wrap: lines are never cut at 80 columns when the output is a pipe or a file (ids and URLs stay whole)
console = SafeConsole(soft_wrap=True)
err = SafeConsole(stderr=True, soft_wrap=True)


def _settings(**overrides: object) -> Settings:
    from hub.lookup.benign import OperatorListError, use_operator_lists

    s = Settings()
    try:  # imports and syncs apply the operator's known-benign lists as the server does
        use_operator_lists(s.benign_lists.split(","))
    except OperatorListError as exc:
        _fail(f"HUB_BENIGN_LISTS: {exc}")
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
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False, markup=True)
    raise typer.Exit(2)


def write_secret_file(path: Path, text: str) -> None:
    """Write a file holding secrets, readable by its owner only: a new file made 0600 by os.open (never
    wider for a moment, whatever the umask), then renamed over the path, so a file that was there with wider
    rights is replaced rather than written into."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _safe_url(s: Settings) -> str:
    return make_url(s.database_url).render_as_string(hide_password=True)


def _when(us: int | None) -> str:
    from hub.vocab.time import format_us

    return format_us(us)[:19] + "Z" if us else "-"
