"""Alembic environment: the hub's metadata, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import hub.console.models
import hub.store.models
import hub.store.tables
import hub.sync.models
import hub.sync.notify_models
import hub.trust.constituency_models
import hub.trust.models  # noqa: F401
from hub.db import Base

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        # SQLite needs batch mode to alter tables; it is harmless on PostgreSQL
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
