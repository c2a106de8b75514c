"""The TAXII 2.1 HTTP surface: discovery, API roots, collections, objects, manifest, versions, status."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from hub import feedback, ingest
from hub.db import begin_write
from hub.errors import BadRequest, ClientGone, Forbidden, NotFound, PayloadTooLarge
from hub.lookup.benign import Guard
from hub.policy.granular import redact
from hub.policy.rules import Submitter
from hub.settings import Settings
from hub.store import objects as store
from hub.store import statuses
from hub.store.audit import PullEvent, record
from hub.store.markings import marking_index, referenced
from hub.taxii import envelopes
from hub.taxii.deps import taxii_accept, taxii_scope
from hub.taxii.filters import parse_filters
from hub.taxii.media import STIX, TAXII, check_content_type
from hub.trust import access
from hub.trust.benign import guard_for
from hub.trust.models import TrustGroup
from hub.trust.service import Principal
from hub.web.deps import db_session, page_key, principal, settings

log = logging.getLogger("hub")
router = APIRouter(dependencies=[Depends(taxii_accept), Depends(taxii_scope)])

OBJECT_FILTERS = frozenset(
    {"added_after", "match[id]", "match[type]", "match[version]", "match[spec_version]"}
)
ONE_OBJECT_FILTERS = frozenset({"added_after", "match[version]", "match[spec_version]"})
VERSIONS_FILTERS = frozenset({"added_after", "match[spec_version]"})
DELETE_FILTERS = frozenset({"match[version]", "match[spec_version]"})


def taxii(
    body: bytes | dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A response in the TAXII 2.1 media type."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status_code, headers=headers, media_type=TAXII)


def _root_url(request: Request, cfg: Settings, slug: str) -> str:
    base = cfg.public_url.rstrip("/") if cfg.public_url else str(request.base_url).rstrip("/")
    return f"{base}/taxii2/{slug}/"


@router.get("/taxii2/")
def get_discovery(
    request: Request,
    who: Principal = Depends(principal),
    session: Session = Depends(db_session),
    cfg: Settings = Depends(settings),
) -> Response:
    """TAXII 2.1 section 4.1: Server Discovery; lists only the caller's API roots."""
    with session.begin():
        slugs = list(
            session.scalars(
                select(TrustGroup.slug)
                .where(TrustGroup.id.in_(list(who.memberships)))
                .order_by(TrustGroup.slug)
            )
        )
    body: dict[str, Any] = {"title": cfg.title, "description": "TAXII 2.1 hub: one API root per trust group."}
    if cfg.contact:
        body["contact"] = cfg.contact
    if slugs:
        body["api_roots"] = [_root_url(request, cfg, s) for s in slugs]
        body["default"] = body["api_roots"][0]
    return taxii(body)


@router.get("/taxii2/{api_root}/")
def get_api_root(
    api_root: str,
    who: Principal = Depends(principal),
    session: Session = Depends(db_session),
    cfg: Settings = Depends(settings),
) -> Response:
    """TAXII 2.1 section 4.2: Get API Root Information."""
    with session.begin():
        group = access.group_for(session, who, api_root)
        body = {
            "title": group.name,
            "description": group.description,
            "versions": [TAXII],
            "max_content_length": cfg.max_content_length,
        }
    return taxii(body)


@router.get("/taxii2/{api_root}/status/{status_id}/")
def get_status(
    api_root: str, status_id: str, who: Principal = Depends(principal), session: Session = Depends(db_session)
) -> Response:
    """TAXII 2.1 section 4.3: Get Status; only the submitting organisation sees it."""
    with session.begin():
        group = access.group_for(session, who, api_root)
        body = statuses.submitted_status(session, status_id=status_id, group_id=group.id, org_id=who.org_id)
        if body is None:
            raise NotFound(f"There is no status '{status_id[:80]}' for you in API root '{api_root}'.")
    return taxii(body)


def _collection(acc: access.CollectionAccess) -> dict[str, Any]:
    c = acc.collection
    out: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "can_read": acc.can_read,
        "can_write": acc.can_write,
        "media_types": [STIX],
    }
    if c.description:
        out["description"] = c.description
    if c.alias:
        out["alias"] = c.alias
    return out


