"""Watch subscription use cases: an organisation subscribes to `inside` events (its constituency) and
`feedback` events (reports on the objects it published, and holds on them: hub.sync.feedback_notices)
by signed webhook or email digest, lists its subscriptions with their delivery state, and removes them.

Only the organisation itself (a key or account of it) or a platform admin manages its subscriptions: a
coordinator could otherwise send a member's matches to a receiver of its own. Anyone else gets the
unknown organisation's 404. A webhook URL must pass the outbound guard's static check (http(s), no
literal internal address or name of this machine, unless HUB_OUTBOUND_ALLOW names it); host names are
judged again when each delivery connects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.policy import SMTP
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db import SQL_INT_MAX
from hub.errors import Forbidden, NotFound, Unprocessable
from hub.net import OutboundGuard
from hub.sync.notify_models import Subscription, WatchMatch
from hub.sync.scheduler import now_us
from hub.trust.manage import audit, find_organisation
from hub.trust.models import Organisation
from hub.trust.service import Principal

EVENTS = ("inside", "feedback")
DIGESTS = ("immediate", "hourly", "daily")
MAX_PER_ORGANISATION = 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


@dataclass(frozen=True)
class SubscriptionCreate:
    """A subscription as the admin API, the CLI and the console give it."""

    kind: str
    events: tuple[str, ...] = ("inside",)
    url: str | None = None
    secret: str | None = None
    to: str | None = None
    digest: str = "immediate"


def _own(session: Session, actor: Principal, org_slug: str) -> Organisation:
    org = find_organisation(session, actor, org_slug[:64])
    if not (actor.is_admin or actor.org_id == org.id):
        raise Forbidden("Only the organisation itself (or a platform admin) manages its subscriptions.")
    return org


def check_email(to: str) -> str:
    """One plain email address (no display name, no second address, no line breaks); 422 otherwise."""
    text = (to or "").strip()
    if not text or len(text) > 320 or _CONTROL.search(text) or any(c in text for c in ",;<>\"'"):
        raise Unprocessable("'to' is one email address, as name@example.org.")
    try:
        addr = Address(addr_spec=text)
        SMTP.header_factory("To", str(addr))
    except (ValueError, IndexError, TypeError):
        raise Unprocessable("'to' is one email address, as name@example.org.") from None
    if not addr.domain or "." not in addr.domain or not addr.username:
        raise Unprocessable("'to' is one email address, as name@example.org.")
    return text


def validate(body: SubscriptionCreate, *, guard: OutboundGuard) -> SubscriptionCreate:
    """The subscription's fields checked and normalised; 422 naming what is wrong."""
    events = tuple(dict.fromkeys(e.strip().lower() for e in body.events))
    if not events or any(e not in EVENTS for e in events):
        raise Unprocessable(f"'events' lists events among: {', '.join(EVENTS)}.")
    digest = (body.digest or "immediate").strip().lower()
    if digest not in DIGESTS:
        raise Unprocessable(f"'digest' is one of: {', '.join(DIGESTS)}.")
    if body.kind == "webhook":
        url = (body.url or "").strip()
        if not url or len(url) > 2048 or _CONTROL.search(url):
            raise Unprocessable("A webhook needs 'url', an http(s) URL of at most 2048 characters.")
        why = guard.check_url(url)
        if why is not None:
            raise Unprocessable(f"The webhook URL cannot be used: {why}.")
        secret = body.secret or ""
        if not 16 <= len(secret) <= 255 or _CONTROL.search(secret):
            raise Unprocessable(
                "A webhook needs 'secret', 16 to 255 printable characters, to sign each body."
            )
        if digest != "immediate":
            raise Unprocessable("A webhook is called as matches come ('digest' is immediate).")
        return SubscriptionCreate("webhook", events, url=url, secret=secret, digest="immediate")
    if body.kind == "email":
        return SubscriptionCreate("email", events, to=check_email(body.to or ""), digest=digest)
    raise Unprocessable("'kind' is webhook or email.")


def view(sub: Subscription) -> dict[str, Any]:
    """A subscription as its organisation sees it; the secret is never shown again."""
    return {
        "id": sub.id,
        "kind": sub.kind,
        "events": sub.events.split(","),
        "url": sub.url,
        "to": sub.to_addr,
        "digest": sub.digest,
        "active": sub.active,
        "created_at_us": sub.created_at_us,
        "delivered": sub.delivered,
        "attempts": sub.attempts,
        "last_attempt_us": sub.last_attempt_us,
        "last_success_us": sub.last_success_us,
        "last_error": sub.last_error,
        "next_attempt_us": sub.next_attempt_us,
    }


def _state(sub: Subscription) -> dict[str, Any]:
    return {"kind": sub.kind, "url": sub.url, "to": sub.to_addr, "digest": sub.digest, "events": sub.events}


def create_subscription(
    session: Session, actor: Principal, org_slug: str, body: SubscriptionCreate, *, guard: OutboundGuard
) -> Subscription:
    """Subscribe the organisation; deliveries start with the matches recorded from now on."""
    org = _own(session, actor, org_slug)
    checked = validate(body, guard=guard)
    count = session.scalar(
        select(func.count()).select_from(Subscription).where(Subscription.organisation_id == org.id)
    )
    if (count or 0) >= MAX_PER_ORGANISATION:
        raise Unprocessable(f"An organisation holds at most {MAX_PER_ORGANISATION} subscriptions.")
    start = session.scalar(select(func.max(WatchMatch.id)).where(WatchMatch.organisation_id == org.id))
    sub = Subscription(
        organisation_id=org.id,
        kind=checked.kind,
        url=checked.url,
        secret=checked.secret,
        to_addr=checked.to,
        events=",".join(checked.events),
        digest=checked.digest,
        active=True,
        created_at_us=now_us(),
        created_by=actor.account_id or None,
        cursor=start or 0,
        next_attempt_us=0,
        attempts=0,
        delivered=0,
    )
    session.add(sub)
    session.flush()  # flush so sub.id is available to the audit event
    audit(
        session,
        actor,
        "subscription.create",
        target=f"subscription {sub.id} of {org.slug}",
        target_org_id=org.id,
        after=_state(sub),
    )
    return sub


def list_subscriptions(session: Session, actor: Principal, org_slug: str) -> list[Subscription]:
    """The organisation's subscriptions, with their delivery state."""
    org = _own(session, actor, org_slug)
    return list(
        session.scalars(
            select(Subscription).where(Subscription.organisation_id == org.id).order_by(Subscription.id)
        )
    )


def delete_subscription(session: Session, actor: Principal, org_slug: str, sub_id: int) -> None:
    """Remove one of the organisation's subscriptions (404 for another's or an unknown id)."""
    org = _own(session, actor, org_slug)
    sub = session.get(Subscription, sub_id) if 1 <= sub_id <= SQL_INT_MAX else None
    if sub is None or sub.organisation_id != org.id:
        raise NotFound(f"There is no subscription {sub_id} of '{org.slug}'.")
    before = _state(sub)
    session.delete(sub)
    audit(
        session,
        actor,
        "subscription.delete",
        target=f"subscription {sub_id} of {org.slug}",
        target_org_id=org.id,
        before=before,
    )
