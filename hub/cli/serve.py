"""`hub serve` and `hub demo`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from sqlalchemy import select

from hub.cli.app import app
from hub.cli.common import _fail, _safe_url, _sessions, _settings, console, write_secret_file
from hub.cli.trust import _load, _print_keys
from hub.db import make_engine
from hub.environment import require_existing_database
from hub.schema import SchemaOutOfDate, check_schema, upgrade
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.trust.schemas import IssuedKey


def _demo_config() -> Path:
    """The demo trust groups, shipped inside the package as `hub.examples` (config/ in the source)."""
    from importlib.resources import files

    return Path(str(files("hub.examples").joinpath("trust-groups.example.yaml")))


DEMO_CONFIG = _demo_config()


def _serve(s: Settings) -> None:
    import gc

    import uvicorn

    from hub.app import create_app

    require_existing_database(s.database_url)
    engine = make_engine(s.database_url)
    try:
        check_schema(engine)
    except SchemaOutOfDate as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    stop_metrics = _operate(s)
    try:
        hub = create_app(s)
        # what is alive now (modules, the app, its routes and schemas) lives as long as the process:
        # out of the collector's generations, every full collection stops walking it again, which
        # was a sixth of ingest's CPU (an envelope's parsed objects trigger several collections)
        gc.collect()
        gc.freeze()
        # uvicorn's own access log stays off: hub.access writes one structured line a request instead
        uvicorn.run(hub, host=s.host, port=s.port, log_config=None, access_log=False)
    finally:
        stop_metrics()


def _operate(s: Settings) -> Callable[[], None]:
    """Structured logs, and the metrics port when one is set, for a long-running process; returns the
    function that stops both at exit."""
    from hub.metrics import serve_metrics
    from hub.observability import configure_logging

    undo_logging = configure_logging(s.log_format, s.log_level)
    server = serve_metrics(s.metrics_port, s.metrics_host) if s.metrics_port else None

    def stop() -> None:
        if server is not None:
            server.shutdown()
            server.server_close()
        undo_logging()

    return stop


@app.command()
def serve(
    host: str = typer.Option(None, help="address to listen on (HUB_HOST)"),
    port: int = typer.Option(None, help="port (HUB_PORT)"),
) -> None:
    """Serve the TAXII 2.1 API (refuses an out-of-date schema)."""
    _serve(_settings(host=host, port=port))


@app.command()
def demo(
    host: str = typer.Option(None, help="address to listen on"),
    port: int = typer.Option(None, help="port"),
    config: Path | None = typer.Option(
        None, help="trust-groups YAML to load (default: HUB_TRUST_CONFIG, else the demo groups)"
    ),
    keys_json: Path | None = typer.Option(
        None, "--keys-json", help="also write orgs, keys, API roots and collection ids as JSON here"
    ),
    serve_: bool = typer.Option(True, "--serve/--no-serve", help="serve after loading"),
) -> None:
    """Migrate, load the demo trust groups, print how to connect, and serve."""
    s = _settings(host=host, port=port)
    upgrade(s.database_url)
    issued = _load(s, config or s.trust_config or DEMO_CONFIG)
    base = s.public_url.rstrip("/") if s.public_url else f"http://{s.host}:{s.port}"
    summary = _demo_summary(s, base, issued)
    if keys_json:
        write_secret_file(keys_json, json.dumps(summary, indent=2))
        console.print(f"wrote {keys_json}")
    console.print(
        f"\n[bold]Discovery:[/] {escape(base)}/taxii2/   (database: {escape(_safe_url(s))})", markup=True
    )
    _print_keys(issued)
    _print_collections(summary)
    _print_console(s, base, issued)
    console.print(
        "\nTry:  curl -H 'Accept: application/taxii+json;version=2.1' "
        f"-H 'Authorization: Bearer <key>' {base}/taxii2/",
        soft_wrap=True,
        highlight=False,
    )
    if serve_:
        _serve(s)


def _print_console(s: Settings, base: str, issued: list[IssuedKey]) -> None:
    """The console's URL and a demo sign-in: a coordinator's `console` account with a fresh password."""
    import secrets

    from hub.cli.webconsole import set_console_password
    from hub.trust.models import Membership, Organisation

    with _sessions(s.database_url)() as session:
        org = session.scalar(
            select(Organisation.slug)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(Membership.role == "coordinator")
            .order_by(Organisation.slug)
            .limit(1)
        )
    console.print(f"\n[bold]Web console:[/] {escape(base)}/console/", highlight=False, markup=True)
    if org is None:
        return
    password = secrets.token_urlsafe(12)
    set_console_password(s.database_url, f"console@{org}", password, create=True)
    console.print(f"  sign in as console@{org} with password {password}", highlight=False, markup=False)


def _print_collections(summary: dict[str, Any]) -> None:
    seen: dict[str, dict[str, str]] = {}
    for org in summary["organisations"].values():
        for group, root in org["api_roots"].items():
            seen.setdefault(group, {}).update(root["collections"])
    console.print("[bold]Collections[/] (group/alias: id, for the objects URL):", markup=True)
    for group in sorted(seen):
        for alias, cid in sorted(seen[group].items()):
            console.print(f"  {group}/{alias}: {cid}", highlight=False, markup=False)


def _demo_summary(s: Settings, base: str, issued: list[IssuedKey]) -> dict[str, Any]:
    from hub.trust.models import Collection, Membership, Organisation, TrustGroup

    sm = _sessions(s.database_url)
    keys = {k.organisation: k.key for k in issued}
    out: dict[str, Any] = {"discovery": f"{base}/taxii2/", "organisations": {}}
    with sm() as session:
        groups = {g.id: g for g in session.scalars(select(TrustGroup))}
        colls = list(session.scalars(select(Collection)))
        for org in session.scalars(select(Organisation).order_by(Organisation.slug)):
            ms = list(session.scalars(select(Membership).where(Membership.organisation_id == org.id)))
            out["organisations"][org.slug] = {
                "identity": org.identity_id,
                "key": keys.get(org.slug),
                "api_roots": {
                    groups[m.group_id].slug: {
                        "url": f"{base}/taxii2/{groups[m.group_id].slug}/",
                        "role": m.role,
                        "collections": {c.alias: c.id for c in colls if c.group_id == m.group_id},
                    }
                    for m in ms
                },
            }
    return out
