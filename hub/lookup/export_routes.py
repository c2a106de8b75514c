"""Device formats beside the blocklists: a MISP feed, Suricata rules, Zeek intel and an RPZ zone.

The same door as `blocklist.txt` (hub.lookup.routes): a key with the `download` scope, the group's
collections the caller may read, `tlp_max` as the key's ceiling, the values device lists take (fit,
not known-benign unless asked, valid unless asked), an ETag from what the reader can see (304 on
If-None-Match) and one audit event per collection read, written once the answer is sent.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from hub.db import begin_write
from hub.errors import BadRequest, NotFound
from hub.lookup import downloads
from hub.lookup.downloads import Counter, DownloadFilters
from hub.lookup.formats import misp_feed, rpz, suricata, zeek
from hub.lookup.routes import (
    _audit,
    _filters,
    _matches,
    _validators,
    accepts_gzip,
    device_lists,
    from_kept,
    kept_copy,
)
from hub.settings import Settings
from hub.store.zones import zone_serial
from hub.trust.access import CollectionAccess
from hub.trust.service import Principal
from hub.web.deps import db_session, downloader

router = APIRouter(prefix="/console/downloads")
# stream(session, principal, accesses, filters, counter) -> chunks
Body = Callable[[Session, Principal, list[CollectionAccess], DownloadFilters, Counter], Iterator[bytes]]


def _export(
    request: Request,
    session: Session,
    who: Principal,
    group: str,
    what: str,
    *,
    part: str,
    filename: str,
    media: str,
    body: Body,
    empty_is_absent: bool = False,
    adjust: Callable[[DownloadFilters], DownloadFilters] | None = None,
    path_collection: str | None = None,
) -> Response:
    collection, f = _filters(request, what)
    if path_collection is not None:
        if collection is not None:
            raise BadRequest("Give the collection once: in the path or as 'collection', not both.")
        collection = path_collection[:64]
    if adjust is not None:
        f = adjust(f)
    cache = device_lists(request)
    counter = Counter()
    disposition = f'attachment; filename="{filename}"'
    with session.begin():
        accesses = downloads.scope(session, who, group, collection)
        background = BackgroundTask(
            _audit, request.app.state.audit, who, accesses, f"download-{what}", counter
        )
        guard = downloads.group_guard(session, accesses)  # read once, for the lineage and the ETag
        # a copy young enough is the answer before anything reads what the reader sees now (a MISP
        # event file, one small event and absent when empty, is built for each request)
        if cache is not None and not empty_is_absent:
            kin = downloads.lineage(session, who, accesses, f, f"{what}:{part}", group=group, guard=guard)
            young = cache.young(kin, gzip=accepts_gzip(request))
            if young is not None:
                return kept_copy(
                    request, young, counter=counter, background=background, media=media,
                    disposition=disposition,
                )  # fmt: skip
        # the hour: values expire with time, not with a change to the rows (valid=true leaves them out)
        hour = time.time_ns() // 3_600_000_000_000
        fp = downloads.fingerprint(
            session, who, accesses, f, f"{what}:{part}", period=f":{hour}", group=group, guard=guard
        )
    headers = _validators(fp.etag, fp.last_added_us)
    sm = request.app.state.sessionmaker
    if cache is not None and not empty_is_absent:

        def produce(counts: dict[str, int]) -> Iterator[bytes]:
            with sm() as s:
                yield from body(s, who, downloads.scope(s, who, group, collection), f, Counter(counts))

        return from_kept(
            request, cache, fp, counter=counter, background=background, media=media, disposition=disposition,
            produce=produce,
        )  # fmt: skip
    if _matches(request.headers.get("if-none-match"), fp.etag):
        return Response(status_code=304, headers=headers, background=background)
    headers["Content-Disposition"] = disposition

    # a session of its own: the request's closes when the handler returns, before the stream ends
    s = sm()
    try:
        chunks = body(s, who, downloads.scope(s, who, group, collection), f, counter)
        first = next(chunks, None)
    except BaseException:
        s.close()
        raise
    if first is None and empty_is_absent:
        s.close()
        raise NotFound("There is no such event here that you may read.")

    def stream() -> Iterator[bytes]:
        try:
            if first is not None:
                yield first
            yield from chunks
        finally:
            s.close()

    return StreamingResponse(stream(), media_type=media, headers=headers, background=background)


def _settings(request: Request) -> Settings:
    cfg: Settings = request.app.state.settings
    return cfg


def _group_name(accesses: list[CollectionAccess], group: str) -> str:
    return accesses[0].group.name if accesses else group


@router.get("/{group}/suricata.rules")
def get_suricata_rules(
    request: Request, group: str, who: Principal = Depends(downloader), session: Session = Depends(db_session)
) -> Response:
    """Suricata rules: IP addresses, domains (DNS and TLS SNI), URLs (HTTP host and URI), hash lists."""
    cfg = _settings(request)

    def body(s: Session, w: Principal, accs: list[CollectionAccess], f: DownloadFilters, c: Counter) -> Any:
        return suricata.rules(
            s, w, accs, f, group=group, sid_base=cfg.suricata_sid_base, sid_range=cfg.suricata_sid_range,
            counter=c,
        )  # fmt: skip

    return _export(request, session, who, group, "suricata", part="rules", filename=f"{group}.rules",
                   media="text/plain; charset=utf-8", body=body)  # fmt: skip


@router.get("/{group}/zeek.intel")
def get_zeek_intel(
    request: Request, group: str, who: Principal = Depends(downloader), session: Session = Depends(db_session)
) -> Response:
    """A Zeek intel file (Intel::read_files): addresses, networks, domains, URLs and file hashes."""
    cfg = _settings(request)

    def body(s: Session, w: Principal, accs: list[CollectionAccess], f: DownloadFilters, c: Counter) -> Any:
        return zeek.intel(s, w, accs, f, group=group, public_url=cfg.public_url, counter=c)

    return _export(request, session, who, group, "zeek", part="intel", filename=f"{group}.intel",
                   media="text/plain; charset=utf-8", body=body)  # fmt: skip


@router.get("/{group}/rpz.zone")
def get_rpz_zone(
    request: Request, group: str, who: Principal = Depends(downloader), session: Session = Depends(db_session)
) -> Response:
    """A DNS response-policy zone: domains with their subdomains, and response addresses (rpz-ip)."""
    cfg = _settings(request)
    settings = rpz.ZoneSettings(cfg.rpz_nameserver, cfg.rpz_hostmaster, cfg.rpz_ttl, cfg.rpz_origin)
    kind = request.query_params.get("kind")
    if kind is not None and kind.strip().lower() not in ("ip", "domain"):
        raise BadRequest("A zone takes kind=ip or kind=domain (or neither, for both).")

    def body(s: Session, w: Principal, accs: list[CollectionAccess], f: DownloadFilters, c: Counter) -> Any:
        scope_text = f"{w.org_id}|{group}|{','.join(a.collection.id for a in accs)}|{f.key()}"
        key = hashlib.sha256(scope_text.encode()).hexdigest()

        def serial_of(digest: str) -> int:
            s.commit()  # ends the stream's last read; the serial is written in a transaction of its own
            with s.begin():
                begin_write(s)
                return zone_serial(s, key=key, digest=digest, now_s=rpz.now_s())

        return rpz.zone(s, w, accs, f, group=group, settings=settings, serial_of=serial_of, counter=c)

    return _export(request, session, who, group, "rpz", part="zone", filename=f"{group}.rpz.zone",
                   media="text/dns; charset=utf-8", body=body)  # fmt: skip


def _misp_filters(f: DownloadFilters) -> DownloadFilters:
    return replace(f, valid=False)


def _misp_listing(
    request: Request, session: Session, who: Principal, group: str, coll: str | None, part: str
) -> Response:
    """The feed's manifest.json or hashes.csv (`part`): both list every event the caller may read."""
    now = time.time_ns() // 1000
    write, filename, media = (
        (misp_feed.manifest, "manifest.json", "application/json")
        if part == "manifest"
        else (misp_feed.hashes, "hashes.csv", "text/csv; charset=utf-8")
    )

    def body(s: Session, w: Principal, accs: list[CollectionAccess], f: DownloadFilters, c: Counter) -> Any:
        return write(s, w, accs, f, group_name=_group_name(accs, group), now_us=now, counter=c)

    return _export(request, session, who, group, "misp", part=part, filename=filename, media=media,
                   body=body, adjust=_misp_filters, path_collection=coll)  # fmt: skip


