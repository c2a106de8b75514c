"""`hub trust`: trust groups, organisations and memberships from configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, console
from hub.db import begin_write
from hub.errors import ConfigError, HubError
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.trust.schemas import IssuedKey

trust_app = typer.Typer(help="Trust groups, organisations and memberships.", no_args_is_help=True)
app.add_typer(trust_app, name="trust")


def _load(s: Settings, path: Path, *, update: bool = False) -> list[IssuedKey]:
    """Create what the file declares and the database lacks; with `update`, also bring what exists to
    the file (the plan and audit of `hub config apply`). Prints the steps taken."""
    from hub.trust.reconcile import apply, missing_only, plan
    from hub.trust.service import read_config

    try:
        cfg = read_config(path)
        sm = _sessions(s.database_url)
        with sm() as session, session.begin():
            begin_write(session)
            full = plan(session, cfg)
            the_plan = full if update else missing_only(full)
            for ch in the_plan.changes:
                console.print(ch.line(), highlight=False, markup=False, soft_wrap=True)
            issued = apply(session, cfg, the_plan, update=update)
    except ConfigError as exc:
        _fail(str(exc))
    except HubError as exc:
        _fail(exc.description or exc.title)
    kept = len(full.changes) - len(the_plan.changes)
    if kept:
        console.print(f"{kept} existing things differ from the file and were left as they are (changed "
                      "remotely, perhaps); `hub config apply FILE` shows them, --update applies them.",
                      highlight=False)  # fmt: skip
    return issued


@trust_app.command("load")
def trust_load(
    path: Path = typer.Argument(..., help="trust-groups YAML"),
    keys_file: Path | None = typer.Option(
        None,
        "--keys-file",
        help="append the API keys created now to this file (mode 0600) instead of printing them",
    ),
    update: bool = typer.Option(
        False,
        "--update",
        help="also change, remove and archive what exists to match the file, audited (as `hub config "
        "apply --yes`); without it only what is missing is created",
    ),
) -> None:
    """Create the organisations, groups, memberships and collections of a YAML file that are missing."""
    s = _settings()
    issued = _load(s, path, update=update)
    if keys_file is None:
        _print_keys(issued)
        return
    _append_keys(keys_file, issued)
    console.print(f"{len(issued)} new API keys written to {keys_file}", highlight=False)


def _append_keys(path: Path, issued: list[IssuedKey]) -> None:
    """Append `org/account key` lines to a file only its owner may read (a deployment's bootstrap)."""
    if not issued:
        return  # a re-run creates no keys: the file (and the keys already handed out) stays as it is
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # also when the file was there before with wider rights
        for k in issued:
            out.write(f"{k.organisation}/{k.account} {k.key}\n")


def _print_keys(issued: list[IssuedKey]) -> None:
    if not issued:
        console.print("No new API keys (every account already has one; `hub key create` issues more).")
        return
    console.print("[bold]API keys created now[/] (shown once; only their hashes are stored):", markup=True)
    width = max(len(f"{k.organisation}/{k.account}") for k in issued)
    for k in issued:
        console.print(
            f"  {k.organisation + '/' + k.account:<{width}}  {k.key}", soft_wrap=True, highlight=False
        )
