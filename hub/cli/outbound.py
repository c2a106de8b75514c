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
    # no session.begin(): outbound() reads each keyset page in a transaction of its own, so a long
    # export or push holds no snapshot (each version still goes once: the pages follow date added)
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
    tlp_version: int = typer.Option(2, help="TLP marking ids written on copies without one: 2 or 1"),
) -> None:
    """Write a STIX bundle of what may leave a collection (public export by default: TLP:CLEAR only)."""
    import uuid

    from hub.sync.outbound import export_bundle, outbound
    from hub.vocab.time import format_us

    session, coll, grp, dest, after = _outbound_args(
        _settings(), group, collection, to_group, peer, added_after
    )
    with session, output.open("wb") as out:
        report = export_bundle(
            outbound(
                session,
                collection=coll,
                group=grp,
                destination=dest,
                added_after_us=after,
                tlp_version=tlp_version,
            ),
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
    timeout: float | None = typer.Option(None, help="seconds the peer may stay silent (default 30)"),
    tlp_version: int = typer.Option(2, help="TLP marking ids written on copies without one: 2 or 1"),
) -> None:
    """Push what may leave a collection to a peer TAXII server, in envelopes that fit its size limit."""
    from hub.sync.fetch import credentials_in_url
    from hub.sync.outbound import push_to_peer
    from hub.vocab.time import format_us

    secret = credentials_in_url(url)
    if secret:
        _fail(f"{url}: the URL carries a secret ({secret}); use --user and HUB_PUSH_PASSWORD")
    session, coll, grp, dest, after = _outbound_args(
        _settings(), group, collection, None, peer, added_after, name=url
    )
    with session:
        report = push_to_peer(
            session, collection=coll, group=grp, destination=dest, url=url, user=user,
            password=password, added_after_us=after, timeout=timeout, tlp_version=tlp_version,
        )  # fmt: skip
    _audit_outbound(
        session,
        "push-out",
        grp,
        coll,
        report.sent,
        f"to {url} ({dest.display}): {report.already_there} already there, {report.withdrawn} withdrawn"
        + (f"; stopped: {report.error}" if report.error else ""),
    )
    console.print(
        f"pushed {report.sent} new objects to {url} ({report.already_there} already there); the peer "
        f"refused {report.refused_by_peer}; withdrawn at the peer {report.withdrawn}",
        highlight=False,
    )
    for r in report.reasons or []:
        console.print(f"  {r}", highlight=False, markup=False)
    if report.last_added_us:
        console.print(
            f"next incremental push: --added-after {format_us(report.last_added_us)}", highlight=False
        )
    if report.error:
        _fail(report.error)
