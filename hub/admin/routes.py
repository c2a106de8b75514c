"""The admin API (/admin/v1): organisations, groups, members, invitations, collections, keys, feeds,
known-benign lists, audit, stats.

Thin: each handler parses input, calls one trust service inside one transaction, and renders the result
after the transaction committed; authorisation, validation and audit live in the services, which the CLI
shares. Errors are TAXII error resources (as JSON); unknown or other groups' things are 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.admin import schemas as s
from hub.admin.explain_routes import get_policy_explain
from hub.db import begin_write
from hub.errors import Conflict, NotFound, Unprocessable
from hub.sync import group_feeds as feeds
from hub.sync.models import Feed
from hub.trust import benign, collections, invitations, keys, manage, reports
from hub.trust.models import Organisation, TrustGroup
from hub.trust.service import Principal
from hub.web.deps import db_session, manager, optional_principal

PREFIX = "/admin/v1"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": s.ErrorRead, "description": text}
    for code, text in {
        400: "Malformed request",
        401: "No API key, or one that is unknown, revoked or expired",
        403: "Not allowed (the reason says why)",
        404: "Unknown, or not yours to know of",
        409: "Clashes with the stored state (duplicate, redeemed, archived)",
        422: "A value breaks a rule (the description names it)",
    }.items()
}

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer hub_...`")


def _no_nul(request: Request) -> None:
    """422 for a NUL character in the path or query: PostgreSQL cannot even compare text holding one."""
    if "\x00" in request.url.path or any("\x00" in k + v for k, v in request.query_params.multi_items()):
        raise Unprocessable("NUL characters are not allowed in the path or query.")


router = APIRouter(prefix=PREFIX, responses=ERRORS, dependencies=[Depends(_no_nul), Security(_bearer)])
docs_router = APIRouter(prefix=PREFIX, include_in_schema=False)


@contextmanager
def _write(session: Session) -> Iterator[None]:
    """One write transaction: commits at the end, or rolls back everything on any error."""
    try:
        with session.begin():
            begin_write(session)
            yield
    except IntegrityError:
        # two requests made the same thing at once; the loser's transaction is rolled back whole
        raise Conflict("The change clashes with a change made at the same moment; retry.") from None


Who = Depends(manager)  # the admin API: keys with the `manage` scope
Db = Depends(db_session)


# ---------------------------------------------------------------- schema and docs


@docs_router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI schema of the admin API."""
    if getattr(request.app.state, "admin_openapi", None) is None:
        request.app.state.admin_openapi = get_openapi(
            title="The hub: admin API",
            version="1",
            description="Regional coordinators run their trust groups: members, invitations, collections, "
            "API keys, the audit log and statistics. Errors are TAXII 2.1 error resources.",
            routes=router.routes,
        )
    return JSONResponse(request.app.state.admin_openapi)


# Swagger UI is a pinned copy from npm (hub/console/static/VENDORED.md), served from the hub with the
# console's policy: no script, style or connection to any other origin, no inline code, no framing
DOCS_STATIC = Path(__file__).parent / "static"
DOCS_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "docs.js": "text/javascript",
}
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The hub: admin API</title>
<link rel="stylesheet" href="{prefix}/docs/static/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{prefix}/openapi.json"></div>
<script src="{prefix}/docs/static/swagger-ui-bundle.js"></script>
<script src="{prefix}/docs/static/docs.js"></script>
</body>
</html>
"""


@docs_router.get("/docs")
def docs() -> HTMLResponse:
    """Interactive documentation (Swagger UI) of the admin API."""
    return HTMLResponse(_DOCS_PAGE.format(prefix=PREFIX), headers=DOCS_HEADERS)


@docs_router.get("/docs/static/{name}")
def docs_static(name: str) -> Response:
    """The docs page's scripts and stylesheet (only the files it names)."""
    media = DOCS_FILES.get(name)
    if media is None:
        raise NotFound("No such file.")
    return FileResponse(DOCS_STATIC / name, media_type=media, headers=DOCS_HEADERS)


# ---------------------------------------------------------------- who am I


@router.get("/me", response_model=s.MeRead)
def get_me(who: Principal = Who, session: Session = Db) -> s.MeRead:
    """The caller: its organisation, whether it is a platform admin, and its role and clearance per group."""
    with session.begin():
        slugs = dict(session.execute(select(TrustGroup.id, TrustGroup.slug)).all())
    return s.MeRead(
        organisation=who.org_slug,
        account_id=who.account_id,
        platform_admin=who.is_admin,
        memberships={
            slugs[gid]: {"role": m.role, "clearance": manage.tlp_name(m.clearance)}
            for gid, m in who.memberships.items()
            if gid in slugs
        },
    )


