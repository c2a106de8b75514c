"""`hub config apply`: reconcile the database with a trust YAML, showing the plan first."""

from __future__ import annotations

from pathlib import Path

import typer

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, console
from hub.cli.trust import _print_keys
from hub.db import begin_write
from hub.errors import ConfigError, HubError

config_app = typer.Typer(help="Configuration as code: plan and apply a trust YAML.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("apply")
def config_apply(
    path: Path = typer.Argument(..., help="trust-groups YAML"),
    yes: bool = typer.Option(False, "--yes", help="apply the plan (without it, only print it)"),
) -> None:
    """Print what the file would create, change, remove or archive; with --yes, do it (idempotent)."""
    from hub.trust.reconcile import apply, plan
    from hub.trust.service import read_config

    try:
        cfg = read_config(path)
    except ConfigError as exc:
        _fail(str(exc))
    sm = _sessions(_settings().database_url)
    try:
        with sm() as session, session.begin():
            begin_write(session)
            the_plan = plan(session, cfg)
            for ch in the_plan.changes:
                console.print(ch.line(), highlight=False, markup=False, soft_wrap=True)
            if the_plan.left_alone:
                console.print(f"not in the file, left as they are: {', '.join(the_plan.left_alone)}",
                              highlight=False, markup=False, soft_wrap=True)  # fmt: skip
            if not the_plan.changes:
                console.print("Nothing to change: the database matches the file.")
                return
            n = len(the_plan.changes)
            if not yes:
                console.print(f"Plan: {n} changes. Nothing was changed; run again with --yes to apply.")
                return
            issued = apply(session, cfg, the_plan)
    except HubError as exc:
        _fail(exc.description or exc.title)
    console.print(f"Applied {n} changes.")
    if issued:
        _print_keys(issued)