@router.get("/taxii2/{api_root}/collections/")
def get_collections(
    api_root: str, who: Principal = Depends(principal), session: Session = Depends(db_session)
) -> Response:
    """TAXII 2.1 section 5.1: Get Collections; named-recipient collections only to those they name."""
    with session.begin():
        group = access.group_for(session, who, api_root)
        colls = [_collection(a) for a in access.list_collections(session, who, group)]
    return taxii({"collections": colls} if colls else {})


@router.get("/taxii2/{api_root}/collections/{collection_id}/")
def get_collection(
    api_root: str,
    collection_id: str,
    who: Principal = Depends(principal),
    session: Session = Depends(db_session),
) -> Response:
    """TAXII 2.1 section 5.2: Get A Collection."""
    with session.begin():
        acc = access.authorize(session, who, api_root, collection_id, "read")
        body = _collection(acc)
    return taxii(body)


def _reader(acc: access.CollectionAccess, who: Principal) -> store.Reader:
    return store.Reader(org_id=who.org_id, clearance=acc.clearance, coordinator=acc.role == "coordinator")


def _objects_body(session: Session, acc: access.CollectionAccess, page: store.Page, key: bytes) -> bytes:
    """The envelope of a page; rows with optional content above the reader's clearance are redacted."""
    clearance = acc.clearance
    redacted: dict[int, bytes | None] = {}
    pending = {
        r.seq: orjson.loads(r.body)
        for r in page.rows
        if r.redact_tlp is not None and r.redact_tlp > clearance
    }
    if pending:
        # the same definitions ingest judged the object by: built-in TLP and those stored here
        markings = marking_index(session, collection_id=acc.collection.id, refs=referenced(pending.values()))
        for seq, obj in pending.items():
            out = redact(obj, clearance, markings)
            redacted[seq] = None if out is None else orjson.dumps(out)

    def render(row: Any) -> bytes | None:
        return redacted.get(row.seq, row.body)

    return envelopes.envelope(page, key, render)


def _pull_event(who: Principal, acc: access.CollectionAccess, count: int, what: str) -> PullEvent:
    return PullEvent(
        action=f"pull-{what}",
        organisation_id=who.org_id,
        account_id=who.account_id,
        group_id=acc.group.id,
        collection_id=acc.collection.id,
        count=count,
    )


@router.get("/taxii2/{api_root}/collections/{collection_id}/objects/")
def get_objects(
    request: Request,
    api_root: str,
    collection_id: str,
    who: Principal = Depends(principal),
    session: Session = Depends(db_session),
    cfg: Settings = Depends(settings),
    key: bytes = Depends(page_key),
) -> Response:
    """TAXII 2.1 section 5.4: Get Objects."""
    return _paged_read(
        request, cfg, key, session, who, api_root, collection_id,
        allow=OBJECT_FILTERS, read=store.get_objects, render=_objects_body, audit="objects",
    )  # fmt: skip


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared[:19]) > limit:
        raise PayloadTooLarge(f"The body is {declared[:19]} bytes; this server takes at most {limit}.")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The body is over {limit} bytes, the most this server takes.")
            chunks.append(chunk)
    except ClientDisconnect:
        # nobody is left to answer; nothing was parsed or stored
        log.info("client disconnected during the upload of %s after %d bytes", request.url.path, size)
        raise ClientGone() from None
    return b"".join(chunks)


