"""Downloads for devices: stable, API-key authenticated URLs of blocklists and STIX bundles."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from hub.errors import BadRequest
from hub.lookup import device_cache, downloads
from hub.lookup.device_cache import DeviceListCache
from hub.lookup.downloads import Counter, DownloadFilters
from hub.policy.tlp import Tlp
from hub.stix import timestamp_us
from hub.store.audit import AuditWriter, PullEvent
from hub.trust.access import CollectionAccess
from hub.trust.service import Principal
from hub.web.deps import db_session, downloader

log = logging.getLogger("hub.lookup")
router = APIRouter(prefix="/console/downloads")

STIX_BUNDLE = "application/stix+json;version=2.1"
# what the hub sends on every answer (hub.middleware): no cache keeps shared intelligence; a device
# keeps its own copy and asks again with If-None-Match (curl --etag-save / --etag-compare)
CACHE_CONTROL = "private, no-store"
_COMMON = frozenset({"collection", "tlp_min", "tlp_max", "added_after", "valid"})
ALLOWED = {
    "txt": _COMMON | {"kind", "algorithm", "include_flagged", "min_reporters"},
    "csv": _COMMON | {"kind", "algorithm", "include_flagged", "min_reporters"},
    "bundle": _COMMON | {"type"},
    # the device formats of hub.lookup.export_routes: a zone and a MISP feed are whole snapshots (no
    # added_after); a MISP feed says revoked and expired with to_ids (no valid)
    "suricata": _COMMON | {"kind", "include_flagged"},
    "zeek": _COMMON | {"kind", "include_flagged"},
    "rpz": (_COMMON - {"added_after"}) | {"kind", "include_flagged"},
    "misp": (_COMMON - {"added_after", "valid"}) | {"include_flagged"},
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
    min_reporters = 0
    if "min_reporters" in params:
        raw = params["min_reporters"].strip()
        if not raw.isdigit() or not 0 <= int(raw) <= 1000:
            raise BadRequest("'min_reporters' is a whole number of members, 0 to 1000 (2: a consensus list).")
        min_reporters = int(raw)
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
        min_reporters=min_reporters,
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
    """Whether If-None-Match names `etag`, in either encoding (a gzip copy's tag is `gzip_etag`'s)."""
    if not header:
        return False
    tags = [_plain_etag(t.strip().removeprefix("W/")) for t in header.split(",")]
    return "*" in tags or etag in tags


_GZIP_SUFFIX = '-gzip"'


def gzip_etag(etag: str) -> str:
    """The ETag of a list's gzip copy: another representation, so another strong tag (RFC 9110 8.8.3)."""
    return etag[:-1] + _GZIP_SUFFIX if etag.endswith('"') else etag


def _plain_etag(tag: str) -> str:
    return tag[: -len(_GZIP_SUFFIX)] + '"' if tag.endswith(_GZIP_SUFFIX) else tag


def accepts_gzip(request: Request) -> bool:
    """Whether the request's Accept-Encoding takes gzip (RFC 9110 12.5.3): `gzip` (or `x-gzip`) with a
    q-value above 0, or `*` when gzip is not named; a q-value that is not a number counts as 0."""
    header = request.headers.get("accept-encoding")
    if not header:
        return False
    named: float | None = None
    star: float | None = None
    for part in header.split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        coding = coding.lower()
        if coding in ("gzip", "x-gzip"):
            named = q if named is None else max(named, q)
        elif coding == "*":
            star = q
    chosen = named if named is not None else star
    return chosen is not None and chosen > 0


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


def _validators(etag: str, last_added_us: int | None, *, kept: bool = False) -> dict[str, str]:
    """ETag, Last-Modified and the cache headers; `kept` lists (which have a gzip copy) vary by encoding."""
    vary = "Authorization, Accept-Encoding" if kept else "Authorization"
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": vary}
    last = _http_date(last_added_us)
    if last:
        headers["Last-Modified"] = last
    return headers


def device_lists(request: Request) -> DeviceListCache | None:
    """The process's kept device lists (HUB_DEVICE_LIST_MAX_AGE), or None when they are off."""
    cache: DeviceListCache | None = getattr(request.app.state, "device_lists", None)
    return cache


def kept_copy(
    request: Request,
    got: device_cache.Copy,
    *,
    counter: Counter,
    background: BackgroundTask,
    media: str,
    disposition: str,
) -> Response:
    """A kept copy as the answer, with its own validators and `Age` (a 304 when the device holds it);
    its gzip copy, `Content-Encoding: gzip` and that copy's ETag when the client accepts gzip."""
    etag = gzip_etag(got.kept.etag) if got.gzip else got.kept.etag
    headers = _validators(etag, got.kept.last_added_us, kept=True)
    headers["Age"] = str(got.age_s)
    if _matches(request.headers.get("if-none-match"), got.kept.etag):
        got.close()
        return Response(status_code=304, headers=headers, background=background)
    counter.counts.update(got.kept.counts)
    headers["Content-Disposition"] = disposition
    if got.gzip:
        headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(got.kept.gz_size)
    else:
        headers["Content-Length"] = str(got.kept.size)
    return StreamingResponse(got.chunks(), media_type=media, headers=headers, background=background)


