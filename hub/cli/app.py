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
def _main(ctx: typer.Context) -> None:
    ctx.call_on_close(_dispose)
