"""The lookup API's feedback routes (hub.feedback): report on an object, read what the caller may learn
of its feedback, and the publisher's answer to a hold.

- `POST /lookup/v1/objects/{id}/feedback` (`write` scope): `{"kind": "sighting" | "false-positive" |
  "note", "count", "first_seen", "last_seen", "text", "tlp", "collection_id"}`; 201 with the report's
  id, or the absent-object 404 for an object the caller cannot read;
- `GET /lookup/v1/objects/{id}/feedback` (`read`): counts, the reports the caller may see, held or not;
- `POST /lookup/v1/objects/{id}/decision` (`write`, the object's publisher): `{"action": "confirm" |
  "revoke"}`;
- `GET /lookup/v1/feedback/held` (`read`): the caller's own objects held out of device lists (its notice).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from hub import feedback
from hub.db import begin_write
from hub.trust.service import Principal
from hub.web.deps import db_session, reader, writer


class FeedbackIn(BaseModel):
    """A report on an object the caller may read."""

    kind: Literal["sighting", "false-positive", "note"]
    count: int = Field(default=1, ge=0, le=999_999_999, description="sightings: how many times it was seen")
    first_seen: str | None = Field(default=None, max_length=40, description="sightings: RFC 3339 UTC")
    last_seen: str | None = Field(default=None, max_length=40, description="sightings: RFC 3339 UTC")
    text: str = Field(default="", max_length=feedback.MAX_TEXT, description="a note's text, an explanation")
    tlp: str | None = Field(
        default=None, max_length=20, description="the report's TLP (default: the group's)"
    )
    collection_id: str | None = Field(
        default=None, max_length=64, description="where to report (default: the first collection holding it)"
    )


class DecisionIn(BaseModel):
    action: Literal["confirm", "revoke"]
    collection_id: str | None = Field(default=None, max_length=64)


class ReportOut(BaseModel):
    kind: str
    count: int
    first_seen: str | None
    last_seen: str | None
    date_added: str
    reporter: str | None = Field(description="the reporting organisation, when the group's policy shows it")
    id: str | None = Field(description="the report's STIX id, when the caller may read the report")


class FeedbackOut(BaseModel):
    """What the caller may learn of the feedback on one object."""

    object_id: str
    sightings: int = Field(description="distinct organisations that reported sighting it")
    sighting_count: int
    false_positives: int = Field(description="distinct organisations that reported it a false positive")
    notes: int
    last_seen: str | None
    held: bool = Field(description="held out of device lists until its publisher confirms or revokes it")
    summary: str
    reports: list[ReportOut]


router = APIRouter(prefix="/lookup/v1", tags=["feedback"])


def _out(object_id: str, s: feedback.Summary) -> FeedbackOut:
    return FeedbackOut(
        object_id=object_id, sightings=s.sightings, sighting_count=s.sighting_count,
        false_positives=s.false_positives, notes=s.notes, last_seen=s.last_seen, held=s.held,
        summary=s.text(),
        reports=[ReportOut(**r.__dict__) for r in s.reports],
    )  # fmt: skip


@router.post("/objects/{object_id}/feedback", status_code=201)
def post_feedback(
    object_id: str, body: FeedbackIn, who: Principal = Depends(writer), session: Session = Depends(db_session)
) -> JSONResponse:
    """Report a sighting, a false positive or a note on an object the caller may read."""
    with session.begin():
        begin_write(session)
        placed, result = feedback.report(
            session, who, object_id[:300], body.kind, collection_id=body.collection_id, count=body.count,
            first_seen=body.first_seen, last_seen=body.last_seen, text=body.text, tlp=body.tlp,
        )  # fmt: skip
    entry = result.outcome.successes[0]
    return JSONResponse(
        {
            "id": entry["id"],
            "version": entry["version"],
            "collection_id": placed.acc.collection.id,
            "held": object_id in result.held,
        },
        status_code=201,
    )


@router.get("/objects/{object_id}/feedback", response_model=FeedbackOut)
def get_feedback(
    object_id: str, who: Principal = Depends(reader), session: Session = Depends(db_session)
) -> JSONResponse:
    """What the caller may learn of the feedback on an object (404 as for an absent object when it may
    not read it)."""
    with session.begin():
        feedback.place(session, who, object_id[:300])
        s = feedback.summary_for(session, who, object_id[:300])
    return JSONResponse(_out(object_id, s).model_dump(), headers={"Cache-Control": "private, no-store"})


@router.post("/objects/{object_id}/decision")
def post_decision(
    object_id: str, body: DecisionIn, who: Principal = Depends(writer), session: Session = Depends(db_session)
) -> JSONResponse:
    """The publisher confirms an object held by false-positive reports (it stays on device lists), or
    revokes it."""
    with session.begin():
        begin_write(session)
        placed = feedback.decide(session, who, object_id[:300], body.action, collection_id=body.collection_id)
    return JSONResponse(
        {"object_id": object_id, "action": body.action, "collection_id": placed.acc.collection.id}
    )


@router.get("/feedback/held")
def get_held(who: Principal = Depends(reader), session: Session = Depends(db_session)) -> JSONResponse:
    """The caller's own objects that false-positive reports hold out of device lists."""
    with session.begin():
        held = feedback.held_for_publisher(session, who)
    return JSONResponse(
        {"held": [{"collection_id": c, "object_id": o} for c, o in held]},
        headers={"Cache-Control": "private, no-store"},
    )