# ---------------------------------------------------------------- organisations


@router.get("/organisations", response_model=list[s.OrganisationRead])
def list_organisations(
    who: Principal = Who,
    session: Session = Db,
    pending: bool = Query(False, description="only organisations awaiting a platform admin's approval"),
) -> list[s.OrganisationRead]:
    """The organisations the caller may know of: its own and the members of the groups it coordinates."""
    with session.begin():
        return [s.OrganisationRead.of(o) for o in manage.list_organisations(session, who, pending=pending)]


@router.post("/organisations", response_model=s.OrganisationRead, status_code=201)
def create_organisation(
    body: s.OrganisationCreate, who: Principal = Who, session: Session = Db
) -> s.OrganisationRead:
    """Create an organisation (platform admin; coordinators invite organisations instead)."""
    with _write(session):
        org = manage.create_organisation(session, who, **body.model_dump())
        out = s.OrganisationRead.of(org)
    return out


@router.get("/organisations/{org}", response_model=s.OrganisationRead)
def get_organisation(org: str, who: Principal = Who, session: Session = Db) -> s.OrganisationRead:
    """One organisation the caller may know of."""
    with session.begin():
        return s.OrganisationRead.of(manage.find_organisation(session, who, org))


@router.patch("/organisations/{org}", response_model=s.OrganisationRead)
def update_organisation(
    org: str, body: s.OrganisationUpdate, who: Principal = Who, session: Session = Db
) -> s.OrganisationRead:
    """Change an organisation's name, country or contact (itself or a platform admin), or `active`."""
    with _write(session):
        row = manage.update_organisation(session, who, org, **body.model_dump(exclude_unset=True))
        out = s.OrganisationRead.of(row)
    return out


@router.post("/organisations/{org}/deactivate", response_model=s.OrganisationRead)
def deactivate_organisation(org: str, who: Principal = Who, session: Session = Db) -> s.OrganisationRead:
    """Deactivate an organisation (platform admin): its keys fail at once; what it published stays."""
    with _write(session):
        out = s.OrganisationRead.of(manage.deactivate_organisation(session, who, org))
    return out


@router.post("/organisations/{org}/approve", response_model=s.OrganisationRead)
def approve_organisation(org: str, who: Principal = Who, session: Session = Db) -> s.OrganisationRead:
    """Approve an organisation made by redeeming an invitation (platform admin): its keys work from now."""
    with _write(session):
        out = s.OrganisationRead.of(manage.approve_organisation(session, who, org))
    return out


# ---------------------------------------------------------------- API keys


@router.get("/organisations/{org}/keys", response_model=list[s.KeyRead])
def list_keys(org: str, who: Principal = Who, session: Session = Db) -> list[s.KeyRead]:
    """An organisation's API keys, without secrets."""
    with session.begin():
        return [s.KeyRead.of(k) for k in keys.list_keys(session, who, org)]


@router.post("/organisations/{org}/keys", response_model=s.KeyIssued, status_code=201)
def issue_key(org: str, body: s.KeyCreate, who: Principal = Who, session: Session = Db) -> s.KeyIssued:
    """Issue an API key to one of the organisation's accounts; the secret is in this response only."""
    with _write(session):
        info, secret = keys.issue_key(session, who, org, **body.model_dump())
        out = s.KeyIssued(key=s.KeyRead.of(info), secret=secret)
    return out


@router.post("/organisations/{org}/keys/{key_id}/rotate", response_model=s.KeyRotated)
def rotate_key(
    org: str, key_id: str, body: s.KeyRotate | None = None, who: Principal = Who, session: Session = Db
) -> s.KeyRotated:
    """A new key replacing this one; the old key keeps working for `grace_seconds`, then expires."""
    grace = timedelta(seconds=(body or s.KeyRotate()).grace_seconds)
    with _write(session):
        new, secret, old = keys.rotate_key(session, who, org, key_id, grace=grace)
        out = s.KeyRotated(key=s.KeyRead.of(new), secret=secret, previous=s.KeyRead.of(old))
    return out


