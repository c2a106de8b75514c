"""The object page's feedback buttons (hub.feedback): a member reports a sighting, a false positive or a
note on an object it may read; the publisher confirms or revokes an object false positives hold. Each
form is a POST with the console's CSRF token; the answer is the object page again, with a notice."""

from __future__ import annotations

import hmac
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from hub import feedback
from hub.console.i18n import N_
from hub.console.web import PREFIX, Me, check_origin, signed_in
from hub.db import begin_write
from hub.errors import BadRequest, Forbidden
from hub.web.deps import db_session

router = APIRouter(prefix=PREFIX, include_in_schema=False)

NOTICES = {
    "sighting": N_("Your sighting was sent to the publisher."),
    "false-positive": N_("Your false-positive report was sent to the publisher."),
    "note": N_("Your note was sent to the publisher."),
    "confirm": N_("You confirmed the object: it is on device lists again."),
    "revoke": N_("You revoked the object: a revoked version was published."),
}


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _checked(request: Request, me: Me, form: dict[str, str]) -> None:
    check_origin(request)
    sent = request.headers.get("x-csrf-token") or form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent, me.csrf):
        raise Forbidden("The form's security token is missing or out of date; reload the page and retry.")


def _back(object_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/objects/{quote(object_id, safe='')}?feedback={done}", status_code=303)


def _count(text: str) -> int:
    try:
        return int(text or "1")
    except ValueError:
        raise BadRequest("count must be a whole number") from None


@router.post("/objects/{object_id}/feedback")
def post_feedback(
    object_id: str,
    request: Request,
    form: dict[str, str] = Depends(_form),
    me: Me = Depends(signed_in),
    session: Session = Depends(db_session),
) -> Response:
    """A report from the object page's buttons."""
    _checked(request, me, form)
    kind = form.get("kind", "")[:20]
    with session.begin():
        begin_write(session)
        feedback.report(
            session, me.who.principal, object_id[:300], kind, collection_id=form.get("collection_id") or None,
            count=_count(form.get("count", "1")[:12]), last_seen=form.get("last_seen") or None,
            text=form.get("text", "")[: feedback.MAX_TEXT],
        )  # fmt: skip
    return _back(object_id[:300], kind)


@router.post("/objects/{object_id}/decision")
def post_decision(
    object_id: str,
    request: Request,
    form: dict[str, str] = Depends(_form),
    me: Me = Depends(signed_in),
    session: Session = Depends(db_session),
) -> Response:
    """The publisher's confirm or revoke of an object false positives hold."""
    _checked(request, me, form)
    action = form.get("action", "")[:20]
    with session.begin():
        begin_write(session)
        feedback.decide(session, me.who.principal, object_id[:300], action)
    return _back(object_id[:300], action)
