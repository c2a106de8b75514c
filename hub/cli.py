"""The `hub` command: serve, demo, db upgrade, trust-group and key administration."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from typer.core import TyperGroup

from hub.db import make_engine, make_sessionmaker
from hub.environment import explain, require_existing_database
from hub.errors import ConfigError
from hub.schema import SchemaOutOfDate, check_schema, upgrade
from hub.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.policy.rules import Destination
    from hub.trust.models import Collection, TrustGroup
    from hub.trust.schemas import IssuedKey


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
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
key_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
trust_app = typer.Typer(help="Trust groups, organisations and memberships.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(key_app, name="key")
app.add_typer(trust_app, name="trust")
policy_app = typer.Typer(help="The TLP policy layer.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

# soft wrap: lines are never cut at 80 columns when the output is a pipe or a file (ids and URLs stay whole)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _demo_config() -> Path:
    """The demo trust groups, shipped inside the package as `hub.examples` (config/ in the source)."""
    from importlib.resources import files

    return Path(str(files("hub.examples").joinpath("trust-groups.example.yaml")))


DEMO_CONFIG = _demo_config()


def _settings(**overrides: object) -> Settings:
    s = Settings()
    return s.model_copy(update={k: v for k, v in overrides.items() if v is not None})


_engines: list[Engine] = []


def _sessions(url: str):  # type: ignore[no-untyped-def]
    """A session factory on a fresh engine, disposed when the command ends.

    Only `hub demo` and `hub db upgrade` create a database: anywhere else a missing SQLite file is an
    error, and a database without the current schema is refused before the command starts.
    """
    require_existing_database(url)
    engine = make_engine(url)
    _engines.append(engine)
    try:
        check_schema(engine)
    except SchemaOutOfDate as exc:
        _fail(str(exc))
    return make_sessionmaker(engine)


@app.callback()
def _main(
    ctx: typer.Context,
    debug: bool = typer.Option(
        False, "--debug", envvar="HUB_DEBUG", help="show the traceback of an error instead of one line"
    ),
) -> None:
    ctx.call_on_close(_dispose)


def _dispose() -> None:
    while _engines:
        _engines.pop().dispose()


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Create or upgrade the schema (SQLite or PostgreSQL, from HUB_DATABASE_URL)."""
    s = _settings()
    upgrade(s.database_url, revision)
    console.print(f"schema of {_safe_url(s)} is at {revision}")


def _safe_url(s: Settings) -> str:
    return make_url(s.database_url).render_as_string(hide_password=True)


def _serve(s: Settings) -> None:
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
        # uvicorn's own access log stays off: hub.access writes one structured line a request instead
        uvicorn.run(create_app(s), host=s.host, port=s.port, log_config=None, access_log=False)
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


def _load(s: Settings, path: Path) -> list[IssuedKey]:
    from hub.trust.service import apply_config, read_config

    try:
        cfg = read_config(path)
    except ConfigError as exc:
        _fail(str(exc))
    sm = _sessions(s.database_url)
    with sm() as session, session.begin():
        issued = apply_config(session, cfg)
    return issued


@trust_app.command("load")
def trust_load(
    path: Path = typer.Argument(..., help="trust-groups YAML"),
    keys_file: Path | None = typer.Option(
        None,
        "--keys-file",
        help="append the API keys created now to this file (mode 0600) instead of printing them",
    ),
) -> None:
    """Create or update organisations, groups, memberships and collections from a YAML file."""
    s = _settings()
    issued = _load(s, path)
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
    console.print("[bold]API keys created now[/] (shown once; only their hashes are stored):")
    width = max(len(f"{k.organisation}/{k.account}") for k in issued)
    for k in issued:
        console.print(
            f"  {k.organisation + '/' + k.account:<{width}}  {k.key}", soft_wrap=True, highlight=False
        )


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
    _print_collections(summary)
    console.print(
        "\nTry:  curl -H 'Accept: application/taxii+json;version=2.1' "
        f"-H 'Authorization: Bearer <key>' {base}/taxii2/",
        soft_wrap=True,
        highlight=False,
    )
    if serve_:
        _serve(s)


