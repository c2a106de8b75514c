"""The console's Inside page: what the members shared that falls in your organisation's constituency,
the constituency itself (confirmed or waiting), and a form to declare it.

Every row comes from hub.lookup.inside (the value index, through the visibility predicate); the form
calls the same use case as the admin API (hub.trust.constituency.declare), after the CSRF check.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from hub.console.i18n import N_
from hub.console.routes import Form, _checked, _write
from hub.console.web import PREFIX, Me, redirect, render, signed_in
from hub.lookup.inside import inside
from hub.trust import constituency
from hub.web.deps import db_session

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Db = Depends(db_session)
Who = Depends(signed_in)

# the kinds of a constituency entry, as the page names them (hub.trust.constituency)
KINDS = {
    "network": N_("network"),
    "asn": N_("AS number"),
    "domain": N_("domain"),
    "cctld": N_("country-code top-level domain"),
}
DECLARED = N_("Your constituency was declared; new entries match once confirmed.")


@router.get("/inside", response_class=HTMLResponse)
def inside_page(request: Request, me: Me = Who, session: Session = Db) -> Response:
    """The newest objects you may read whose values fall in your confirmed constituency."""
    principal = me.who.principal
    with session.begin():
        page = inside(session, principal, limit=200)
        mine = constituency.get_constituency(session, principal, principal.org_slug)
    declared = mine.as_dict()
    done = DECLARED if request.query_params.get("done") == "declared" else None
    return render(request, "inside.html", me, page=page, mine=mine, declared=declared, done=done, kinds=KINDS)


@router.post("/inside/constituency")
def declare_constituency(
    request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Declare your organisation's constituency (one entry a line in each box)."""
    _checked(request, me, form)

    def lines(name: str) -> list[str]:
        return [x.strip() for x in form.get(name, "")[:400_000].splitlines() if x.strip()]

    decl = constituency.parse_declaration(
        networks=lines("networks"), asns=lines("asns"), domains=lines("domains")
    )
    principal = me.who.principal
    with _write(session):
        constituency.declare(session, principal, principal.org_slug, decl)
    return redirect(f"{PREFIX}/inside", done="declared")
