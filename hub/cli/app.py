"""The root `hub` typer application; each command group registers itself on it."""

from __future__ import annotations

import os
from typing import Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from hub.cli.common import _dispose, err
from hub.environment import explain
from hub.settings import Settings


class HubGroup(TyperGroup):
    """The `hub` command group: every exception a command lets out becomes one line on stderr (exit 2
    for a mistake in the environment, 1 for anything else), or the traceback with `--debug`."""

    def invoke(self, ctx: Any) -> Any:  # click's Context (typer vendors click in recent releases)
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):  # usage errors, exits: typer's own
            raise
        except Exception as exc:
            if ctx.params.get("debug") or os.environ.get("HUB_DEBUG"):
                raise
            try:
                url: str | None = Settings().database_url
            except Exception:  # the settings themselves are what is wrong; explain() says how
                url = None
            message, code = explain(exc, url), 2
            if message is None:
                message, code = f"{type(exc).__name__}: {exc} (run with --debug for the traceback)", 1
            err.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True, highlight=False)
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=HubGroup,
    help="The inter-CIRT sharing hub: a TAXII 2.1 server for regional trust groups.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    ctx: typer.Context,
    url: str | None = typer.Option(
        None, "--url", envvar="HUB_URL", help="a hub's base URL: coordinator commands call its admin API"
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        envvar="HUB_PROFILE",
        help="a \\[profile] of ~/.config/hub/profiles.toml (url, key)",
    ),
    debug: bool = typer.Option(
        False, "--debug", envvar="HUB_DEBUG", help="show the traceback of an error instead of one line"
    ),
) -> None:
    from hub.cli.remote import resolve

    ctx.obj = resolve(url, profile)
    ctx.call_on_close(_dispose)