def _envelope_objects(body: bytes, max_objects: int) -> list[Any]:
    """The objects of a TAXII envelope; a STIX bundle's objects are taken alike.

    TAXII 2.1 asks for an envelope, but the stix2 library's TAXIICollectionSink (and with it every tool
    built on stix2's data stores) posts a STIX bundle; medallion takes its `objects` too. Each object is
    still judged alone, so a bundle of STIX 2.0 objects gets one failure per object, with the reason.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(doc, dict):
        raise BadRequest("The body must be a TAXII envelope: a JSON object with an 'objects' list.")
    objs = doc.get("objects")
    if not isinstance(objs, list):
        what = "bundle" if doc.get("type") == "bundle" else "envelope"
        raise BadRequest(f"The {what} needs an 'objects' list.")
    if len(objs) > max_objects:
        raise PayloadTooLarge(
            f"The envelope holds {len(objs)} objects; this server takes at most {max_objects} in one "
            "request. Send them in several envelopes."
        )
    return objs


@router.post("/taxii2/{api_root}/collections/{collection_id}/objects/")
async def add_objects(
    request: Request,
    api_root: str,
    collection_id: str,
    who: Principal = Depends(principal),
    session: Session = Depends(db_session),
    cfg: Settings = Depends(settings),
) -> Response:
    """TAXII 2.1 section 5.5: Add Objects; every object is judged alone, the rest are stored."""
    check_content_type(request.headers.get("content-type"))
    # a reader's or an outsider's POST is refused before a byte of its body is read or parsed
    guard, reports_only = await run_in_threadpool(_authorize_write, session, who, api_root, collection_id)
    body = await _read_body(request, cfg.max_content_length)
    objs = _envelope_objects(body, cfg.max_objects_per_envelope)
    if reports_only:
        return await run_in_threadpool(_add_reports, session, who, api_root, collection_id, objs, guard)
    return await run_in_threadpool(_add_objects, session, who, api_root, collection_id, objs, guard)


def _authorize_write(
    session: Session, who: Principal, api_root: str, collection_id: str
) -> tuple[Guard, bool]:
    """401/403/404 for a caller that may not add objects here, in a short read transaction; the
    group's value checks (IP prefix minimums, known-benign mode and own list) otherwise. A member that
    may read but not write here may add feedback only (hub.feedback): True then."""
    with session.begin():
        try:
            acc = access.authorize(session, who, api_root, collection_id, "write")
        except Forbidden:
            acc = access.authorize(session, who, api_root, collection_id, "read")
            if acc.collection.archived_at is not None:
                raise
            return guard_for(session, acc.group, ingest_only=True), True
        return guard_for(session, acc.group, ingest_only=True), False


def _add_reports(
    session: Session, who: Principal, api_root: str, collection_id: str, objs: list[Any], guard: Guard
) -> Response:
    with session.begin():
        begin_write(session)
        acc = access.authorize(session, who, api_root, collection_id, "read")
        result = feedback.add_reports(session, acc=acc, who=who, objects=objs, guard=guard)
    return taxii(result.outcome.resource(), status_code=202)


def _add_objects(
    session: Session, who: Principal, api_root: str, collection_id: str, objs: list[Any], guard: Guard
) -> Response:
    # validation first, outside the write transaction: an envelope of costly patterns never holds
    # the write lock (on SQLite, every other writer's) while it is checked
    prepared = ingest.prepare(objs, guard)
    with session.begin():
        begin_write(session)
        acc = access.authorize(session, who, api_root, collection_id, "write")
        sub = ingest.Submission(
            collection=acc.policy,
            submitter=Submitter(
                org_id=who.org_id,
                identity_id=who.identity_id,
                role=acc.role,  # type: ignore[arg-type]
                name=who.org_slug,
            ),
            group_id=acc.group.id,
            account_id=who.account_id,
            clearance=acc.clearance,
        )
        outcome = ingest.add_prepared(session, submission=sub, prepared=prepared)
    return taxii(outcome.resource(), status_code=202)


@router.get("/taxii2/{api_root}/collections/{collection_id}/objects/{object_id}/")
def get_object(
    request: Request,
    api_root: str,
    collection_id: str,
    object_id: str,
    who: Principal = Depends(principal),
    session: Session = Depends(db_session),
    cfg: Settings = Depends(settings),
    key: bytes = Depends(page_key),
) -> Response:
    """TAXII 2.1 section 5.6: Get An Object; hidden and absent objects alike are 404."""
    return _paged_read(
        request, cfg, key, session, who, api_root, collection_id,
        allow=ONE_OBJECT_FILTERS, read=store.get_objects, render=_objects_body, audit="object",
        object_id=object_id,
    )  # fmt: skip


@router.delete("/taxii2/{api_root}/collections/{collection_id}/objects/{object_id}/")
def delete_object(
    request: Request,
    api_root: str,
    collection_id: str,
    object_id: str,
    who: Principal = Depends(principal),
    session: Session = Depends(db_session),
    cfg: Settings = Depends(settings),
    key: bytes = Depends(page_key),
) -> Response:
    """TAXII 2.1 section 5.7: Delete An Object; a coordinator deletes any, a contributor its own."""
    f = parse_filters(
        request.query_params,
        default_limit=1,
        max_limit=1,
        signing_key=key,
        allow=DELETE_FILTERS,
        default_version="all",
        object_id=object_id,
    )
    with session.begin():
        begin_write(session)  # it reads before it deletes: SQLite must not upgrade a reader (a 503)
        acc = access.authorize(session, who, api_root, collection_id, "write")
        own_only = None if acc.role == "coordinator" and not acc.is_named else who.org_id
        n = store.delete_versions(
            session,
            collection_id=acc.collection.id,
            reader=_reader(acc, who),
            filters=f,
            producer_id=own_only,
        )
        if n == 0:
            raise NotFound(f"There is no object '{object_id[:300]}' here that you may delete.")
        record(
            session,
            action="delete",
            organisation_id=who.org_id,
            account_id=who.account_id,
            group_id=acc.group.id,
            collection_id=acc.collection.id,
            count=n,
            detail=object_id[:300],
        )
    return taxii(b"", status_code=200)


@router.get("/taxii2/{api_root}/collections/{collection_id}/manifest/")
def get_manifest(
    request: Request,
    api_root: str,
    collection_id: str,
    who: Principal = Depends(principal),
    session: Session = Depends(db_session),
    cfg: Settings = Depends(settings),
    key: bytes = Depends(page_key),
) -> Response:
    """TAXII 2.1 section 5.3: Get Object Manifests."""
    return _paged_read(
        request, cfg, key, session, who, api_root, collection_id,
        allow=OBJECT_FILTERS, read=store.get_manifest,
        render=lambda _s, _a, page, key: envelopes.manifest(page, key, STIX), audit="manifest",
    )  # fmt: skip


@router.get("/taxii2/{api_root}/collections/{collection_id}/objects/{object_id}/versions/")
def get_versions(
    request: Request,
    api_root: str,
    collection_id: str,
    object_id: str,
    who: Principal = Depends(principal),
    session: Session = Depends(db_session),
    cfg: Settings = Depends(settings),
    key: bytes = Depends(page_key),
) -> Response:
    """TAXII 2.1 section 5.8: Get Object Versions."""
    return _paged_read(
        request, cfg, key, session, who, api_root, collection_id,
        allow=VERSIONS_FILTERS, read=store.get_versions,
        render=lambda _s, _a, page, key: envelopes.versions(page, key), audit="versions",
        object_id=object_id, default_version="all",
    )  # fmt: skip


def _paged_read(
    request: Request,
    cfg: Settings,
    key: bytes,
    session: Session,
    who: Principal,
    api_root: str,
    collection_id: str,
    *,
    allow: frozenset[str],
    read: Callable[..., store.Page],
    render: Callable[[Session, access.CollectionAccess, store.Page, bytes], bytes],
    audit: str,
    object_id: str | None = None,
    default_version: str = "last",
) -> Response:
    """Every paged read: filters, authorisation, one policy-checked page, audit, date-added headers."""
    f = parse_filters(
        request.query_params,
        default_limit=cfg.default_page_size,
        max_limit=cfg.max_page_size,
        signing_key=key,
        allow=allow,
        default_version=default_version,
        object_id=object_id,
    )
    with session.begin():
        acc = access.authorize(session, who, api_root, collection_id, "read")
        page = read(session, collection_id=acc.collection.id, reader=_reader(acc, who), filters=f)
        if object_id is not None and not page.rows and f.position is None and f.added_after_us is None:
            # hidden and absent look alike
            raise NotFound(f"There is no object '{object_id[:300]}' in this collection.")
        body = render(session, acc, page, key)
        event = _pull_event(who, acc, len(page.rows), audit)
    # the audit row is written by the process's audit writer, batched with others: a busy or locked
    # database delays the row, never the read (hub.store.audit.AuditWriter)
    request.app.state.audit.submit(event)
    return taxii(body, headers=envelopes.page_headers(page))
