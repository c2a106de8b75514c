"""The admin API of constituency watch: an organisation's constituency (declare, confirm, read) and its
watch subscriptions. Thin: each handler calls one use case inside one transaction.

The routes go on the admin API's own router (importing this module registers them), so they share its
prefix, error answers and OpenAPI schema."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Body, Path, Response
from sqlalchemy.orm import Session

from hub.admin import watch_schemas as w
from hub.admin.routes import Db, Who, _write, router
from hub.db import SQL_INT_MAX
from hub.net import OutboundGuard
from hub.sync import subscriptions as subs
from hub.trust import constituency
from hub.trust.service import Principal


def _read(view: constituency.ConstituencyView) -> w.ConstituencyRead:
    return w.ConstituencyRead.model_validate(view.as_dict())


@router.get("/organisations/{org}/constituency", response_model=w.ConstituencyRead, tags=["constituency"])
def get_constituency(org: str, who: Principal = Who, session: Session = Db) -> w.ConstituencyRead:
    """The organisation's constituency: for itself, platform admins and its groups' coordinators."""
    with session.begin():
        return _read(constituency.get_constituency(session, who, org))


@router.put("/organisations/{org}/constituency", response_model=w.ConstituencyRead, tags=["constituency"])
def put_constituency(
    org: str, body: w.ConstituencyUpdate, who: Principal = Who, session: Session = Db
) -> w.ConstituencyRead:
    """Declare the organisation's constituency (the organisation itself): networks, ASNs, domains and
    ccTLDs. New entries wait for confirmation; entries repeated from before keep theirs."""
    decl = constituency.parse_declaration(networks=body.networks, asns=body.asns, domains=body.domains)
    with _write(session):
        out = _read(constituency.declare(session, who, org, decl))
    return out


@router.post(
    "/organisations/{org}/constituency/confirm", response_model=w.ConstituencyRead, tags=["constituency"]
)
def confirm_constituency(
    org: str,
    body: w.ConstituencyConfirm | None = Body(default=None),
    who: Principal = Who,
    session: Session = Db,
) -> w.ConstituencyRead:
    """Confirm the waiting entries (a platform admin, or a coordinator of one of the organisation's
    groups; never the organisation itself). Only confirmed entries match."""
    with _write(session):
        out = _read(constituency.confirm(session, who, org, entries=body.entries if body else None))
    return out


@router.get(
    "/organisations/{org}/subscriptions", response_model=list[w.SubscriptionRead], tags=["subscriptions"]
)
def list_subscriptions(org: str, who: Principal = Who, session: Session = Db) -> list[w.SubscriptionRead]:
    """The organisation's watch subscriptions, each with its delivery state (last error, attempts)."""
    with session.begin():
        return [
            w.SubscriptionRead.model_validate(subs.view(x))
            for x in subs.list_subscriptions(session, who, org)
        ]


@router.post(
    "/organisations/{org}/subscriptions",
    response_model=w.SubscriptionRead,
    status_code=201,
    tags=["subscriptions"],
)
def create_subscription(
    org: str, body: w.SubscriptionCreateBody, who: Principal = Who, session: Session = Db
) -> w.SubscriptionRead:
    """Subscribe to `events`: `inside` (objects inside the constituency) and `feedback` (reports by other
    members on the organisation's objects, and holds on them), by a webhook (`url`, `secret`; each body
    signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`) or an email digest (`to`, `digest`:
    immediate, hourly or daily)."""
    create = subs.SubscriptionCreate(
        kind=body.kind,
        events=tuple(body.events),
        url=body.url,
        secret=body.secret,
        to=body.to,
        digest=body.digest,
    )
    guard = OutboundGuard.from_environ(os.environ)
    with _write(session):
        out = w.SubscriptionRead.model_validate(
            subs.view(subs.create_subscription(session, who, org, create, guard=guard))
        )
    return out


@router.delete("/organisations/{org}/subscriptions/{sub_id}", status_code=204, tags=["subscriptions"])
def delete_subscription(
    org: str, sub_id: Annotated[int, Path(ge=1, le=SQL_INT_MAX)], who: Principal = Who, session: Session = Db
) -> Response:
    """Remove a subscription."""
    with _write(session):
        subs.delete_subscription(session, who, org, sub_id)
    return Response(status_code=204)
