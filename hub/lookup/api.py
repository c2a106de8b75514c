"""The lookup API for scripts and SOAR tools: `GET /lookup/v1/search?q=VALUE` with an API key.

The same answers as the console's search (hub.lookup.search, reading the value index through TAXII's
visibility): JSON results, newest first, each with how many members the caller sees reporting the
value. A key needs the `read` scope (as TAXII GETs); each search is audited like a pull (one
`lookup-search` event per collection that gave results, with how many). The schema is served at
`/lookup/v1/openapi.json`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from hub.errors import BadRequest
from hub.lookup import search as lookup_search
from hub.lookup.feedback_api import router as feedback_router
from hub.lookup.values import MAX_QUERY_LENGTH, QueryError
from hub.store.audit import AuditWriter, PullEvent
from hub.trust.service import Principal
from hub.web.deps import db_session, reader

PREFIX = "/lookup/v1"
ACTION = "lookup-search"


class ErrorRead(BaseModel):
    """A TAXII 2.1 error resource."""

    title: str
    http_status: str
    description: str = ""


class ResultRead(BaseModel):
    """One latest visible version holding the searched value, in one collection the caller may read."""

    value: str = Field(description="The value as the object holds it, in canonical form")
    kind: str = Field(description="ip, domain, url, email or hash")
    type: str = Field(description="The STIX type of the object (an observable type, or indicator)")
    object_id: str
    version: str = Field(description="The object's modified (or, for an observable, first added) time")
    date_added: str
    collection: str = Field(description="The collection's alias")
    collection_id: str
    group: str = Field(description="The trust group's slug")
    tlp: str = Field(description="TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT or TLP:RED")
    publisher: str = Field(description="The publishing member organisation's slug")
    publisher_name: str
    in_pattern: bool = Field(description="The value is compared in an indicator's STIX pattern")
    state: str | None = Field(description='"revoked" or "expired" (left out of device lists), or null')
    flagged: str | None = Field(description="The known-benign list holding the value, or null")
    reporters: int = Field(
        description="Distinct members whose live versions holding this value the caller may read"
    )
    sightings: int = Field(default=0, description="Distinct organisations reporting a sighting of the object")
    false_positives: int = Field(
        default=0, description="Distinct organisations reporting the object a false positive"
    )
    held: bool = Field(default=False, description="Held out of device lists by false-positive reports")


class SearchRead(BaseModel):
    """The results of a search, newest first; `more` when further results exist beyond them."""

    query: str = Field(description="The value searched, refanged and normalised")
    kind: str
    results: list[ResultRead]
    more: bool


_bearer = HTTPBearer(
    auto_error=False, description="An API key with the read scope: `Authorization: Bearer hub_...`"
)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorRead, "description": text}
    for code, text in {
        400: "No value, or text that is no IP, network, domain, URL, e-mail address or hash",
        401: "No API key, or one that is unknown, revoked or expired",
        403: "The key lacks the read scope",
        404: "A group that is unknown or not the caller's",
    }.items()
}
router = APIRouter(prefix=PREFIX, responses=ERRORS, dependencies=[Security(_bearer)], tags=["lookup"])
docs_router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/search", response_model=SearchRead)
def get_search(
    request: Request,
    q: str = Query(
        description="The value: an IP address or network, a domain, a URL, an e-mail address or an MD5, "
        f"SHA-1, SHA-256 or SHA-512 hash, at most {MAX_QUERY_LENGTH} characters; defanged spellings "
        "(hxxp, [.]) are read too",
    ),
    group: str | None = Query(default=None, max_length=64, description="Search one trust group only"),
    limit: int = Query(default=50, ge=1, le=lookup_search.MAX_LIMIT),
    who: Principal = Depends(reader),
    session: Session = Depends(db_session),
) -> JSONResponse:
    """Which objects the caller may read hold this value, in every collection it may read (an address
    also finds the stored networks holding it; a domain the URLs on it)."""
    if "\x00" in q:
        raise BadRequest("q holds a NUL character.")
    try:
        with session.begin():
            found = lookup_search.search(session, who, q, limit=limit, group=group)
    except QueryError as exc:
        raise BadRequest(str(exc)) from None
    _audit(request.app.state.audit, who, found.hits)
    body = SearchRead(
        query=found.query,
        kind=found.kind,
        more=found.more,
        results=[_result(h) for h in found.hits],
    )
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "private, no-store"})


def _result(h: lookup_search.SearchHit) -> ResultRead:
    return ResultRead(
        value=h.matched, kind=h.matched_kind, type=h.type, object_id=h.object_id, version=h.version,
        date_added=h.date_added, collection=h.collection, collection_id=h.collection_id, group=h.group,
        tlp=h.tlp.label, publisher=h.publisher_slug, publisher_name=h.publisher, in_pattern=h.in_pattern,
        state=h.state, flagged=h.flagged, reporters=h.reporters, sightings=h.sightings,
        false_positives=h.false_positives, held=h.held,
    )  # fmt: skip


def _audit(writer: AuditWriter, who: Principal, hits: list[lookup_search.SearchHit]) -> None:
    """One pull-like audit event per collection that gave results (how many it gave)."""
    per: dict[tuple[int, str], int] = {}
    for h in hits:
        per[(h.group_id, h.collection_id)] = per.get((h.group_id, h.collection_id), 0) + 1
    for (group_id, collection_id), n in per.items():
        writer.submit(
            PullEvent(
                action=ACTION, organisation_id=who.org_id, account_id=who.account_id, group_id=group_id,
                collection_id=collection_id, count=n,
            )
        )  # fmt: skip


@docs_router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI schema of the lookup API."""
    if getattr(request.app.state, "lookup_openapi", None) is None:
        request.app.state.lookup_openapi = get_openapi(
            title="The hub: lookup API",
            version="1",
            description="Search by value for scripts and SOAR tools. Errors are TAXII 2.1 error resources.",
            routes=[*router.routes, *feedback_router.routes],
        )
    return JSONResponse(request.app.state.lookup_openapi)


api_router = APIRouter()
api_router.include_router(router)
api_router.include_router(feedback_router)
api_router.include_router(docs_router)
