"""`hub export` and `hub push`: what may leave a collection, to a file or a peer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, console
from hub.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.policy.rules import Destination
    from hub.trust.models import Collection, TrustGroup


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