@router.post("/organisations/{org}/keys/{key_id}/revoke", response_model=s.KeyRead)
def revoke_key(org: str, key_id: str, who: Principal = Who, session: Session = Db) -> s.KeyRead:
    """Revoke a key at once (its organisation or a platform admin): the next request with it is refused."""
    with _write(session):
        out = s.KeyRead.of(keys.revoke_key(session, who, org, key_id))
    return out


@router.get("/groups/{group}/members/{org}/keys", response_model=list[s.MemberKeyRead])
def list_member_keys(
    group: str, org: str, who: Principal = Who, session: Session = Db
) -> list[s.MemberKeyRead]:
    """A member's keys as the group's coordinator needs them: ids, states, scopes, suspended here."""
    with session.begin():
        return [s.MemberKeyRead.of(k) for k in keys.list_member_keys(session, who, group, org)]


@router.post("/groups/{group}/members/{org}/keys/{key_id}/suspend", response_model=s.MemberKeyRead)
def suspend_key(
    group: str, org: str, key_id: str, who: Principal = Who, session: Session = Db
) -> s.MemberKeyRead:
    """Suspend a member's key in this group (coordinator): it reads and writes nothing here, elsewhere
    it works as before."""
    with _write(session):
        out = s.MemberKeyRead.of(keys.suspend_key(session, who, group, org, key_id))
    return out


@router.post("/groups/{group}/members/{org}/keys/{key_id}/reinstate", response_model=s.MemberKeyRead)
def reinstate_key(
    group: str, org: str, key_id: str, who: Principal = Who, session: Session = Db
) -> s.MemberKeyRead:
    """Lift a key's suspension in this group (coordinator)."""
    with _write(session):
        out = s.MemberKeyRead.of(keys.reinstate_key(session, who, group, org, key_id))
    return out


# ---------------------------------------------------------------- trust groups


@router.get("/groups", response_model=list[s.GroupRead])
def list_groups(who: Principal = Who, session: Session = Db) -> list[s.GroupRead]:
    """The trust groups the caller is a member of (every group for a platform admin)."""
    with session.begin():
        return [s.GroupRead.of(g) for g in manage.list_groups(session, who)]


@router.post("/groups", response_model=s.GroupRead, status_code=201)
def create_group(body: s.GroupCreate, who: Principal = Who, session: Session = Db) -> s.GroupRead:
    """Create a trust group (platform admin)."""
    with _write(session):
        out = s.GroupRead.of(manage.create_group(session, who, **body.model_dump()))
    return out


@router.get("/groups/{group}", response_model=s.GroupRead)
def get_group(group: str, who: Principal = Who, session: Session = Db) -> s.GroupRead:
    """One trust group the caller is a member of."""
    with session.begin():
        return s.GroupRead.of(manage.find_group(session, who, group, manage=False))


@router.patch("/groups/{group}", response_model=s.GroupRead)
def update_group(group: str, body: s.GroupUpdate, who: Principal = Who, session: Session = Db) -> s.GroupRead:
    """Change a group's settings (its coordinators; the community only a platform admin)."""
    with _write(session):
        out = s.GroupRead.of(manage.update_group(session, who, group, **body.model_dump(exclude_unset=True)))
    return out


# ---------------------------------------------------------------- memberships


@router.get("/groups/{group}/members", response_model=list[s.MemberRead])
def list_members(group: str, who: Principal = Who, session: Session = Db) -> list[s.MemberRead]:
    """The members of a group the caller coordinates."""
    with session.begin():
        return [s.MemberRead.of(m) for m in manage.list_members(session, who, group)]


@router.post("/groups/{group}/members", response_model=s.MemberRead, status_code=201)
def add_member(group: str, body: s.MemberCreate, who: Principal = Who, session: Session = Db) -> s.MemberRead:
    """Add an organisation the caller knows of (others are invited) with a role and clearance."""
    with _write(session):
        m = manage.add_member(
            session, who, group, org_slug=body.organisation, role=body.role, clearance=body.clearance
        )
        out = s.MemberRead.of(m)
    return out


@router.get("/groups/{group}/members/{org}", response_model=s.MemberRead)
def get_member(group: str, org: str, who: Principal = Who, session: Session = Db) -> s.MemberRead:
    """One member of a group the caller coordinates."""
    with session.begin():
        return s.MemberRead.of(manage.get_member(session, who, group, org))


@router.patch("/groups/{group}/members/{org}", response_model=s.MemberRead)
def update_member(
    group: str, org: str, body: s.MemberUpdate, who: Principal = Who, session: Session = Db
) -> s.MemberRead:
    """Change a member's role or clearance (never above the group's max_tlp, never one's own)."""
    with _write(session):
        m = manage.update_member(session, who, group, org, **body.model_dump(exclude_unset=True))
        out = s.MemberRead.of(m)
    return out