def _print_collections(summary: dict[str, Any]) -> None:
    seen: dict[str, dict[str, str]] = {}
    for org in summary["organisations"].values():
        for group, root in org["api_roots"].items():
            seen.setdefault(group, {}).update(root["collections"])
    console.print("[bold]Collections[/] (group/alias: id, for the objects URL):")
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


def _account(session, org_slug: str, account: str):  # type: ignore[no-untyped-def]
    from hub.trust.models import Account, Organisation

    row = session.execute(
        select(Account).join(Organisation).where(Organisation.slug == org_slug, Account.name == account)
    ).scalar_one_or_none()
    if row is None:
        _fail(f"no account {account!r} in organisation {org_slug!r}")
    return row


@key_app.command("create")
def key_create(
    org: str = typer.Option(..., help="organisation slug"),
    account: str = typer.Option("taxii", help="account name"),
    label: str = typer.Option("", help="a label to recognise the key by"),
    expires_days: int | None = typer.Option(None, help="days until the key expires"),
) -> None:
    """Issue an API key (printed once; only its hash is stored)."""
    from hub.trust.service import create_api_key

    sm = _sessions(_settings().database_url)
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    with sm() as session, session.begin():
        _key, secret = create_api_key(
            session, account=_account(session, org, account), label=label, expires_at=expires
        )
    console.print(secret, soft_wrap=True)


@key_app.command("revoke")
def key_revoke(key_id: str = typer.Argument(..., help="the key id: the part after 'hub_'")) -> None:
    """Revoke an API key at once."""
    from hub.trust.service import revoke_api_key

    # a whole key pasted here (hub_<id>_<secret>) is accepted, and only its id is ever printed
    kid = key_id.removeprefix("hub_").split("_")[0]
    sm = _sessions(_settings().database_url)
    with sm() as session, session.begin():
        ok = revoke_api_key(session, key_id=kid)
    if not ok:
        _fail(f"no key {kid!r}")
    console.print(f"revoked {kid}")