def from_kept(
    request: Request,
    cache: DeviceListCache,
    fp: downloads.Fingerprint,
    *,
    counter: Counter,
    background: BackgroundTask,
    media: str,
    disposition: str,
    produce: device_cache.Produce,
) -> Response:
    """A device list from the cache: the lineage's kept copy when it is today's answer or young enough,
    else the build in progress or a new one, followed as it is written. The caller has authorized the
    request and computed `fp` (its lineage and current ETag) first. The validators are those of the copy
    served, so If-None-Match is answered against it; `Age` says how old it is."""
    inm = request.headers.get("if-none-match")
    gzip = accepts_gzip(request)
    got: device_cache.Copy | device_cache.Follower | None = cache.kept(fp.lineage, fp.etag, gzip=gzip)
    if got is None and _matches(inm, fp.etag):  # today's answer is the device's own copy: nothing to build
        headers = _validators(fp.etag, fp.last_added_us, kept=True)
        return Response(status_code=304, headers=headers, background=background)
    if got is None:
        try:
            got = cache.follow(fp.lineage, fp.etag, fp.last_added_us, produce, gzip=gzip)
        except OSError as exc:  # no room or no directory for a copy: the list is built for this request
            log.warning("device list not kept: %s", exc)
            headers = _validators(fp.etag, fp.last_added_us)
            headers["Content-Disposition"] = disposition
            body = produce(counter.counts)
            return StreamingResponse(body, media_type=media, headers=headers, background=background)
    if isinstance(got, device_cache.Copy):
        return kept_copy(
            request, got, counter=counter, background=background, media=media, disposition=disposition
        )
    build = got.build
    headers = _validators(build.etag, build.last_added_us, kept=True)
    headers["Age"] = "0"
    if _matches(inm, build.etag):
        got.close()
        return Response(status_code=304, headers=headers, background=background)
    first = got.first()  # the build's error, if it failed before writing, is this request's
    headers["Content-Disposition"] = disposition
    follower = got

    def stream() -> Iterator[bytes]:
        yield from follower.rest(first)
        counter.counts.update(follower.build.counts)  # complete: the build's counts are final

    return StreamingResponse(stream(), media_type=media, headers=headers, background=background)


def _download(
    request: Request, session: Session, who: Principal, group: str, what: str, stream: Stream
) -> Response:
    collection, f = _filters(request, what)
    cache = device_lists(request)
    action = f"download-{what}"
    counter = Counter()
    name = f"{group}-{f.kind or 'all'}" if what != "bundle" else f"{group}-bundle"
    ext = {"txt": "txt", "csv": "csv", "bundle": "json"}[what]
    disposition = f'attachment; filename="{name}.{ext}"'
    media = {"txt": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8", "bundle": STIX_BUNDLE}[
        what
    ]
    with session.begin():
        accesses = downloads.scope(session, who, group, collection)
        background = BackgroundTask(_audit, request.app.state.audit, who, accesses, action, counter)
        guard = downloads.group_guard(session, accesses)  # read once, for the lineage and the ETag
        # a copy young enough is the answer before anything reads what the reader sees now
        if cache is not None:
            kin = downloads.lineage(session, who, accesses, f, what, group=group, guard=guard)
            young = cache.young(kin, gzip=accepts_gzip(request))
            if young is not None:
                return kept_copy(
                    request, young, counter=counter, background=background, media=media,
                    disposition=disposition,
                )  # fmt: skip
        fp = downloads.fingerprint(session, who, accesses, f, what, group=group, guard=guard)
    headers = _validators(fp.etag, fp.last_added_us)
    sm = request.app.state.sessionmaker

    def build(out: Counter) -> Iterator[bytes]:
        # a session of its own: the request's closes when the handler returns, before the stream ends;
        # no s.begin(): the stream ends its read transaction after each page (downloads.rows)
        with sm() as s:
            accs = downloads.scope(s, who, group, collection)
            if what == "bundle":
                bid = downloads.bundle_id_for(fp)
                yield from downloads.bundle(s, who, accs, f, bundle_id=bid, counter=out)
            else:
                yield from stream(s, who, accs, f, counter=out)

    if cache is not None:
        return from_kept(
            request, cache, fp, counter=counter, background=background, media=media, disposition=disposition,
            produce=lambda counts: build(Counter(counts)),
        )  # fmt: skip
    if _matches(request.headers.get("if-none-match"), fp.etag):
        return Response(status_code=304, headers=headers, background=background)
    headers["Content-Disposition"] = disposition
    return StreamingResponse(build(counter), media_type=media, headers=headers, background=background)


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