@router.delete("/groups/{group}/members/{org}", status_code=204)
def remove_member(group: str, org: str, who: Principal = Who, session: Session = Db) -> Response:
    """Remove a member: its next request to the group is refused; what it published stays."""
    with _write(session):
        manage.remove_member(session, who, group, org)
    return Response(status_code=204)


# ---------------------------------------------------------------- a group's own known-benign list


@router.get("/groups/{group}/benign", response_model=list[s.BenignRead])
def list_benign(group: str, who: Principal = Who, session: Session = Db) -> list[s.BenignRead]:
    """The group's own known-benign list (its coordinators and platform admins; 404 for anyone else)."""
    with session.begin():
        g, entries = benign.list_entries(session, who, group)
        return [s.BenignRead.of(e, g.slug) for e in entries]


@router.post("/groups/{group}/benign", response_model=s.BenignRead, status_code=201)
def add_benign(group: str, body: s.BenignCreate, who: Principal = Who, session: Session = Db) -> s.BenignRead:
    """Add a value no member's device should block (the group's own infrastructure, its resolvers)."""
    with _write(session):
        out = s.BenignRead.of(benign.add_entry(session, who, group, body.value, body.note), group)
    return out


@router.delete("/groups/{group}/benign", status_code=204)
def remove_benign(
    group: str,
    value: str = Query(..., min_length=1, max_length=2048),
    who: Principal = Who,
    session: Session = Db,
) -> Response:
    """Take a value off the group's own list."""
    with _write(session):
        benign.remove_entry(session, who, group, value)
    return Response(status_code=204)


# ---------------------------------------------------------------- invitations


@router.get("/groups/{group}/invitations", response_model=list[s.InvitationRead])
def list_invitations(group: str, who: Principal = Who, session: Session = Db) -> list[s.InvitationRead]:
    """A group's invitations, newest first (never their tokens)."""
    with session.begin():
        return [s.InvitationRead.of(i) for i in invitations.list_invitations(session, who, group)]


@router.post("/groups/{group}/invitations", response_model=s.InvitationIssued, status_code=201)
def create_invitation(
    group: str, body: s.InvitationCreate, who: Principal = Who, session: Session = Db
) -> s.InvitationIssued:
    """Invite an organisation into the group; the one-time token is in this response only."""
    data = body.model_dump()
    hours = data.pop("expires_in_hours")
    with _write(session):
        inv, token = invitations.create_invitation(
            session, who, group, **data, expires_in=timedelta(hours=hours)
        )
        out = s.InvitationIssued(**s.InvitationRead.of(inv).model_dump(), token=token)
    return out


@router.delete("/groups/{group}/invitations/{invitation}", response_model=s.InvitationRead)
def revoke_invitation(
    group: str, invitation: str, who: Principal = Who, session: Session = Db
) -> s.InvitationRead:
    """Withdraw a pending invitation."""
    with _write(session):
        out = s.InvitationRead.of(invitations.revoke_invitation(session, who, group, invitation))
    return out


@router.post("/invitations/redeem", response_model=s.RedeemedRead, status_code=201)
def redeem_invitation(
    body: s.InvitationRedeem,
    request: Request,
    who: Principal | None = Depends(optional_principal),
    session: Session = Db,
) -> s.RedeemedRead:
    """Redeem an invitation. A new organisation needs no key and gets its account and first API key
    (shown once), which works once a platform admin approves it (unless HUB_INVITATIONS_SELF_SERVICE);
    an existing organisation redeems with one of its own keys and gets the membership."""
    if who is not None:
        who.require("manage")
    with _write(session):
        done = invitations.redeem_invitation(
            session, body.token, caller=who, account=body.account, key_label=body.key_label,
            self_service=request.app.state.settings.invitations_self_service,
        )  # fmt: skip
    return s.RedeemedRead.of(done)


# ---------------------------------------------------------------- collections


@router.get("/groups/{group}/collections", response_model=list[s.CollectionRead])
def list_collections(group: str, who: Principal = Who, session: Session = Db) -> list[s.CollectionRead]:
    """Every collection of a group the caller coordinates, named-recipient and archived ones included."""
    with session.begin():
        return [s.CollectionRead.of(c) for c in collections.list_group_collections(session, who, group)]


