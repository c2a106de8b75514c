"""`hub trust`: trust groups, organisations and memberships from configuration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, console
from hub.errors import ConfigError
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.trust.schemas import IssuedKey

trust_app = typer.Typer(help="Trust groups, organisations and memberships.", no_args_is_help=True)
app.add_typer(trust_app, name="trust")


def _load(s: Settings, path: Path) -> list[IssuedKey]:
    from hub.trust.service import apply_config, read_config

    try:
        cfg = read_config(path)
        sm = _sessions(s.database_url)
        with sm() as session, session.begin():
            issued = apply_config(session, cfg)
    except ConfigError as exc:
        _fail(str(exc))
    return issued


@trust_app.command("load")
def trust_load(path: Path = typer.Argument(..., help="trust-groups YAML")) -> None:
    """Create or update organisations, groups, memberships and collections from a YAML file."""
    s = _settings()
    issued = _load(s, path)
    _print_keys(issued)


def _print_keys(issued: list[IssuedKey]) -> None:
    if not issued:
        console.print("No new API keys (every account already has one; `hub key create` issues more).")
        return
    console.print("[bold]API keys created now[/] (shown once; only their hashes are stored):")
    width = max(len(f"{k.organisation}/{k.account}") for k in issued)
    for k in issued:
        console.print(
            f"  {k.organisation + '/' + k.account:<{width}}  {k.key}", soft_wrap=True, highlight=False
        )
