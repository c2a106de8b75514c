"""The root `hub` typer application; each command group registers itself on it."""

from __future__ import annotations

import typer

from hub.cli.common import _dispose

app = typer.Typer(
    help="The inter-CIRT sharing hub: a TAXII 2.1 server for regional trust groups.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main(
    ctx: typer.Context,
    url: str | None = typer.Option(
        None, "--url", envvar="HUB_URL", help="a hub's base URL: coordinator commands call its admin API"
    ),
    profile: str | None = typer.Option(
        None, "--profile", envvar="HUB_PROFILE", help="a [profile] of ~/.config/hub/profiles.toml (url, key)"
    ),
) -> None:
    from hub.cli.remote import resolve

    ctx.obj = resolve(url, profile)
    ctx.call_on_close(_dispose)
