"""Environment mistakes (database URL, driver, server, files, settings) turned into one line of advice.

The `hub` command translates every exception through `explain` (see `HubGroup` in hub/cli/app.py), so a
wrong HUB_DATABASE_URL or a missing folder ends in one actionable line, not a traceback; `--debug` shows
the traceback instead.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

URL_FORMS = "sqlite:///path/to/hub.db or postgresql+psycopg://user:password@host:5432/database"


class EnvironmentProblem(Exception):
    """A mistake in how the hub is run (not in its input): the message says what to change."""


def normalise_database_url(value: str) -> str:
    """The URL the hub connects with: SQLite or PostgreSQL through psycopg 3; anything else is refused.

    `postgresql://` and `postgres://` mean psycopg 3, the only PostgreSQL driver the hub installs.
    """
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"{value!r} is not a database URL; use {URL_FORMS}") from None
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise ValueError(f"the PostgreSQL driver {driver!r} is not supported; use postgresql+psycopg://")
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return value
    raise ValueError(f"{backend!r} databases are not supported; use {URL_FORMS}")


def safe_url(value: str) -> str:
    """A database URL with its password hidden, for messages."""
    try:
        return make_url(value).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def sqlite_file(value: str) -> Path | None:
    """The file a SQLite URL names (None for PostgreSQL and in-memory databases)."""
    url = make_url(value)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def require_existing_database(value: str) -> None:
    """Refuse to open a SQLite file that is not there, instead of creating an empty one."""
    path = sqlite_file(value)
    if path is not None and not path.exists():
        raise EnvironmentProblem(
            f"no hub database at {path.resolve()} (HUB_DATABASE_URL={safe_url(value)}): run `hub db "
            "upgrade` (or `hub demo`) to create it, or point HUB_DATABASE_URL at an existing one"
        )


def _where(url: URL) -> str:
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def explain(exc: BaseException, database_url: str | None) -> str | None:
    """One line saying what is wrong and what to do, for the exceptions an environment causes."""
    from pydantic import ValidationError

    shown = safe_url(database_url) if database_url else "HUB_DATABASE_URL"
    if isinstance(exc, EnvironmentProblem):
        return str(exc)
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        parts = []
        for e in exc.errors():
            name = "HUB_" + "_".join(str(p) for p in e["loc"]).upper()
            parts.append(f"{name}: {e['msg'].removeprefix('Value error, ')}")
        return "; ".join(parts)
    if isinstance(exc, ModuleNotFoundError) and exc.name in ("psycopg", "psycopg_binary", "psycopg2"):
        return (
            f"HUB_DATABASE_URL ({shown}) is a PostgreSQL URL, but the PostgreSQL driver is not installed: "
            "pip install 'cirt-hub[postgres]' (the Docker image has it)"
        )
    if isinstance(exc, NoSuchModuleError):
        return f"HUB_DATABASE_URL ({shown}) names a database the hub does not support; use {URL_FORMS}"
    if isinstance(exc, DBAPIError):
        return _database_error(exc, database_url, shown)
    if isinstance(exc, FileNotFoundError) and exc.filename and not Path(exc.filename).parent.is_dir():
        return f"{exc.filename}: the folder {Path(exc.filename).parent} does not exist; create it first"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return None


def _database_error(exc: DBAPIError, database_url: str | None, shown: str) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    url = make_url(database_url) if database_url else None
    where = _where(url) if url is not None else "the database server"
    if m := re.search(r'database "([^"]+)" does not exist', text):
        return (
            f"the database {m.group(1)!r} does not exist on the PostgreSQL server at {where}: create it "
            f"(createdb {m.group(1)}) or fix HUB_DATABASE_URL ({shown})"
        )
    if "Connection refused" in text or "could not connect" in text:
        return (
            f"cannot reach PostgreSQL at {where} (connection refused): is the server running there? "
            f"Check HUB_DATABASE_URL ({shown})"
        )
    if "failed to resolve host" in text or "Name or service not known" in text:
        return f"cannot resolve the database host in HUB_DATABASE_URL ({shown})"
    if "password authentication failed" in text or "authentication failed" in text:
        return f"PostgreSQL at {where} refused the user name or password in HUB_DATABASE_URL ({shown})"
    if "timeout" in text.lower() and url is not None and url.get_backend_name() != "sqlite":
        return f"PostgreSQL at {where} did not answer in time; check HUB_DATABASE_URL ({shown})"
    if "unable to open database file" in text:
        path = sqlite_file(database_url) if database_url else None
        return (
            f"cannot open the SQLite database {path.resolve() if path else shown}: does its folder exist, "
            "and may this user write there?"
        )
    if "no such table" in text or "UndefinedTable" in type(exc.orig).__name__ or "does not exist" in text:
        return f"the database {shown} has no hub schema or an old one: run `hub db upgrade`"
    if "database is locked" in text:
        return f"the SQLite database {shown} is locked by another process; retry shortly"
    first = text.strip().splitlines()[0] if text.strip() else type(exc.orig).__name__
    return f"database error on {shown}: {first}"