def _misp_event(
    request: Request, session: Session, who: Principal, group: str, coll: str | None, event: str
) -> Response:
    if misp_feed.day_of(event) is None:
        raise NotFound("There is no such event here that you may read.")
    event_id = str(uuid.UUID(event))
    now = time.time_ns() // 1000

    def body(s: Session, w: Principal, accs: list[CollectionAccess], f: DownloadFilters, c: Counter) -> Any:
        return misp_feed.event(
            s, w, accs, f, event_id=event_id, group_name=_group_name(accs, group), now_us=now, counter=c
        )

    return _export(request, session, who, group, "misp", part=f"event:{event_id}",
                   filename=f"{event_id}.json", media="application/json", body=body, adjust=_misp_filters,
                   empty_is_absent=True, path_collection=coll)  # fmt: skip


# MISP fetches <feed URL>/manifest.json, /hashes.csv and /<uuid>.json: a feed of one collection has
# the collection in its path (a query string would end up before the file names)


@router.get("/{group}/misp-feed/manifest.json")
def get_misp_manifest(
    request: Request, group: str, who: Principal = Depends(downloader), session: Session = Depends(db_session)
) -> Response:
    """The MISP feed's manifest: each event's UUID, creator organisation, TLP tag, date and timestamp."""
    return _misp_listing(request, session, who, group, None, "manifest")


