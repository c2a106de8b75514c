"""`hub audit rollup|prune`: the operator keeps the audit log bounded, on the database."""

from __future__ import annotations

import time

import typer

from hub.cli.common import _fail, _sessions, _settings, console
from hub.cli.manage import audit_app


def _cutoff_us(days: int) -> int:
    if days < 0:
        _fail("--older-than takes a number of days, 0 or more")
    return (time.time_ns() // 1000) - days * 86_400 * 1_000_000


@audit_app.command("rollup")
def audit_rollup(
    older_than: int = typer.Option(30, "--older-than", help="fold pull events older than this many days"),
) -> None:
    """Fold pull events (every GET writes one) into per-day counts in audit_daily, and delete them."""
    from hub.db import begin_write
    from hub.store.audit import rollup

    sm = _sessions(_settings().database_url)
    with sm() as session, session.begin():
        begin_write(session)
        events, rows = rollup(session, before_us=_cutoff_us(older_than))
    console.print(f"rolled up {events} pull events older than {older_than} days into {rows} daily rows")


@audit_app.command("prune")
def audit_prune(
    older_than: int = typer.Option(
        ..., "--older-than", help="delete audit records older than this many days"
    ),
) -> None:
    """Delete audit events and daily roll-up rows older than the given age, for good."""
    from hub.db import begin_write
    from hub.store.audit import prune

    sm = _sessions(_settings().database_url)
    with sm() as session, session.begin():
        begin_write(session)
        events, days = prune(session, before_us=_cutoff_us(older_than))
    console.print(f"deleted {events} audit events and {days} daily rows older than {older_than} days")
