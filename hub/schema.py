"""Schema management through Alembic: upgrade, and the start-up check for an out-of-date schema."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def migrations_dir() -> Path:
    """The Alembic script folder, installed inside the package as `hub.migrations` (see pyproject.toml)."""
    # the folder is a plain directory in a wheel and in an editable install alike, so as_file returns it
    # as it is (nothing is extracted or cleaned up)
    with as_file(files("hub.migrations")) as path:
        return Path(path)


class SchemaOutOfDate(RuntimeError):
    """The database schema is not at the head revision; the message says what to run."""


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at migrations/ and the given database URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the schema (the only way a schema is made or changed)."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest migration's revision id."""
    return ScriptDirectory(str(migrations_dir())).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: no schema)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Refuse to run on a schema that is not at head, saying what to run."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "has no hub schema" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(
            f"The database {engine.url.render_as_string(hide_password=True)} {state}; this hub needs "
            f"revision {head}. Run `hub db upgrade` (with the same HUB_DATABASE_URL) and start again."
        )
