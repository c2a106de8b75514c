"""`hub import`: a feed into a collection, once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, console, err

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
    tlp: str | None = typer.Option(None, help="TLP for records whose source gives none (default amber)"),
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
    peer_community: str | None = typer.Option(
        None, "--peer-community", help="taxii: the community the upstream hub serves"
    ),
    public: bool = typer.Option(False, "--public", help="taxii: the upstream serves anyone"),
    upstream_default_tlp: str | None = typer.Option(
        None, help="taxii: the TLP of objects the upstream serves unmarked (default amber)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate and judge everything, store nothing"),
    show: int = typer.Option(3, help="with --dry-run: how many objects to print"),
) -> None:
    """Import a feed into a collection: normalise, validate, apply the policy, store; print a summary."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from connectors import FeedSettings
    from hub.sync.fetch import FetchError
    from hub.sync.importer import (
        ImportTargetError,
        Target,
        producer_of,
        resolve_submission,
        run_import,
    )
    from hub.sync.sources import PULL_FORMATS, TAXII_FORMATS, PullCursor, feed_results
    from hub.sync.upstream import upstream_screen
    from hub.vocab.tlp import TLP_WORDS, read_tlp

    s = _settings()
    sm = _sessions(s.database_url)
    if fmt not in PULL_FORMATS:
        _fail(f"unknown format {fmt!r}; known: {', '.join(PULL_FORMATS)}")
    taxii = fmt in TAXII_FORMATS
    if taxii:
        if public == bool(peer_community):
            _fail(
                "a TAXII import says what the upstream is: --peer-community NAME (a hub serving that "
                "community) or --public (it serves anyone); AMBER and above come in only to a "
                "named-recipient collection owned by --as with no other recipient"
            )
        if tlp is not None:
            _fail("for a TAXII upstream, --upstream-default-tlp gives the level of unmarked objects")
    elif peer_community or public or upstream_default_tlp:
        _fail("--peer-community, --public and --upstream-default-tlp are for TAXII upstreams")
    try:
        unmarked = (upstream_default_tlp or "amber") if taxii else (tlp or "amber")
        level = read_tlp(unmarked)
        if level is None:
            raise ValueError(f"unknown TLP level {unmarked!r}: use {', '.join(TLP_WORDS)}")
        producer_id, producer_name = producer_of(sm, as_org)
        settings = FeedSettings(
            producer_id=producer_id,
            producer_name=producer_name,
            feed_name=feed_name or _default_feed_name(source),
            tlp=level.word,
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
    screen = None
    if taxii:
        try:
            with sm() as session:
                submission, _org = resolve_submission(session, target)
        except ImportTargetError as exc:
            _fail(str(exc))
        screen = upstream_screen(
            submission,
            source=source,
            org=as_org,
            peer_community=peer_community,
            public=public,
            upstream_default_tlp=unmarked,
            tlp_version=tlp_version,
        )
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
                screen=screen,
            )
        except (ImportTargetError, FetchError, ValueError) as exc:
            _fail(str(exc))
    report.cursor = cursor.last
    if dry_run:
        import orjson

        console.print("[bold]dry run:[/] nothing was stored", markup=True)
        for obj in report.sample:
            console.print(
                orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode(), highlight=False, markup=False
            )
    for line in report.lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if cursor.bad is not None:
        err.print(
            f"warning: the upstream sent X-TAXII-Date-Added-Last {cursor.bad!r}, which is not a "
            "timestamp: no cursor for the next incremental pull",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if report.created + report.new_versions + report.unchanged == 0 and report.rejected + report.refused:
        err.print("error: nothing was imported: every record was rejected or refused", highlight=False)
        raise typer.Exit(1)
