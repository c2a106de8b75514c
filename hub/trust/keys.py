"""API key use cases shared by the admin API, the CLI and the console: issue, list, rotate, revoke, suspend.

Who may do what (each enforced here, whatever surface calls):
- a key acts for its own account: with the `manage` scope it issues, rotates, lists and revokes the keys
  of that account only, and never grants a scope it does not hold; a console session (a person who
  signed in) manages the keys of its organisation's accounts; a platform admin manages every key;
- no one but a platform admin issues or rotates a key of a platform-admin account;
- a group's coordinator never revokes a member's key: it lists the member's keys as that group needs
  them (ids, states, scopes; no labels, nothing of other groups) and suspends a key *in that group*,
  which then reads and writes nothing there and works as before elsewhere. Each suspension is audited.
Secrets are returned once, at issue or rotation, and never stored (only their SHA-256 digest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.errors import Conflict, Forbidden, NotFound, Unprocessable
from hub.trust.manage import audit, find_group, find_organisation
from hub.trust.models import Account, ApiKey, KeyGroupSuspension, Membership, Organisation, TrustGroup
from hub.trust.service import ALL_SCOPES, SCOPES, Principal, _aware, create_api_key, key_scopes

MAX_GRACE = timedelta(days=30)
KEY_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class KeyInfo:
    """A key without its secret, with the account it belongs to and the groups it is suspended in."""

    key: ApiKey
    account: str
    organisation: str
    suspended_in: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """active, rotated (works until `works_until`, in its grace period), expired or revoked."""
        if self.key.revoked_at is not None:
            return "revoked"
        if self.key.expires_at is not None and _aware(self.key.expires_at) <= datetime.now(UTC):
            return "expired"
        if self.key.rotated_at is not None:
            return "rotated"
        return "active"

    @property
    def works_until(self) -> datetime | None:
        """For a rotated key, when its grace period ends; None otherwise."""
        if self.state == "rotated" and self.key.expires_at is not None:
            return _aware(self.key.expires_at)
        return None

    @property
    def scopes(self) -> list[str]:
        return sorted(key_scopes(self.key))


def key_state(info: KeyInfo) -> dict[str, object]:
    """A key as the audit log records it (never its secret)."""
    k = info.key
    return {
        "key_id": k.key_id,
        "account": info.account,
        "label": k.label,
        "expires_at": _aware(k.expires_at).isoformat() if k.expires_at else None,
        "revoked": k.revoked_at is not None,
        "scopes": info.scopes,
    }


def check_key_id(key_id: str) -> str:
    """A key id (16 lower-case hex) from a path; 422 otherwise, never echoing what was sent (a secret?)."""
    if not KEY_ID.fullmatch(key_id):
        raise Unprocessable(
            "A key is named in a path by its key id alone: the 16 hexadecimal characters after 'hub_'. "
            "What was sent is not a key id (and is not repeated here, in case it was a whole key)."
        )
    return key_id


def _own_org(session: Session, actor: Principal, org_slug: str) -> Organisation:
    """The organisation whose keys the caller manages: its own, or any for a platform admin."""
    actor.require("manage")
    org = find_organisation(session, actor, org_slug)
    if actor.is_admin or org.id == actor.org_id:
        return org
    raise Forbidden(
        f"Only '{org_slug}' itself or a platform admin manages its keys; a coordinator suspends a "
        "member's key in its own group (POST /groups/{group}/members/{org}/keys/{key_id}/suspend)."
    )


def _may_touch(actor: Principal, acct: Account) -> bool:
    """Whether the caller manages the keys of this account (of its own organisation, or any for an admin)."""
    if actor.is_admin:
        return True
    if acct.is_admin or acct.organisation_id != actor.org_id:
        return False
    # a key acts for its own account; a console session for its organisation's accounts
    return actor.key_id is None or acct.id == actor.account_id


def _suspensions(
    session: Session, key_ids: list[int], *, group_ids: set[int] | None = None
) -> dict[int, list[str]]:
    if not key_ids:
        return {}
    stmt = (
        select(KeyGroupSuspension.api_key_id, TrustGroup.slug)
        .join(TrustGroup, TrustGroup.id == KeyGroupSuspension.group_id)
        .where(KeyGroupSuspension.api_key_id.in_(key_ids))
        .order_by(TrustGroup.slug)
    )
    if group_ids is not None:
        stmt = stmt.where(KeyGroupSuspension.group_id.in_(list(group_ids)))
    out: dict[int, list[str]] = {}
    for kid, slug in session.execute(stmt):
        out.setdefault(kid, []).append(slug)
    return out


def _infos(session: Session, rows: list[tuple[ApiKey, Account]], org: Organisation) -> list[KeyInfo]:
    sus = _suspensions(session, [k.id for k, _a in rows])
    return [KeyInfo(k, a.name, org.slug, tuple(sus.get(k.id, []))) for k, a in rows]


def list_keys(session: Session, actor: Principal, org_slug: str) -> list[KeyInfo]:
    """The keys of an organisation the caller manages, newest first, without secrets."""
    org = _own_org(session, actor, org_slug)
    rows = session.execute(
        select(ApiKey, Account)
        .join(Account, ApiKey.account_id == Account.id)
        .where(Account.organisation_id == org.id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return _infos(session, [(k, a) for k, a in rows if _may_touch(actor, a)], org)


def _find_key(session: Session, actor: Principal, org: Organisation, key_id: str) -> tuple[ApiKey, Account]:
    """A key of the organisation the caller manages; a key it does not manage is answered as absent."""
    check_key_id(key_id)
    row = session.execute(
        select(ApiKey, Account)
        .join(Account, ApiKey.account_id == Account.id)
        .where(Account.organisation_id == org.id, ApiKey.key_id == key_id)
    ).first()
    if row is None or not _may_touch(actor, row[1]):
        raise NotFound(f"'{org.slug}' has no key '{key_id}' you manage.")
    return row[0], row[1]


def _check_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    if expires_at <= datetime.now(UTC):
        raise Unprocessable(f"expires_at {expires_at.isoformat()} is in the past")
    return expires_at


def _check_scopes(actor: Principal, scopes: list[str] | frozenset[str] | None) -> frozenset[str]:
    wanted = ALL_SCOPES if scopes is None else frozenset(scopes)
    unknown = wanted - ALL_SCOPES
    if unknown or not wanted:
        raise Unprocessable(f"scopes: one or more of {', '.join(SCOPES)}")
    beyond = wanted - actor.scopes
    if beyond:
        raise Forbidden(
            f"A key never grants more than it holds: this key lacks {', '.join(sorted(beyond))}, so it "
            "cannot issue a key with it."
        )
    return wanted


def _account_of(session: Session, actor: Principal) -> str:
    acct = session.get(Account, actor.account_id) if actor.account_id else None
    return acct.name if acct is not None else "taxii"


def issue_key(
    session: Session,
    actor: Principal,
    org_slug: str,
    *,
    account: str | None = None,
    label: str = "",
    expires_at: datetime | None = None,
    scopes: list[str] | frozenset[str] | None = None,
) -> tuple[KeyInfo, str]:
    """Issue a key to an account (the caller's own by default); the secret once.

    A platform admin (or a console session, for its organisation) may name an account that does not
    exist yet: it is made, never as a platform admin.
    """
    org = _own_org(session, actor, org_slug)
    wanted = _check_scopes(actor, scopes)
    expires_at = _check_expiry(expires_at)
    name = account or _account_of(session, actor)
    acct = session.scalar(select(Account).where(Account.organisation_id == org.id, Account.name == name))
    if acct is not None and acct.is_admin and not actor.is_admin:
        raise Forbidden("Only a platform admin issues keys for a platform-admin account.")
    if acct is not None and not _may_touch(actor, acct):
        raise Forbidden("A key issues keys for its own account only (a platform admin's, for any).")
    if acct is None:
        if not (actor.is_admin or actor.key_id is None):
            raise Forbidden("A key issues keys for its own account only (a platform admin's, for any).")
        acct = Account(organisation_id=org.id, name=name, is_admin=False)
        session.add(acct)
        session.flush()
    key, secret = create_api_key(session, account=acct, label=label, expires_at=expires_at, scopes=wanted)
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
    """A new key for the same account, label, scopes, expiry and group suspensions; the old one keeps
    working for `grace` (never past its own expiry), state "rotated". A rotated key is not rotated again."""
    org = _own_org(session, actor, org_slug)
    key, acct = _find_key(session, actor, org, key_id)
    old = KeyInfo(key, acct.name, org.slug)
    if old.state != "active":
        until = f", working until {old.works_until.isoformat()}" if old.works_until else ""
        raise Conflict(f"The key '{key.key_id}' is {old.state}{until}; only an active key is rotated.")
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise Unprocessable(f"the grace period is between 0 seconds and {MAX_GRACE.days} days")
    before = key_state(old)
    new, secret = create_api_key(
        session, account=acct, label=key.label, expires_at=key.expires_at, scopes=key_scopes(key)
    )
    # a member does not shed a coordinator's suspension by rotating its key
    groups = list(session.scalars(select(KeyGroupSuspension).where(KeyGroupSuspension.api_key_id == key.id)))
    for s in groups:
        session.add(KeyGroupSuspension(api_key_id=new.id, group_id=s.group_id, created_at=s.created_at,
                                       created_by=s.created_by))  # fmt: skip
    now = datetime.now(UTC)
    end = now + grace
    if key.expires_at is None or _aware(key.expires_at) > end:
        key.expires_at = end
    key.rotated_at, key.replaced_by = now, new.key_id
    session.flush()
    sus = _suspensions(session, [key.id, new.id])
    new_info = KeyInfo(new, acct.name, org.slug, tuple(sus.get(new.id, [])))
    old_info = KeyInfo(key, acct.name, org.slug, tuple(sus.get(key.id, [])))
    audit(session, actor, "key.rotate", target=f"key {key.key_id} of {org.slug}", target_org_id=org.id,
          before=before, after={**key_state(old_info), "replaced_by": new.key_id})  # fmt: skip
    return new_info, secret, old_info


def get_key(session: Session, actor: Principal, org_slug: str, key_id: str) -> KeyInfo:
    """One key the caller manages (404 as revoking it would answer)."""
    org = _own_org(session, actor, org_slug)
    key, acct = _find_key(session, actor, org, key_id)
    return _infos(session, [(key, acct)], org)[0]


def revoke_key(session: Session, actor: Principal, org_slug: str, key_id: str) -> KeyInfo:
    """Revoke a key at once (its organisation or a platform admin): the next request with it is refused."""
    org = _own_org(session, actor, org_slug)
    key, acct = _find_key(session, actor, org, key_id)
    info = _infos(session, [(key, acct)], org)[0]
    if key.revoked_at is not None:
        return info
    before = key_state(info)
    key.revoked_at = datetime.now(UTC)
    session.flush()
    audit(session, actor, "key.revoke", target=f"key {key.key_id} of {org.slug}", target_org_id=org.id,
          before=before, after=key_state(info))  # fmt: skip
    return info


# ---------------------------------------------------------------- a coordinator: a member's keys in a group


@dataclass(frozen=True)
class MemberKey:
    """A member's key as a coordinator of one group sees it: no label, nothing of other groups."""

    info: KeyInfo
    suspended: bool  # in this group

    def json(self) -> dict[str, object]:
        """The fields a coordinator sees, as JSON values."""
        k = self.info.key
        return {
            "key_id": k.key_id,
            "organisation": self.info.organisation,
            "account": self.info.account,
            "created_at": _aware(k.created_at).isoformat(),
            "expires_at": _aware(k.expires_at).isoformat() if k.expires_at else None,
            "state": self.info.state,
            "scopes": self.info.scopes,
            "suspended": self.suspended,
        }


def _member_org(
    session: Session, actor: Principal, group_slug: str, org_slug: str
) -> tuple[TrustGroup, Organisation]:
    actor.require("manage")
    group = find_group(session, actor, group_slug)
    org = session.scalar(select(Organisation).where(Organisation.slug == org_slug))
    member = (
        session.scalar(
            select(Membership.id).where(Membership.group_id == group.id, Membership.organisation_id == org.id)
        )
        if org is not None
        else None
    )
    if org is None or member is None:
        raise NotFound(f"'{org_slug}' is not a member of '{group_slug}'.")
    return group, org


def list_member_keys(session: Session, actor: Principal, group_slug: str, org_slug: str) -> list[MemberKey]:
    """A member's keys, newest first, as the group's coordinator needs them: ids, states, scopes and
    whether each is suspended in this group."""
    group, org = _member_org(session, actor, group_slug, org_slug)
    rows = [
        (k, a)
        for k, a in session.execute(
            select(ApiKey, Account)
            .join(Account, ApiKey.account_id == Account.id)
            .where(Account.organisation_id == org.id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        )
    ]
    sus = _suspensions(session, [k.id for k, _a in rows], group_ids={group.id})
    return [MemberKey(KeyInfo(k, a.name, org.slug), k.id in sus) for k, a in rows]


def _member_key(
    session: Session, actor: Principal, group_slug: str, org_slug: str, key_id: str
) -> tuple[TrustGroup, Organisation, ApiKey, Account]:
    check_key_id(key_id)
    group, org = _member_org(session, actor, group_slug, org_slug)
    row = session.execute(
        select(ApiKey, Account)
        .join(Account, ApiKey.account_id == Account.id)
        .where(Account.organisation_id == org.id, ApiKey.key_id == key_id)
    ).first()
    if row is None:
        raise NotFound(f"'{org_slug}' has no key '{key_id}'.")
    return group, org, row[0], row[1]


def suspend_key(session: Session, actor: Principal, group_slug: str, org_slug: str, key_id: str) -> MemberKey:
    """Suspend a member's key in a group the caller coordinates: it reads and writes nothing there."""
    group, org, key, acct = _member_key(session, actor, group_slug, org_slug, key_id)
    exists = session.scalar(
        select(KeyGroupSuspension.id).where(
            KeyGroupSuspension.api_key_id == key.id, KeyGroupSuspension.group_id == group.id
        )
    )
    if exists is None:
        session.add(KeyGroupSuspension(api_key_id=key.id, group_id=group.id, created_at=datetime.now(UTC),
                                       created_by=actor.account_id or None))  # fmt: skip
        session.flush()
        audit(session, actor, "key.suspend", target=f"key {key.key_id} of {org.slug} in {group.slug}",
              group_id=group.id, target_org_id=org.id, before={"key_id": key.key_id, "suspended": False},
              after={"key_id": key.key_id, "suspended": True})  # fmt: skip
    return MemberKey(KeyInfo(key, acct.name, org.slug), True)


def reinstate_key(
    session: Session, actor: Principal, group_slug: str, org_slug: str, key_id: str
) -> MemberKey:
    """Lift a key's suspension in a group the caller coordinates."""
    group, org, key, acct = _member_key(session, actor, group_slug, org_slug, key_id)
    gone = session.execute(
        delete(KeyGroupSuspension).where(
            KeyGroupSuspension.api_key_id == key.id, KeyGroupSuspension.group_id == group.id
        )
    )
    if gone.rowcount:  # type: ignore[attr-defined]
        audit(session, actor, "key.reinstate", target=f"key {key.key_id} of {org.slug} in {group.slug}",
              group_id=group.id, target_org_id=org.id, before={"key_id": key.key_id, "suspended": True},
              after={"key_id": key.key_id, "suspended": False})  # fmt: skip
    return MemberKey(KeyInfo(key, acct.name, org.slug), False)


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
