"""API key use cases shared by the admin API and the CLI: issue, list, rotate, revoke.

An organisation manages its own keys; a platform admin manages all; a group's coordinators may list and
revoke (never issue) the keys of that group's members, so a leaked key is stopped by whoever sees it first.
Secrets are returned once, at issue or rotation, and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import Conflict, Forbidden, NotFound, Unprocessable
from hub.trust.manage import audit, coordinated_groups, find_organisation
from hub.trust.models import Account, ApiKey, Membership, Organisation
from hub.trust.service import Principal, _aware, create_api_key

MAX_GRACE = timedelta(days=30)


@dataclass(frozen=True)
class KeyInfo:
    """A key without its secret, with the account it belongs to."""

    key: ApiKey
    account: str
    organisation: str

    @property
    def state(self) -> str:
        """active, expired or revoked."""
        if self.key.revoked_at is not None:
            return "revoked"
        if self.key.expires_at is not None and _aware(self.key.expires_at) <= datetime.now(UTC):
            return "expired"
        return "active"


def key_state(info: KeyInfo) -> dict[str, object]:
    """A key as the audit log records it (never its secret)."""
    k = info.key
    return {
        "key_id": k.key_id,
        "account": info.account,
        "label": k.label,
        "expires_at": _aware(k.expires_at).isoformat() if k.expires_at else None,
        "revoked": k.revoked_at is not None,
    }


def _org_for(session: Session, actor: Principal, org_slug: str, *, manage: bool) -> Organisation:
    org = find_organisation(session, actor, org_slug)
    if actor.is_admin or org.id == actor.org_id:
        return org
    if not manage:
        # a coordinator of a group the organisation belongs to may list and revoke its keys
        shared = session.scalar(
            select(Membership.id).where(
                Membership.organisation_id == org.id,
                Membership.group_id.in_(list(coordinated_groups(actor))),
            )
        )
        if shared is not None:
            return org
    raise Forbidden(f"Only '{org_slug}' itself or a platform admin may issue or rotate its keys.")


def list_keys(session: Session, actor: Principal, org_slug: str) -> list[KeyInfo]:
    """An organisation's keys, newest first, without secrets."""
    org = _org_for(session, actor, org_slug, manage=False)
    rows = session.execute(
        select(ApiKey, Account.name)
        .join(Account, ApiKey.account_id == Account.id)
        .where(Account.organisation_id == org.id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return [KeyInfo(k, name, org.slug) for k, name in rows]


def _find_key(session: Session, org: Organisation, key_id: str) -> KeyInfo:
    row = session.execute(
        select(ApiKey, Account.name)
        .join(Account, ApiKey.account_id == Account.id)
        .where(Account.organisation_id == org.id, ApiKey.key_id == key_id.removeprefix("hub_")[:16])
    ).first()
    if row is None:
        raise NotFound(f"'{org.slug}' has no key '{key_id[:32]}'.")
    return KeyInfo(row[0], row[1], org.slug)


def _check_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    if expires_at <= datetime.now(UTC):
        raise Unprocessable(f"expires_at {expires_at.isoformat()} is in the past")
    return expires_at


def issue_key(
    session: Session,
    actor: Principal,
    org_slug: str,
    *,
    account: str = "taxii",
    label: str = "",
    expires_at: datetime | None = None,
) -> tuple[KeyInfo, str]:
    """Issue a key to an account of the organisation (made if it has none of that name); the secret once."""
    org = _org_for(session, actor, org_slug, manage=True)
    expires_at = _check_expiry(expires_at)
    acct = session.scalar(select(Account).where(Account.organisation_id == org.id, Account.name == account))
    if acct is None:
        acct = Account(organisation_id=org.id, name=account, is_admin=False)
        session.add(acct)
        session.flush()
    key, secret = create_api_key(session, account=acct, label=label, expires_at=expires_at)
    info = KeyInfo(key, acct.name, org.slug)
    audit(session, actor, "key.issue", target=f"key {key.key_id} of {org.slug}", target_org_id=org.id,
          after=key_state(info))  # fmt: skip
    return info, secret


def rotate_key(
    session: Session,
    actor: Principal,
    org_slug: str,
    key_id: str,
    *,
    grace: timedelta = timedelta(hours=24),
) -> tuple[KeyInfo, str, KeyInfo]:
    """A new key for the same account and label; the old one keeps working for `grace`, then expires."""
    org = _org_for(session, actor, org_slug, manage=True)
    old = _find_key(session, org, key_id)
    if old.state != "active":
        raise Conflict(f"The key '{old.key.key_id}' is {old.state}; only an active key is rotated.")
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise Unprocessable(f"the grace period is between 0 seconds and {MAX_GRACE.days} days")
    acct = session.get(Account, old.key.account_id)
    assert acct is not None  # noqa: S101 - the key's foreign key guarantees it
    before = key_state(old)
    new, secret = create_api_key(session, account=acct, label=old.key.label, expires_at=old.key.expires_at)
    end = datetime.now(UTC) + grace
    if old.key.expires_at is None or _aware(old.key.expires_at) > end:
        old.key.expires_at = end
    session.flush()
    new_info = KeyInfo(new, acct.name, org.slug)
    audit(session, actor, "key.rotate", target=f"key {old.key.key_id} of {org.slug}", target_org_id=org.id,
          before=before, after={**key_state(old), "replaced_by": new.key_id})  # fmt: skip
    return new_info, secret, old


def revoke_key(session: Session, actor: Principal, org_slug: str, key_id: str) -> KeyInfo:
    """Revoke a key at once: the next request with it is refused."""
    org = _org_for(session, actor, org_slug, manage=False)
    info = _find_key(session, org, key_id)
    if info.key.revoked_at is not None:
        return info
    before = key_state(info)
    info.key.revoked_at = datetime.now(UTC)
    session.flush()
    audit(session, actor, "key.revoke", target=f"key {info.key.key_id} of {org.slug}", target_org_id=org.id,
          before=before, after=key_state(info))  # fmt: skip
    return info


def bootstrap_admin_key(
    session: Session, *, org_slug: str = "hub-operator", account: str = "admin", label: str = "platform admin"
) -> tuple[KeyInfo, str]:
    """A platform-admin key, for the operator who holds the database (`hub admin create-key`).

    Makes the operator's organisation and admin account when they do not exist yet; the organisation
    joins no group, so the key administers the hub without reading any group's objects.
    """
    from hub.trust.manage import OPERATOR, _new_organisation

    org = session.scalar(select(Organisation).where(Organisation.slug == org_slug))
    if org is None:
        org = _new_organisation(session, OPERATOR, slug=org_slug, name="Hub operator", country=None,
                                contact=None)  # fmt: skip
    acct = session.scalar(select(Account).where(Account.organisation_id == org.id, Account.name == account))
    if acct is None:
        acct = Account(organisation_id=org.id, name=account, is_admin=True)
        session.add(acct)
    acct.is_admin = True
    session.flush()
    key, secret = create_api_key(session, account=acct, label=label)
    info = KeyInfo(key, acct.name, org.slug)
    audit(session, OPERATOR, "key.issue", target=f"key {key.key_id} of {org.slug} (platform admin)",
          target_org_id=org.id, after=key_state(info))  # fmt: skip
    return info, secret
