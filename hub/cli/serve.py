"""`hub serve` and `hub demo`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from sqlalchemy import select

from hub.cli.app import app
from hub.cli.common import _fail, _safe_url, _sessions, _settings, console
from hub.cli.trust import _load, _print_keys
from hub.db import make_engine
from hub.schema import SchemaOutOfDate, check_schema, upgrade
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.trust.schemas import IssuedKey

DEMO_CONFIG = Path(__file__).resolve().parent.parent.parent / "config" / "trust-groups.example.yaml"


def _serve(s: Settings) -> None:
    import uvicorn

    from hub.app import create_app

    engine = make_engine(s.database_url)
    try:
        check_schema(engine)
    except SchemaOutOfDate as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    uvicorn.run(create_app(s), host=s.host, port=s.port, log_level="info", access_log=False)


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
        keys_json.write_text(json.dumps(summary, indent=2))
        console.print(f"wrote {keys_json}")
    console.print(f"\n[bold]Discovery:[/] {base}/taxii2/   (database: {_safe_url(s)})")
    _print_keys(issued)
    console.print(
        "\nTry:  curl -H 'Accept: application/taxii+json;version=2.1' "
        f"-H 'Authorization: Bearer <key>' {base}/taxii2/",
        soft_wrap=True,
        highlight=False,
    )
    if serve_:
        _serve(s)


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