@router.post("/groups/{group}/collections", response_model=s.CollectionRead, status_code=201)
def create_collection(
    group: str, body: s.CollectionCreate, who: Principal = Who, session: Session = Db
) -> s.CollectionRead:
    """Create a group collection, or a named-recipient one (owner and recipients: members)."""
    with _write(session):
        out = s.CollectionRead.of(collections.create_collection(session, who, group, **body.model_dump()))
    return out


@router.get("/groups/{group}/collections/{collection}", response_model=s.CollectionRead)
def get_collection(
    group: str, collection: str, who: Principal = Who, session: Session = Db
) -> s.CollectionRead:
    """One collection, by id or alias."""
    with session.begin():
        return s.CollectionRead.of(collections.get_collection(session, who, group, collection))


@router.patch("/groups/{group}/collections/{collection}", response_model=s.CollectionRead)
def update_collection(
    group: str, collection: str, body: s.CollectionUpdate, who: Principal = Who, session: Session = Db
) -> s.CollectionRead:
    """Rename a collection, change its title or description, or its recipients."""
    with _write(session):
        info = collections.update_collection(
            session, who, group, collection, **body.model_dump(exclude_unset=True)
        )
        out = s.CollectionRead.of(info)
    return out


@router.post("/groups/{group}/collections/{collection}/archive", response_model=s.CollectionRead)
def archive_collection(
    group: str, collection: str, who: Principal = Who, session: Session = Db
) -> s.CollectionRead:
    """Archive a collection: readable as before, no longer writable; nothing is deleted."""
    with _write(session):
        out = s.CollectionRead.of(collections.archive_collection(session, who, group, collection))
    return out


# ---------------------------------------------------------------- audit log and statistics


def _audit_query(
    group: str | None = Query(None, max_length=64),
    organisation: str | None = Query(None, max_length=64),
    action: str | None = Query(None, max_length=32),
    since: datetime | None = Query(None, description="events at or after this time"),
    until: datetime | None = Query(None, description="events before this time"),
) -> reports.AuditQuery:
    return reports.AuditQuery(group=group, organisation=organisation, action=action, since=since, until=until)


def _names(session: Session, events: list[reports.AuditEntry]) -> tuple[dict[int, str], dict[int, str]]:
    org_ids = {i for e in events for i in (e.organisation_id, e.target_org_id) if i}
    group_ids = {e.group_id for e in events if e.group_id}
    orgs = dict(
        session.execute(select(Organisation.id, Organisation.slug).where(Organisation.id.in_(org_ids))).all()
    )
    groups = dict(
        session.execute(select(TrustGroup.id, TrustGroup.slug).where(TrustGroup.id.in_(group_ids))).all()
    )
    return orgs, groups


@router.get("/audit", response_model=s.AuditPage)
def get_audit(
    request: Request,
    q: reports.AuditQuery = Depends(_audit_query),
    limit: int = Query(100, ge=1, le=reports.MAX_AUDIT_PAGE),
    cursor: str | None = Query(None, max_length=40),
    who: Principal = Who,
    session: Session = Db,
) -> s.AuditPage:
    """The audit log, newest first, keyset-paginated: the groups the caller coordinates (all for an admin)."""
    request.app.state.audit.flush(timeout=5.0)  # the reads this process answered are in it
    with session.begin():
        events, nxt = reports.audit_page(session, who, q, limit=limit, cursor=cursor)
        orgs, groups = _names(session, events)
        return s.AuditPage(events=[s.AuditEventRead.of(e, orgs, groups) for e in events], next=nxt)


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "one event per line"}},
)
def export_audit(
    request: Request,
    q: reports.AuditQuery = Depends(_audit_query),
    who: Principal = Who,
    session: Session = Db,
) -> StreamingResponse:
    """Every matching audit event as JSON lines, newest first."""
    request.app.state.audit.flush(timeout=5.0)
    session.begin()
    events = reports.audit_export(session, who, q)  # filters checked (404/422) before streaming starts
    first = next(events, None)

    def lines() -> Iterator[bytes]:
        try:
            batch = [first] if first is not None else []
            for e in events:
                batch.append(e)
                if len(batch) >= 500:
                    yield from _lines(session, batch)
                    batch = []
            yield from _lines(session, batch)
        finally:
            session.rollback()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def _lines(session: Session, batch: list[reports.AuditEntry]) -> Iterator[bytes]:
    orgs, groups = _names(session, batch)
    for e in batch:
        yield s.AuditEventRead.of(e, orgs, groups).model_dump_json().encode() + b"\n"


