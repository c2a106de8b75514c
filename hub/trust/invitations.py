"""Invitations: a coordinator invites an organisation into its group; the invited CIRT redeems the token.

The token is shown once, stored as a digest, expires, and works once. Redeeming an invitation of a new
organisation creates the organisation, its account and its first API key, shown only to the redeemer;
the organisation stays inactive until a platform admin approves it (unless HUB_INVITATIONS_SELF_SERVICE),
so a coordinator who redeems its own token gets no working organisation by itself. An invitation of an
organisation that already exists is redeemed with one of that organisation's own keys and only adds the
membership, so a token in the wrong hands (the coordinator's included) never yields a key of an existing
organisation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import Conflict, Forbidden, NotFound, Unprocessable
from hub.trust.manage import (
    _new_organisation,
    audit,
    check_role_and_clearance,
    find_group,
    introducers,
    member_state,
    parse_tlp,
    tlp_name,
)
from hub.trust.models import Account, Invitation, Membership, Organisation, TrustGroup
from hub.trust.schemas import SLUG
from hub.trust.service import Principal, _aware, create_api_key

TOKEN_PREFIX = "inv"  # noqa: S105 - the public prefix of invitation tokens, not a secret
MAX_VALIDITY = timedelta(days=30)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def invitation_state(inv: Invitation) -> str:
    """pending, redeemed, revoked or expired."""
    if inv.redeemed_at is not None:
        return "redeemed"
    if inv.revoked_at is not None:
        return "revoked"
    if _aware(inv.expires_at) <= datetime.now(UTC):
        return "expired"
    return "pending"


def invitation_audit(inv: Invitation) -> dict[str, object]:
    """An invitation as the audit log records it (never its token)."""
    return {
        "id": inv.token_id,
        "organisation": inv.organisation_slug,
        "role": inv.role,
        "clearance": tlp_name(inv.clearance),
        "expires_at": _aware(inv.expires_at).isoformat(),
        "state": invitation_state(inv),
    }


def create_invitation(
    session: Session,
    actor: Principal,
    group_slug: str,
    *,
    organisation: str,
    name: str = "",
    country: str | None = None,
    role: str = "reader",
    clearance: str = "amber",
    expires_in: timedelta = timedelta(days=7),
) -> tuple[Invitation, str]:
    """Invite an organisation (existing, or created on redemption) into a group; the token, once."""
    g = find_group(session, actor, group_slug)
    if not SLUG.match(organisation):
        raise Unprocessable(f"{organisation!r} is not a slug: lowercase letters, digits and '-', at most 64")
    level = parse_tlp(clearance, "clearance")
    check_role_and_clearance(g, role, level)
    if expires_in <= timedelta(0) or expires_in > MAX_VALIDITY:
        raise Unprocessable(
            f"an invitation expires after more than 0 seconds and at most {MAX_VALIDITY.days} days"
        )
    org = session.scalar(select(Organisation).where(Organisation.slug == organisation))
    if org is not None and session.scalar(
        select(Membership.id).where(Membership.group_id == g.id, Membership.organisation_id == org.id)
    ):
        raise Conflict(f"'{organisation}' is already a member of '{group_slug}'.")
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    inv = Invitation(
        token_id=token_id,
        token_digest=_digest(secret),
        group_id=g.id,
        organisation_slug=organisation,
        organisation_id=org.id if org else None,
        # the answer is the same whether the organisation exists or not: a coordinator learns nothing of
        # organisations outside its groups (an existing one redeems with its own key)
        organisation_name=name or organisation,
        country=country,
        role=role,
        clearance=level,
        created_by=actor.account_id or None,
        created_at=now,
        expires_at=now + expires_in,
    )
    session.add(inv)
    session.flush()
    audit(session, actor, "invitation.create", target=f"invitation {token_id} to {group_slug}", group_id=g.id,
          target_org_id=org.id if org else None, after=invitation_audit(inv))  # fmt: skip
    return inv, f"{TOKEN_PREFIX}_{token_id}_{secret}"


def list_invitations(session: Session, actor: Principal, group_slug: str) -> list[Invitation]:
    """A group's invitations, newest first (never their tokens)."""
    g = find_group(session, actor, group_slug)
    return list(
        session.scalars(
            select(Invitation)
            .where(Invitation.group_id == g.id)
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
    )


def revoke_invitation(session: Session, actor: Principal, group_slug: str, invitation_id: str) -> Invitation:
    """Withdraw a pending invitation."""
    g = find_group(session, actor, group_slug)
    inv = session.scalar(
        select(Invitation).where(Invitation.group_id == g.id, Invitation.token_id == invitation_id[:32])
    )
    if inv is None:
        raise NotFound(f"'{group_slug}' has no invitation '{invitation_id[:32]}'.")
    state = invitation_state(inv)
    if state != "pending":
        raise Conflict(f"The invitation '{inv.token_id}' is {state}; only a pending one is withdrawn.")
    before = invitation_audit(inv)
    inv.revoked_at = datetime.now(UTC)
    session.flush()
    audit(session, actor, "invitation.revoke", target=f"invitation {inv.token_id} to {group_slug}",
          group_id=g.id, before=before, after=invitation_audit(inv))  # fmt: skip
    return inv


@dataclass(frozen=True)
class Redeemed:
    """What redeeming created: the membership, and for a new organisation its account and first key."""

    group: str
    organisation: str
    role: str
    clearance: str
    account: str | None
    key: str | None
    key_id: str | None
    # a new organisation awaiting a platform admin's approval: its key works once approved
    pending_approval: bool = False


# Every way a token fails to be redeemable by its bearer answers this, byte for byte: a wrong or unknown
# token, an invitation of an existing organisation redeemed without that organisation's key, and an
# invitation whose new organisation's slug is taken. So redeeming never tells whether a slug exists.
NO_SUCH_INVITATION = (
    "There is no such invitation, or it is not yours to redeem (an invitation of an organisation that "
    "already has keys is redeemed with one of them)."
)


def _inviter_org(session: Session, inv: Invitation) -> int | None:
    """The organisation whose coordinator made the invitation; None for an admin's or the operator's."""
    acct = session.get(Account, inv.created_by) if inv.created_by else None
    return acct.organisation_id if acct is not None and not acct.is_admin else None


def redeem_invitation(
    session: Session,
    token: str,
    *,
    caller: Principal | None,
    account: str = "taxii",
    key_label: str = "first key",
    self_service: bool = False,
) -> Redeemed:
    """Redeem an invitation token once, before it expires.

    A new organisation awaits a platform admin's approval (its key works once approved) unless the
    operator allows self-service (HUB_INVITATIONS_SELF_SERVICE).
    """
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise NotFound(NO_SUCH_INVITATION)
    inv = session.scalar(select(Invitation).where(Invitation.token_id == parts[1][:32]))
    if inv is None or not hmac.compare_digest(inv.token_digest, _digest(parts[2])):
        raise NotFound(NO_SUCH_INVITATION)
    state = invitation_state(inv)
    if state != "pending":
        raise Conflict(f"This invitation is {state}; ask the group's coordinator for a new one.")
    if inv.organisation_id is not None and (caller is None or caller.org_id != inv.organisation_id):
        raise NotFound(NO_SUCH_INVITATION)
    group = session.get(TrustGroup, inv.group_id)
    assert group is not None  # noqa: S101 - the invitation's foreign key guarantees it
    check_role_and_clearance(group, inv.role, inv.clearance)  # max_tlp may have been lowered since
    secret = key_id = None
    inviter = _inviter_org(session, inv)
    pending = False
    if inv.organisation_id is not None:
        org = session.get(Organisation, inv.organisation_id)
        assert org is not None  # noqa: S101
        assert caller is not None  # noqa: S101 - checked above
        actor, acct_name = caller, None
        if session.scalar(
            select(Membership.id).where(Membership.group_id == group.id, Membership.organisation_id == org.id)
        ):
            raise Conflict(f"'{org.slug}' is already a member of '{group.slug}'.")
        if inviter is not None and (
            inviter in introducers(session, org.id, created_only=True)
            or org.id in introducers(session, inviter)
        ):
            # the caller is the invited organisation itself: this tells it nothing it does not know
            raise Forbidden(
                "This invitation comes from an organisation that created yours or that yours introduced: "
                "another coordinator or a platform admin adds the membership."
            )
    else:
        if session.scalar(select(Organisation.id).where(Organisation.slug == inv.organisation_slug)):
            raise NotFound(NO_SUCH_INVITATION)  # the slug was taken since: not told apart from a bad token
        system = Principal(account_id=0, org_id=0, org_slug="(invitation)", identity_id="", is_admin=False)
        pending = not self_service
        org = _new_organisation(session, system, slug=inv.organisation_slug, name=inv.organisation_name,
                                country=inv.country, contact=None, introduced_by=inviter,
                                pending_approval=pending)  # fmt: skip
        acct = Account(organisation_id=org.id, name=account, is_admin=False)
        session.add(acct)
        session.flush()
        key, secret = create_api_key(session, account=acct, label=key_label)
        key_id, acct_name = key.key_id, acct.name
        actor = Principal(account_id=acct.id, org_id=org.id, org_slug=org.slug, identity_id=org.identity_id,
                          is_admin=False)  # fmt: skip
    m = Membership(group_id=group.id, organisation_id=org.id, role=inv.role, clearance=inv.clearance,
                   added_by_org_id=inviter)  # fmt: skip
    session.add(m)
    before = invitation_audit(inv)
    inv.redeemed_at = datetime.now(UTC)
    inv.organisation_id = org.id
    session.flush()
    audit(session, actor, "invitation.redeem", target=f"invitation {inv.token_id} to {group.slug}",
          group_id=group.id, target_org_id=org.id, before=before, after=invitation_audit(inv))  # fmt: skip
    audit(session, actor, "membership.add", target=f"membership {org.slug}@{group.slug}", group_id=group.id,
          target_org_id=org.id, after=member_state(m))  # fmt: skip
    return Redeemed(group.slug, org.slug, m.role, tlp_name(m.clearance), acct_name, secret, key_id, pending)
