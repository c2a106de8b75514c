"""The inside view for scripts and ticketing systems: `GET /lookup/v1/inside` (API key, JSON or CSV)."""

from __future__ import annotations

import hashlib

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hub.db import begin_write
from hub.errors import BadRequest
from hub.lookup import inside
from hub.stix import timestamp_us
from hub.store.audit import record
from hub.trust.service import Principal
from hub.web.deps import db_session, reader

router = APIRouter(prefix="/lookup/v1", tags=["lookup"])

ALLOWED = frozenset({"format", "added_after", "limit", "before"})


def _before(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    us, _, seq = text.partition(":")
    if not (us.isdigit() and seq.isdigit()) or len(text) > 40:
        raise BadRequest("'before' is the 'next' value of the previous page.")
    return int(us), int(seq)


@router.get("/inside")
def get_inside(
    request: Request,
    format: str = Query("json", description="json or csv"),
    added_after: str | None = Query(None, description="only objects added after this time (RFC 3339)"),
    limit: int = Query(100, ge=1, le=inside.MAX_LIMIT),
    before: str | None = Query(None, description="the `next` value of the previous page"),
    who: Principal = Depends(reader),
    session: Session = Depends(db_session),
) -> Response:
    """The objects your organisation may read whose values fall in its confirmed constituency, newest
    first, each with the matched value and the rule that matched (network, ASN, domain or ccTLD)."""
    unknown = sorted(set(request.query_params) - ALLOWED)
    if unknown:
        raise BadRequest(f"Unknown parameter '{unknown[0][:40]}'; this takes: {', '.join(sorted(ALLOWED))}.")
    if format not in ("json", "csv"):
        raise BadRequest("'format' is json or csv.")
    try:
        after_us = timestamp_us(added_after, "added_after") if added_after else None
    except ValueError as exc:
        raise BadRequest(f"{str(exc).rstrip('.')}.") from None
    with session.begin():
        page = inside.inside(session, who, added_after_us=after_us, before=_before(before), limit=limit)
    nxt = f"{page.next[0]}:{page.next[1]}" if page.next else None
    if format == "csv":
        body = inside.as_csv(page).encode()
        media = "text/csv; charset=utf-8"
    else:
        body = orjson.dumps(
            {
                "results": [i.as_dict() for i in page.items],
                "more": page.more,
                "next": nxt,
                "rules": page.rules,
            }
        )
        media = "application/json"
    # the answer itself is the validator: the same rows for the same reader give the same tag
    etag = '"' + hashlib.sha256(f"{who.org_id}:".encode() + body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-store", "Vary": "Authorization"}
    if nxt:
        headers["X-Hub-Next"] = nxt
    with session.begin():
        begin_write(session)
        record(
            session,
            action="lookup-inside",
            organisation_id=who.org_id,
            account_id=who.account_id,
            count=len(page.items),
        )
    inm = request.headers.get("if-none-match")
    if inm and etag in [t.strip().removeprefix("W/") for t in inm.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media, headers=headers)