@router.get("/groups/{group}/stats", response_model=s.GroupStatsRead)
def get_stats(
    group: str, days: int = Query(30, ge=1, le=366), who: Principal = Who, session: Session = Db
) -> s.GroupStatsRead:
    """Objects by TLP and type, per day, last push per member and feed health, as the caller may see them."""
    with session.begin():
        return s.GroupStatsRead.of(reports.group_stats(session, who, group, days=days))


# ---------------------------------------------------------------- feeds


def _feed_read(session: Session, who: Principal, f: Feed) -> s.FeedRead:
    return s.FeedRead.of(f, shown=reports.feed_counts_shown(session, who, [f])[f.id])


@router.get("/groups/{group}/feeds", response_model=list[s.FeedRead])
def list_feeds(group: str, who: Principal = Who, session: Session = Db) -> list[s.FeedRead]:
    """The feeds of a group the caller coordinates, with their run state."""
    with session.begin():
        rows = feeds.list_feeds(session, who, group)
        shown = reports.feed_counts_shown(session, who, rows)
        return [s.FeedRead.of(f, shown=shown[f.id]) for f in rows]


@router.post("/groups/{group}/feeds", response_model=s.FeedRead, status_code=201)
def declare_feed(group: str, body: s.FeedCreate, who: Principal = Who, session: Session = Db) -> s.FeedRead:
    """Declare a feed of the group, validated as `hub sync load` validates a feeds file; due at once."""
    with _write(session):
        out = _feed_read(
            session, who, feeds.declare_feed(session, who, group, body.model_dump(exclude_unset=True))
        )
    return out


@router.get("/groups/{group}/feeds/{feed}", response_model=s.FeedRead)
def get_feed(group: str, feed: str, who: Principal = Who, session: Session = Db) -> s.FeedRead:
    """One feed of the group."""
    with session.begin():
        return _feed_read(session, who, feeds.get_feed(session, who, group, feed))


@router.patch("/groups/{group}/feeds/{feed}", response_model=s.FeedRead)
def change_feed(
    group: str, feed: str, body: s.FeedUpdate, who: Principal = Who, session: Session = Db
) -> s.FeedRead:
    """Change a feed; a new source, format or collection resets its cursor."""
    with _write(session):
        out = _feed_read(
            session, who, feeds.change_feed(session, who, group, feed, body.model_dump(exclude_unset=True))
        )
    return out


@router.post("/groups/{group}/feeds/{feed}/enable", response_model=s.FeedRead)
def enable_feed(group: str, feed: str, who: Principal = Who, session: Session = Db) -> s.FeedRead:
    """Enable a feed."""
    with _write(session):
        out = _feed_read(session, who, feeds.change_feed(session, who, group, feed, {"enabled": True}))
    return out


@router.post("/groups/{group}/feeds/{feed}/disable", response_model=s.FeedRead)
def disable_feed(group: str, feed: str, who: Principal = Who, session: Session = Db) -> s.FeedRead:
    """Disable a feed (its history and cursor stay)."""
    with _write(session):
        out = _feed_read(session, who, feeds.change_feed(session, who, group, feed, {"enabled": False}))
    return out


@router.post("/groups/{group}/feeds/{feed}/run", response_model=s.FeedRead)
def run_feed_now(group: str, feed: str, who: Principal = Who, session: Session = Db) -> s.FeedRead:
    """Run a feed now: it becomes due at once and the next free `hub sync worker` runs it."""
    with _write(session):
        out = _feed_read(session, who, feeds.run_now(session, who, group, feed))
    return out


@router.get("/groups/{group}/feeds/{feed}/runs", response_model=list[s.FeedRunRead])
def feed_runs(
    group: str, feed: str, limit: int = Query(50, ge=1, le=1000), who: Principal = Who, session: Session = Db
) -> list[s.FeedRunRead]:
    """A feed's run history, newest first: counts, cursor and any error."""
    with session.begin():
        return [s.FeedRunRead.of(r) for r in feeds.feed_runs(session, who, group, feed, limit=limit)]


router.add_api_route(
    "/groups/{group}/policy/explain",
    get_policy_explain,
    methods=["GET"],
    summary="Policy explain",
    description="May `reader` see, or group `to` receive, an object stored in this group, and why "
    "(the group's coordinators; also at /admin/api/groups/{group}/policy/explain).",
)