@router.get("/{group}/misp-feed/hashes.csv")
def get_misp_hashes(
    request: Request, group: str, who: Principal = Depends(downloader), session: Session = Depends(db_session)
) -> Response:
    """The MISP feed's hashes.csv: the MD5 of each attribute value and the UUID of its event."""
    return _misp_listing(request, session, who, group, None, "hashes")


@router.get("/{group}/misp-feed/{event}.json")
def get_misp_event(
    request: Request,
    group: str,
    event: str,
    who: Principal = Depends(downloader),
    session: Session = Depends(db_session),
) -> Response:
    """One event of the MISP feed, {"Event": {...}}; 404 for an event the caller has none of."""
    return _misp_event(request, session, who, group, None, event)


@router.get("/{group}/misp-feed/{collection}/manifest.json")
def get_collection_misp_manifest(
    request: Request,
    group: str,
    collection: str,
    who: Principal = Depends(downloader),
    session: Session = Depends(db_session),
) -> Response:
    """The manifest of one collection's MISP feed (its id or alias in the path)."""
    return _misp_listing(request, session, who, group, collection, "manifest")


@router.get("/{group}/misp-feed/{collection}/hashes.csv")
def get_collection_misp_hashes(
    request: Request,
    group: str,
    collection: str,
    who: Principal = Depends(downloader),
    session: Session = Depends(db_session),
) -> Response:
    """The hashes.csv of one collection's MISP feed."""
    return _misp_listing(request, session, who, group, collection, "hashes")


@router.get("/{group}/misp-feed/{collection}/{event}.json")
def get_collection_misp_event(
    request: Request,
    group: str,
    collection: str,
    event: str,
    who: Principal = Depends(downloader),
    session: Session = Depends(db_session),
) -> Response:
    """One event of one collection's MISP feed."""
    return _misp_event(request, session, who, group, collection, event)
