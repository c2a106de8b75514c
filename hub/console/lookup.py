"""Members' console pages over hub.lookup: search by value, the object page, and downloads.

Every answer comes from the lookup services, which read through the same visibility predicate and
redaction as TAXII; an object the member may not read gets the very page an absent id gets.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from hub.console.feedback import NOTICES
from hub.console.web import PREFIX, Me, render, signed_in
from hub.errors import NotFound
from hub.feedback import summary_for
from hub.lookup import downloads, objects, search
from hub.lookup.reads import readable
from hub.lookup.routes import _download as download_response
from hub.lookup.values import QueryError
from hub.trust.manage import tlp_name
from hub.web.deps import db_session

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Db = Depends(db_session)
Who = Depends(signed_in)
FILES = {
    "blocklist.txt": ("txt", downloads.blocklist),
    "blocklist.csv": ("csv", downloads.blocklist_csv),
    "bundle.json": ("bundle", downloads.bundle),
}


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, me: Me = Who, session: Session = Db) -> Response:
    """ "Have we seen this?": a value (IP, domain, URL, e-mail, hash) across every readable collection."""
    q = request.query_params.get("q", "").strip()[:500]
    result, error = None, ""
    if q:
        try:
            with session.begin():
                result = search.search(session, me.who.principal, q, limit=100)
        except QueryError as exc:
            error = exc.args[0] if exc.args else str(exc)  # a Phrase: the page translates it
    return render(
        request, "search.html", me, q=q, result=result, error=error, tlp_name=tlp_name,
        status=400 if error else 200,
    )  # fmt: skip


@router.get("/objects/{object_id}", response_class=HTMLResponse)
def object_page(object_id: str, request: Request, me: Me = Who, session: Session = Db) -> Response:
    """One object as the member receives it: its STIX JSON, TLP, publisher and author, versions, and who
    may see it and why. Hidden and absent ids get the same 404."""
    with session.begin():
        view = objects.object_view(session, me.who.principal, object_id[:300])
        fb = summary_for(session, me.who.principal, view.id) if view is not None else None
    if view is None:
        raise NotFound(f"There is no object '{object_id[:300]}' that you may read.")
    pretty = json.dumps(json.loads(view.body), indent=2, ensure_ascii=False)
    notice = NOTICES.get(request.query_params.get("feedback", ""))
    return render(
        request, "object.html", me, view=view, pretty=pretty, tlp_name=tlp_name, feedback=fb,
        feedback_notice=notice, is_publisher=view.publisher_slug == me.who.principal.org_slug,
    )  # fmt: skip


@router.get("/downloads", response_class=HTMLResponse)
def downloads_page(request: Request, me: Me = Who, session: Session = Db) -> Response:
    """What the member may read, as files: here in the browser, and as stable URLs for its devices."""
    with session.begin():
        accesses = readable(session, me.who.principal)
        groups: dict[str, list[str]] = {}
        for acc in accesses:
            groups.setdefault(acc.group.slug, []).append(acc.collection.alias)
    base = str(request.base_url).rstrip("/")
    cfg = request.app.state.settings
    if cfg.public_url:
        base = cfg.public_url.rstrip("/")
    return render(request, "downloads.html", me, groups=groups, base=base)


@router.get("/download/{group}/{name}")
def download(group: str, name: str, request: Request, me: Me = Who, session: Session = Db) -> Response:
    """A download for the signed-in member (the device URLs take an API key instead)."""
    if name not in FILES:
        raise NotFound(f"There is no download '{name[:40]}'; there are {', '.join(FILES)}.")
    what, stream = FILES[name]
    return download_response(request, session, me.who.principal, group[:64], what, stream)
