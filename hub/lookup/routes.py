"""Downloads for devices: stable, API-key authenticated URLs of blocklists and STIX bundles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from hub.errors import BadRequest
from hub.lookup import downloads
from hub.lookup.downloads import Counter, DownloadFilters
from hub.policy.tlp import Tlp
from hub.stix import timestamp_us
from hub.store.audit import AuditWriter, PullEvent
from hub.trust.access import CollectionAccess
from hub.trust.service import Principal
from hub.web.deps import db_session, downloader

router = APIRouter(prefix="/console/downloads")

STIX_BUNDLE = "application/stix+json;version=2.1"
# what the hub sends on every answer (hub.middleware): no cache keeps shared intelligence; a device
# keeps its own copy and asks again with If-None-Match (curl --etag-save / --etag-compare)
CACHE_CONTROL = "private, no-store"
_COMMON = frozenset({"collection", "tlp_min", "tlp_max", "added_after", "valid"})
ALLOWED = {
    "txt": _COMMON | {"kind", "algorithm", "include_flagged"},
    "csv": _COMMON | {"kind", "algorithm", "include_flagged"},
    "bundle": _COMMON | {"type"},
}
Stream = Callable[..., Iterator[bytes]]


def _filters(request: Request, what: str) -> tuple[str | None, DownloadFilters]:
    """The download's parameters, each checked; a wrong one is a 400 that says what it takes."""
    params = request.query_params
    unknown = sorted(set(params) - ALLOWED[what])
    if unknown:
        raise BadRequest(
            f"Unknown parameter '{unknown[0][:40]}'; this download takes: {', '.join(sorted(ALLOWED[what]))}."
        )
    for name in params:
        if len(params.getlist(name)) > 1:
            raise BadRequest(f"Give '{name}' once.")
    try:
        kind = downloads.parse_kind(params["kind"]) if "kind" in params else None
        algorithm = downloads.parse_algorithm(params["algorithm"]) if "algorithm" in params else None
        tlp_min = _tlp(params, "tlp_min")
        tlp_max = _tlp(params, "tlp_max")
        added_after = timestamp_us(params["added_after"], "added_after") if "added_after" in params else None
    except ValueError as exc:
        raise BadRequest(f"{str(exc).rstrip('.')}.") from None
    if what == "txt" and kind is None:
        raise BadRequest("A blocklist needs 'kind': ip, domain, url or hash.")
    if algorithm is not None and kind not in ("hash", None):
        raise BadRequest("'algorithm' goes with kind=hash.")
    if tlp_min is not None and tlp_max is not None and tlp_min > tlp_max:
        raise BadRequest("'tlp_min' is above 'tlp_max'.")
    # a device blocks what it is given until the next fetch: revoked and expired indicators stay out
    # unless the download asks for them (valid=false)
    valid = params.get("valid", "true").strip().lower()
    if valid not in ("true", "false", "1", "0", "yes", "no"):
        raise BadRequest("'valid' is true or false.")
    flagged = params.get("include_flagged", "false").strip().lower()
    if flagged not in ("true", "false", "1", "0", "yes", "no"):
        raise BadRequest("'include_flagged' is true or false.")
    types: tuple[str, ...] = ()
    if "type" in params:
        types = tuple(t.strip() for t in params["type"].split(",") if t.strip())[:50]
    coll = params.get("collection")
    return coll[:64] if coll else None, DownloadFilters(
        added_after_us=added_after,
        tlp_min=tlp_min,
        tlp_max=tlp_max,
        valid=valid in ("true", "1", "yes"),
        include_flagged=flagged in ("true", "1", "yes"),
        kind=kind,
        algorithm=algorithm,
        types=types,
    )


def _tlp(params: Any, name: str) -> Tlp | None:
    if name not in params:
        return None
    try:
        return Tlp.parse(params[name])
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _http_date(us: int | None) -> str | None:
    if us is None:
        return None
    return format_datetime(datetime.fromtimestamp(us / 1_000_000, tz=UTC), usegmt=True)


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _audit(
    writer: AuditWriter, who: Principal, accesses: list[CollectionAccess], action: str, counter: Counter
) -> None:
    """One audit event per collection read, handed to the audit writer once the download has been sent."""
    for acc in accesses:
        writer.submit(
            PullEvent(
                action=action,
                organisation_id=who.org_id,
                account_id=who.account_id,
                group_id=acc.group.id,
                collection_id=acc.collection.id,
                count=counter.counts.get(acc.collection.id, 0),
            ),
        )


def _download(
    request: Request, session: Session, who: Principal, group: str, what: str, stream: Stream
) -> Response:
    collection, f = _filters(request, what)
    with session.begin():
        accesses = downloads.scope(session, who, group, collection)
        fp = downloads.fingerprint(session, who, accesses, f, what)
    headers = {"ETag": fp.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Authorization"}
    last = _http_date(fp.last_added_us)
    if last:
        headers["Last-Modified"] = last
    action = f"download-{what}"
    counter = Counter()
    sm = request.app.state.sessionmaker
    background = BackgroundTask(_audit, request.app.state.audit, who, accesses, action, counter)
    if _matches(request.headers.get("if-none-match"), fp.etag):
        return Response(status_code=304, headers=headers, background=background)
    name = f"{group}-{f.kind or 'all'}" if what != "bundle" else f"{group}-bundle"
    ext = {"txt": "txt", "csv": "csv", "bundle": "json"}[what]
    headers["Content-Disposition"] = f'attachment; filename="{name}.{ext}"'
    media = {"txt": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8", "bundle": STIX_BUNDLE}[
        what
    ]

    def body() -> Iterator[bytes]:
        # a session of its own: the request's closes when the handler returns, before the stream ends;
        # no s.begin(): the stream ends its read transaction after each page (downloads.rows)
        with sm() as s:
            accs = downloads.scope(s, who, group, collection)
            if what == "bundle":
                yield from downloads.bundle(
                    s, who, accs, f, bundle_id=downloads.bundle_id_for(fp), counter=counter
                )
            else:
                yield from stream(s, who, accs, f, counter=counter)

    return StreamingResponse(body(), media_type=media, headers=headers, background=background)


@router.get("/{group}/blocklist.txt")
def get_blocklist_txt(
    request: Request, group: str, who: Principal = Depends(downloader), session: Session = Depends(db_session)
) -> Response:
    """A plain blocklist of one kind of value (ip, domain, url, hash), one value a line."""
    return _download(request, session, who, group, "txt", downloads.blocklist)


@router.get("/{group}/blocklist.csv")
def get_blocklist_csv(
    request: Request, group: str, who: Principal = Depends(downloader), session: Session = Depends(db_session)
) -> Response:
    """Values as CSV: value, type, tlp, first_seen, object_id, collection."""
    return _download(request, session, who, group, "csv", downloads.blocklist_csv)


@router.get("/{group}/bundle.json")
def get_bundle(
    request: Request, group: str, who: Principal = Depends(downloader), session: Session = Depends(db_session)
) -> Response:
    """A STIX 2.1 bundle of the latest versions, redacted as TAXII serves them."""
    return _download(request, session, who, group, "bundle", downloads.bundle)