@key_app.command("list")
def key_list(org: str = typer.Option(..., help="organisation slug")) -> None:
    """List an organisation's keys (ids, labels, state; never secrets)."""
    from hub.trust.models import Account, ApiKey, Organisation

    sm = _sessions(_settings().database_url)
    with sm() as session:
        rows = session.execute(
            select(ApiKey, Account).join(Account).join(Organisation).where(Organisation.slug == org)
        )
        console.print(
            "key id            account   label     created              expires              revoked"
        )
        for k, a in rows:
            console.print(
                f"{k.key_id}  {a.name:<8}  {k.label:<8}  {str(k.created_at)[:19]:<19}  "
                f"{str(k.expires_at or '-')[:19]:<19}  {str(k.revoked_at or '-')[:19]}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


@policy_app.command("explain")
def policy_explain(
    object_id: str = typer.Option(..., "--object", help="the STIX id of a stored object"),
    reader: str | None = typer.Option(None, "--reader", help="may this organisation (slug) see it?"),
    to: str | None = typer.Option(None, "--to", help="may it flow to this trust group?"),
    peer: str | None = typer.Option(
        None, "--peer-community", help="may it go to a peer hub of this community?"
    ),
    export: bool = typer.Option(False, "--export", help="may it be exported?"),
    group: str | None = typer.Option(None, "--group", help="only the copies stored in this trust group"),
) -> None:
    """Say whether an organisation may see, or a destination receive, a stored object, and why."""
    from hub.trust.explain import ExplainError, explain
    from hub.trust.models import TrustGroup

    sm = _sessions(_settings().database_url)
    with sm() as session:
        within = None
        if group:
            gid = session.scalar(select(TrustGroup.id).where(TrustGroup.slug == group))
            if gid is None:
                _fail(f"no trust group {group!r}")
            within = {gid}
        try:
            answers = explain(
                session,
                object_id=object_id,
                reader=reader,
                to_group=to,
                to_peer_community=peer,
                export=export,
                within_groups=within,
            )
        except ExplainError as exc:
            _fail(str(exc))
    for a in answers:
        console.print(f"[bold]{a.group}/{a.collection}[/] (version {a.version})", highlight=False)
        console.print(a.text, soft_wrap=True, highlight=False, markup=False)


COLUMN_HELP = (
    "generic csv: header names as value=url,type=ioc_type,first_seen=dateadded,tags=tags,reference=link"
)


def _columns(spec: str | None):  # type: ignore[no-untyped-def]
    from connectors.base import ColumnMap

    if not spec:
        return None
    fields = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not value.strip():
            _fail(f"--columns: {part!r} is not name=header")
        fields[key.strip()] = value.strip()
    known = [f.name for f in dataclasses.fields(ColumnMap)]
    unknown = [k for k in fields if k not in known]
    if unknown:
        _fail(f"--columns: unknown field {', '.join(map(repr, unknown))}; the fields are {', '.join(known)}")
    if "value" not in fields:
        _fail("--columns needs value=<header>: the column holding the indicator values")
    return ColumnMap(**fields)


def _default_feed_name(source: str) -> str:
    """The source_name written into shared objects when --feed-name is not given.

    Never a local path (it would tell every reader how the importer's disk is laid out) nor a URL's
    credentials or query: a file's base name, or a URL's host and path.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(source)
    if parts.scheme in ("http", "https") and parts.hostname:
        return f"{parts.hostname}{parts.path}".rstrip("/")
    return Path(source).name or source


@app.command("import")
def import_(
    source: str = typer.Argument(
        ..., help="a file, an http(s) URL, a MISP feed folder/URL or a TAXII collection URL"
    ),
    fmt: str = typer.Option(
        ...,
        "--format",
        help="stix, misp, misp-feed, csv, urlhaus-csv, feodo-csv, "
        "threatfox-csv, text, intelmq, taxii (2.1 upstream) or taxii20",
    ),
    group: str = typer.Option(..., help="trust group slug"),
    collection: str = typer.Option(..., help="collection alias or id"),
    as_org: str = typer.Option(..., "--as", help="the organisation the objects are published as"),
    tlp: str = typer.Option("amber", help="TLP for records whose source gives none"),
    tlp_version: int = typer.Option(2, help="write TLP 2.0 (default) or TLP 1.0 marking ids"),
    feed_name: str = typer.Option(
        "",
        help="source_name of the external references written "
        "(default: the file's base name, or the URL's host and path)",
    ),
    columns: str | None = typer.Option(None, help=COLUMN_HELP),
    with_observables: bool = typer.Option(False, help="also write observables and based-on relationships"),
    added_after: str | None = typer.Option(None, help="taxii: pull only objects added after this time"),
    user: str | None = typer.Option(None, help="taxii: user name"),
    password: str | None = typer.Option(
        None, envvar="HUB_IMPORT_PASSWORD", help="taxii: password or API key"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate and judge everything, store nothing"),
    show: int = typer.Option(3, help="with --dry-run: how many objects to print"),
) -> None:
    """Import a feed into a collection: normalise, validate, apply the policy, store; print a summary."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from connectors import FeedSettings
    from hub.sync.fetch import FetchError
    from hub.sync.importer import ImportTargetError, Target, producer_of, run_import
    from hub.sync.sources import PULL_FORMATS, PullCursor, feed_results

    s = _settings()
    sm = _sessions(s.database_url)
    if fmt not in PULL_FORMATS:
        _fail(f"unknown format {fmt!r}; known: {', '.join(PULL_FORMATS)}")
    try:
        producer_id, producer_name = producer_of(sm, as_org)
        settings = FeedSettings(
            producer_id=producer_id,
            producer_name=producer_name,
            feed_name=feed_name or _default_feed_name(source),
            tlp=tlp,
            tlp_version=tlp_version,
            columns=_columns(columns),
            with_observables=with_observables,
        )
    except (ImportTargetError, ValueError) as exc:
        _fail(str(exc))
    cursor = PullCursor()
    results = feed_results(
        fmt, source, settings, user=user, password=password, added_after=added_after, cursor=cursor
    )
    target = Target(group=group, collection=collection, org=as_org)
    with Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        TextColumn("{task.completed} objects"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=None)
        try:
            report = run_import(
                sm,
                target=target,
                results=results,
                dry_run=dry_run,
                progress=lambda n: bar.advance(task, n),
                sample=show if dry_run else 0,
            )
        except (ImportTargetError, FetchError, ValueError) as exc:
            _fail(str(exc))
    report.cursor = cursor.last
    if dry_run:
        import orjson

        console.print("[bold]dry run:[/] nothing was stored")
        for obj in report.sample:
            console.print(
                orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode(), highlight=False, markup=False
            )
    for line in report.lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if report.created + report.new_versions + report.unchanged == 0 and report.rejected + report.refused:
        err.print("error: nothing was imported: every record was rejected or refused", highlight=False)
        raise typer.Exit(1)


def _outbound_args(
    s: Settings,
    group: str,
    collection: str,
    to_group: str | None,
    peer: str | None,
    added_after: str | None,
    name: str = "",
) -> tuple[Session, Collection, TrustGroup, Destination, int | None]:
    from hub.stix import InvalidObject, timestamp_us
    from hub.sync.outbound import OutboundError, destination_for, source_collection

    sm = _sessions(s.database_url)
    session = sm()
    session.begin()  # one read transaction for the whole run: a consistent snapshot where supported
    try:
        coll, grp = source_collection(session, group=group, collection=collection)
        dest = destination_for(session, to_group=to_group, peer_community=peer, name=name)
        after = timestamp_us(added_after, "--added-after") if added_after else None
    except (OutboundError, InvalidObject) as exc:
        session.close()
        _fail(str(exc))
    return session, coll, grp, dest, after


def _audit_outbound(session, action: str, grp, coll, count: int, detail: str) -> None:  # type: ignore[no-untyped-def]
    from hub.store.audit import record

    with session.begin():
        record(
            session,
            action=action,
            organisation_id=None,
            group_id=grp.id,
            collection_id=coll.id,
            count=count,
            detail=detail[:2000],
        )


@app.command("export")
def export(
    group: str = typer.Option(..., help="source trust group"),
    collection: str = typer.Option(..., help="source collection alias or id"),
    output: Path = typer.Option(..., "--output", "-o", help="bundle file to write"),
    to_group: str | None = typer.Option(None, "--to-group", help="export for this trust group of the hub"),
    peer: str | None = typer.Option(None, "--peer-community", help="export for a peer hub of this community"),
    added_after: str | None = typer.Option(None, help="only versions added after this time"),
) -> None:
    """Write a STIX bundle of what may leave a collection (public export by default: TLP:CLEAR only)."""
    import uuid

    from hub.stix import format_us
    from hub.sync.outbound import export_bundle, outbound

    session, coll, grp, dest, after = _outbound_args(
        _settings(), group, collection, to_group, peer, added_after
    )
    with session, output.open("wb") as out:
        report = export_bundle(
            outbound(session, collection=coll, group=grp, destination=dest, added_after_us=after),
            out,
            bundle_id=f"bundle--{uuid.uuid4()}",
        )
    _audit_outbound(session, "export", grp, coll, report.sent, f"to {dest.display}: {output}")
    console.print(f"wrote {report.sent} objects for {dest.display} to {output}", highlight=False)
    if report.last_added_us:
        console.print(
            f"next incremental export: --added-after {format_us(report.last_added_us)}", highlight=False
        )


@app.command("push")
def push(
    url: str = typer.Argument(..., help="the peer's TAXII 2.1 collection URL"),
    group: str = typer.Option(..., help="source trust group"),
    collection: str = typer.Option(..., help="source collection alias or id"),
    peer: str | None = typer.Option(
        None,
        "--peer-community",
        help="the community the peer hub serves "
        "(TLP:GREEN goes only to peers of the source group's community)",
    ),
    added_after: str | None = typer.Option(None, help="only versions added after this time"),
    user: str | None = typer.Option(None, help="user name at the peer"),
    password: str | None = typer.Option(
        None, envvar="HUB_PUSH_PASSWORD", help="password or API key at the peer"
    ),
) -> None:
    """Push what may leave a collection to a peer TAXII server, in envelopes of 1,000."""
    from hub.stix import format_us
    from hub.sync.outbound import push_to_peer

    session, coll, grp, dest, after = _outbound_args(
        _settings(), group, collection, None, peer, added_after, name=url
    )
    try:
        with session:
            report = push_to_peer(
                session, collection=coll, group=grp, destination=dest, url=url, user=user,
                password=password, added_after_us=after,
            )  # fmt: skip
    except Exception as exc:  # the peer's errors arrive as requests' and taxii2-client's exceptions
        _fail(f"{url}: {type(exc).__name__}: {exc}")
    _audit_outbound(session, "push-out", grp, coll, report.sent, f"to {url} ({dest.display})")
    console.print(
        f"pushed {report.sent} objects to {url}; the peer refused {report.refused_by_peer}", highlight=False
    )
    for r in report.reasons or []:
        console.print(f"  {r}", highlight=False, markup=False)
    if report.last_added_us:
        console.print(
            f"next incremental push: --added-after {format_us(report.last_added_us)}", highlight=False
        )


# ------------------------------------------------------------------ sync: scheduled feed jobs

sync_app = typer.Typer(help="Scheduled feed jobs: load, list, run, history.", no_args_is_help=True)
app.add_typer(sync_app, name="sync")


def _when(us: int | None) -> str:
    from hub.stix import format_us

    return format_us(us)[:19] + "Z" if us else "-"


def _print_run(c) -> None:  # type: ignore[no-untyped-def]
    o, job = c.outcome, c.job
    if o.ok:
        cursor = f"; cursor {o.cursor_after}" if o.cursor_after else ""
        line = f"{job.name}: ok: {o.summary(job.direction)}{cursor}"
    else:
        line = f"{job.name}: failed: {o.error}"
    console.print(line, highlight=False, markup=False, soft_wrap=True)
    for r in o.reasons:
        console.print(f"  {r}", highlight=False, markup=False, soft_wrap=True)


@sync_app.command("load")
def sync_load(path: Path = typer.Argument(..., help="feeds YAML")) -> None:
    """Create or update feeds from a YAML file (idempotent; cursors and run state are kept)."""
    from hub.sync.feeds import apply_feeds, read_feeds, unknown_references
    from hub.sync.scheduler import now_us

    try:
        cfg = read_feeds(path)
    except ConfigError as exc:
        _fail(str(exc))
    sm = _sessions(_settings().database_url)
    with sm() as session, session.begin():
        problems = unknown_references(session, cfg)
        if problems:
            (where, problem), *more = problems
            _fail(str(ConfigError(str(path), where, problem, more)))
        report = apply_feeds(session, cfg, now_us=now_us())
    for label, names in (
        ("created", report.created),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("stored but not in the file (left as they are)", report.not_in_file),
    ):
        if names:
            console.print(f"{label}: {', '.join(names)}", highlight=False, soft_wrap=True)


@sync_app.command("list")
def sync_list() -> None:
    """List the feeds with their state: next run, cursor, failures, lease, last error."""
    from hub.sync.models import Feed

    sm = _sessions(_settings().database_url)
    with sm() as session:
        feeds = list(session.scalars(select(Feed).order_by(Feed.name)))
    if not feeds:
        console.print("No feeds (`hub sync load FILE` declares them).")
    for f in feeds:
        where = f"{f.group_slug}/{f.collection}"
        arrow = f"{f.url} -> {where}" if f.direction == "pull" else f"{where} -> {f.url}"
        state = "enabled" if f.enabled else "disabled"
        console.print(
            f"{f.name}  {f.direction} {f.format} {arrow}", highlight=False, markup=False, soft_wrap=True
        )
        console.print(
            f"  {state}, every {f.interval_s} s, next run {_when(f.next_run_at_us)}, "
            f"cursor {f.cursor or '-'}, failures {f.failures}"
            + (f", running on {f.leased_by} until {_when(f.lease_until_us)}" if f.leased_by else ""),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        if f.last_error:
            console.print(f"  last error: {f.last_error}", highlight=False, markup=False, soft_wrap=True)


@sync_app.command("run-once")
def sync_run_once(
    feed: str | None = typer.Option(None, "--feed", help="run this feed now, due or not"),
    worker_id: str | None = typer.Option(None, "--worker-id", help="recorded with each run (host:pid)"),
    lease_seconds: int = typer.Option(1800, help="how long a claim holds before another worker may take it"),
) -> None:
    """Run every due feed once (or one named feed now), then exit; exit 1 when a run failed."""
    from hub.sync.scheduler import ClaimError
    from hub.sync.worker import default_worker_id, run_due, run_named

    sm = _sessions(_settings().database_url)
    wid = worker_id or default_worker_id()
    if feed:
        try:
            done = [run_named(sm, feed, worker_id=wid, lease_s=lease_seconds)]
        except ClaimError as exc:
            _fail(str(exc))
        _print_run(done[0])
    else:
        done = run_due(sm, worker_id=wid, lease_s=lease_seconds, on_run=_print_run)
        if not done:
            console.print("No feed is due.")
    if any(not c.outcome.ok for c in done):
        raise typer.Exit(1)


@sync_app.command("worker")
def sync_worker(
    worker_id: str | None = typer.Option(None, "--worker-id", help="recorded with each run (host:pid)"),
    poll_seconds: float = typer.Option(10.0, help="how long to wait when no feed is due"),
    max_runs: int | None = typer.Option(None, help="exit after this many runs"),
    lease_seconds: int = typer.Option(1800, help="how long a claim holds before another worker may take it"),
) -> None:
    """Run due feeds until SIGINT or SIGTERM (the current run finishes and is recorded first)."""
    import signal

    from hub.sync.worker import Worker, default_worker_id

    wid = worker_id or default_worker_id()
    s = _settings()
    stop_metrics = _operate(s)
    worker = Worker(
        _sessions(s.database_url),
        worker_id=wid,
        poll_s=poll_seconds,
        lease_s=lease_seconds,
        max_runs=max_runs,
        on_run=_print_run,
    )

    def stop(signum: int, _frame: object) -> None:
        if worker.stopping.is_set():  # asked twice: stop now; the run's lease expires and it is retried
            raise KeyboardInterrupt
        err.print(f"{signal.Signals(signum).name}: stopping after the current run", highlight=False)
        worker.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    console.print(f"worker {wid} started", highlight=False)
    try:
        runs = worker.run()
    finally:
        stop_metrics()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(f"worker {wid} stopped after {runs} runs", highlight=False)


@sync_app.command("runs")
def sync_runs(
    feed: str | None = typer.Option(None, "--feed", help="only this feed's runs"),
    limit: int = typer.Option(20, help="how many runs, newest first"),
) -> None:
    """The run history, newest first: who ran what, when, the counts, the cursor and any error."""
    from hub.sync.models import Feed, FeedRun

    sm = _sessions(_settings().database_url)
    stmt = select(FeedRun, Feed.name).join(Feed).order_by(FeedRun.started_us.desc(), FeedRun.id.desc())
    if feed:
        stmt = stmt.where(Feed.name == feed)
    with sm() as session:
        rows = list(session.execute(stmt.limit(limit)))
    if not rows:
        console.print("No runs.")
    for r, name in rows:
        secs = (r.finished_us - r.started_us) / 1e6
        counts = (
            f"read {r.read} new {r.created} versions {r.new_versions} unchanged {r.unchanged} "
            f"rejected {r.rejected} skipped {r.skipped} refused {r.refused} sent {r.sent}"
        )
        console.print(
            f"{_when(r.started_us)}  {name}  {r.status}  {secs:.1f} s  {r.worker_id}  {counts}  "
            f"cursor {r.cursor_before or '-'} -> {r.cursor_after or '-'}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        if r.error:
            console.print(f"  error: {r.error}", highlight=False, markup=False, soft_wrap=True)


def main() -> None:  # pragma: no cover - console entry for `python -m hub.cli`
    app(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
