"""Trust use cases: load trust groups from configuration, issue and check API keys, build principals.

API keys are 256 random bits: a SHA-256 digest, compared in constant time, is as strong as any slow hash
for them (as GitHub and Stripe store theirs); argon2 is for passwords people choose. Rows made before
digests hold an argon2 hash, replaced by the digest on the key's first successful use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from hub.config_files import read_yaml
from hub.errors import ConfigError, Forbidden
from hub.trust.models import (
    Account,
    ApiKey,
    Collection,
    CollectionRecipient,
    KeyGroupSuspension,
    Membership,
    Organisation,
    TrustGroup,
)
from hub.trust.schemas import IssuedKey, TrustConfig
from hub.vocab.ids import identity_id

KEY_PREFIX = "hub"

_hasher = PasswordHasher()


def new_collection_id() -> str:
    """A new collection's id: TAXII 2.1's `identifier` is an RFC 4122 version 4 UUID."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class GroupAccess:
    """An organisation's role and clearance in one group."""

    group_id: int
    role: str
    clearance: int


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account, its organisation, and its memberships by group id."""

    account_id: int
    org_id: int
    org_slug: str
    identity_id: str
    is_admin: bool
    memberships: dict[int, GroupAccess] = field(default_factory=dict)
    # what the caller may do: a key's scopes (a console session holds all of them)
    scopes: frozenset[str] = frozenset({"download", "manage", "read", "write"})
    key_id: str | None = None  # the key the caller authenticated with; None for a console session
    suspended: frozenset[int] = frozenset()  # groups where a coordinator suspended this key

    def require(self, scope: str) -> None:
        """403 unless the caller's key holds `scope`."""
        if scope not in self.scopes:
            held = ", ".join(sorted(self.scopes)) or "none"
            raise Forbidden(f"This API key lacks the '{scope}' scope; it holds: {held}.")


# ---------------------------------------------------------------- configuration


def read_config(path: Path) -> TrustConfig:
    """Parse and validate a trust-groups YAML file; errors name the file, the path inside it and why."""
    return read_yaml(path, TrustConfig)


def apply_config(session: Session, cfg: TrustConfig, *, update: bool = True) -> list[IssuedKey]:
    """Create or update what the configuration declares (idempotent); return keys created now.

    A key is issued only to an account that has no usable key, so re-running never prints a secret
    twice and never invalidates keys already handed out. With `update` False, only what is missing is
    created (and keys only for accounts created now): nothing that exists is changed, so what was
    administered remotely (a clearance a coordinator lowered, keys an organisation revoked) stays.
    """
    issued: list[IssuedKey] = []
    orgs: dict[str, Organisation] = {}
    for oc in cfg.organisations:
        org = session.scalar(select(Organisation).where(Organisation.slug == oc.slug))
        new_org = org is None
        if org is None:
            org = Organisation(slug=oc.slug, identity_id=identity_id(oc.slug), name=oc.name)
            session.add(org)
        if update or new_org:
            org.name, org.country, org.contact = oc.name, oc.country, oc.contact
        session.flush()  # flush so org.id is available to accounts and memberships
        orgs[oc.slug] = org
        if oc.constituency is not None and (update or new_org):
            from hub.trust.constituency import apply_config_constituency  # it builds on this module

            apply_config_constituency(session, org.slug, oc.constituency)
        for ac in oc.accounts:
            acct = session.scalar(
                select(Account).where(Account.organisation_id == org.id, Account.name == ac.name)
            )
            new_acct = acct is None
            if acct is None:
                acct = Account(organisation_id=org.id, name=ac.name, is_admin=ac.admin)
                session.add(acct)
                session.flush()
            if update:
                acct.is_admin = ac.admin
            if (update or new_acct) and not _has_usable_key(session, acct.id):
                for kc in ac.keys:
                    expires = datetime.now(UTC) + timedelta(days=kc.expires_days) if kc.expires_days else None
                    key, secret = create_api_key(session, account=acct, label=kc.label, expires_at=expires)
                    issued.append(
                        IssuedKey(
                            organisation=org.slug,
                            account=acct.name,
                            label=key.label,
                            key=secret,
                            expires_at=expires.isoformat() if expires else None,
                        )
                    )
    for gc in cfg.groups:
        group = session.scalar(select(TrustGroup).where(TrustGroup.slug == gc.slug))
        new_group = group is None
        if group is None:
            group = TrustGroup(slug=gc.slug)
            session.add(group)
        if update or new_group:
            group.name, group.description, group.community = gc.name, gc.description, gc.community
            group.default_tlp, group.max_tlp = gc.default_tlp, gc.max_tlp
            group.min_ipv4_prefix, group.min_ipv6_prefix = gc.min_ipv4_prefix, gc.min_ipv6_prefix
            group.benign_mode = gc.benign_mode
            group.feedback_visibility = gc.feedback_visibility
            group.false_positive_threshold = gc.false_positive_threshold
        session.flush()
        for mc in gc.members:
            org = orgs[mc.org]
            m = session.scalar(
                select(Membership).where(
                    Membership.group_id == group.id, Membership.organisation_id == org.id
                )
            )
            if m is not None and not update:
                continue
            if m is None:
                m = Membership(group_id=group.id, organisation_id=org.id)
                session.add(m)
            m.role, m.clearance = mc.role, mc.clearance
        for cc in gc.collections:
            # a collection is known by its group and alias: its id, once given, never changes
            coll = session.scalar(
                select(Collection).where(Collection.group_id == group.id, Collection.alias == cc.alias)
            )
            if coll is not None and cc.id is not None and coll.id != str(cc.id):
                raise ConfigError(
                    "trust configuration",
                    f"groups.{gc.slug}.collections.{cc.alias}.id",
                    f"the collection already has the id {coll.id}; collection ids never change",
                )
            if coll is not None and not update:
                continue
            if coll is None:
                coll = Collection(id=str(cc.id) if cc.id else new_collection_id(), group_id=group.id)
                coll.alias = cc.alias
                session.add(coll)
            cid = coll.id
            coll.title = cc.title or cc.alias
            coll.description, coll.kind = cc.description, cc.kind
            coll.owner_id = orgs[cc.owner].id if cc.owner else None
            session.flush()
            want = {orgs[r].id for r in cc.recipients}
            have = {r.organisation_id for r in coll.recipients}
            for r in list(coll.recipients):
                if r.organisation_id not in want:
                    coll.recipients.remove(r)
            for oid in want - have:
                coll.recipients.append(CollectionRecipient(collection_id=cid, organisation_id=oid))
    session.flush()
    return issued


def _has_usable_key(session: Session, account_id: int) -> bool:
    now = datetime.now(UTC)
    for key in session.scalars(
        select(ApiKey).where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
    ):
        if key.expires_at is None or _aware(key.expires_at) > now:
            return True
    return False


# ---------------------------------------------------------------- API keys

# what a key may do: download device lists; read (TAXII GETs, lookups); write (TAXII POST and DELETE,
# publishing); manage (keys and the admin API)
SCOPES = ("download", "manage", "read", "write")
ALL_SCOPES = frozenset(SCOPES)
DIGEST_PREFIX = "sha256:"


def key_digest(secret: str) -> str:
    """What is stored of a key's secret: its SHA-256, as `sha256:<hex>`."""
    return DIGEST_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def scopes_text(scopes: frozenset[str] | set[str]) -> str:
    """Scopes as the `api_keys.scopes` column holds them: sorted, comma-separated."""
    return ",".join(sorted(scopes))


def key_scopes(key: ApiKey) -> frozenset[str]:
    """The scopes a key holds."""
    return frozenset(s for s in (key.scopes or "").split(",") if s)


def create_api_key(
    session: Session,
    *,
    account: Account,
    label: str = "",
    expires_at: datetime | None = None,
    scopes: frozenset[str] = ALL_SCOPES,
) -> tuple[ApiKey, str]:
    """Issue a key; return the row and the secret text, which is never stored and never shown again."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)  # 256 random bits
    row = ApiKey(
        key_id=key_id,
        account_id=account.id,
        secret_hash=key_digest(secret),
        label=label,
        created_at=datetime.now(UTC),
        expires_at=expires_at,
        scopes=scopes_text(scopes),
    )
    session.add(row)
    session.flush()
    return row, f"{KEY_PREFIX}_{key_id}_{secret}"


def revoke_api_key(session: Session, *, key_id: str) -> bool:
    """Revoke a key by its public id; False when there is no such key."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    session.flush()
    return True


@dataclass(frozen=True)
class KeyCheck:
    """An API key as sent, checked against its row.

    `principal` is set only for a usable key whose secret matched. `legacy` is set for a usable key
    whose row still holds an argon2 hash: the caller verifies it (`verify_legacy`, outside any
    transaction) and then stores the digest (`store_digest`).
    """

    key_id: str
    principal: Principal | None = None
    organisation_id: int | None = None
    account_id: int | None = None
    legacy: Principal | None = None
    secret: str = field(repr=False, default="")
    secret_hash: str = field(repr=False, default="")


def parse_key(raw_key: str) -> tuple[str, str] | None:
    """A key's id and secret, or None for text that is not of the hub's form."""
    parts = raw_key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 16:
        return None
    return parts[1], parts[2]


def check_key(session: Session, raw_key: str) -> KeyCheck | None:
    """Look up a key and compare its secret's digest in constant time; None for text not of a key's form."""
    parsed = parse_key(raw_key)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = session.execute(
        select(ApiKey, Account, Organisation)
        .join(Account, ApiKey.account_id == Account.id)
        .join(Organisation, Account.organisation_id == Organisation.id)
        .where(ApiKey.key_id == key_id)
    ).first()
    if row is None:
        # key ids are public halves; learning that one does not exist reveals nothing of any secret
        hmac.compare_digest(key_digest(secret), key_digest(""))
        return KeyCheck(key_id=key_id)
    key, account, org = row
    usable = (
        key.revoked_at is None
        and org.active
        and (key.expires_at is None or _aware(key.expires_at) > datetime.now(UTC))
    )
    ids = {"key_id": key_id, "organisation_id": org.id, "account_id": account.id}
    if not usable:
        return KeyCheck(**ids)  # type: ignore[arg-type]
    if not key.secret_hash.startswith(DIGEST_PREFIX):
        who = principal_for(session, account=account, org=org, key=key)
        return KeyCheck(**ids, legacy=who, secret=secret, secret_hash=key.secret_hash)  # type: ignore[arg-type]
    if not hmac.compare_digest(key.secret_hash.encode(), key_digest(secret).encode()):
        return KeyCheck(**ids)  # type: ignore[arg-type]
    return KeyCheck(**ids, principal=principal_for(session, account=account, org=org, key=key))  # type: ignore[arg-type]


def verify_legacy(check: KeyCheck) -> bool:
    """argon2-verify a key issued before digests (tens of milliseconds): call it outside any transaction."""
    try:
        return check.legacy is not None and _hasher.verify(check.secret_hash, check.secret)
    except (VerificationError, InvalidHashError):
        return False


def store_digest(session: Session, check: KeyCheck) -> None:
    """Replace a verified key's argon2 hash by the digest of its secret (once; a concurrent one wins)."""
    session.execute(
        update(ApiKey)
        .where(ApiKey.key_id == check.key_id, ApiKey.secret_hash == check.secret_hash)
        .values(secret_hash=key_digest(check.secret))
    )


def authenticate(session: Session, raw_key: str) -> Principal | None:
    """The principal an API key stands for, or None for a malformed, unknown, revoked or expired key."""
    check = check_key(session, raw_key)
    if check is None:
        return None
    if check.legacy is not None and verify_legacy(check):
        store_digest(session, check)
        return check.legacy
    return check.principal


def principal_for(
    session: Session, *, account: Account, org: Organisation, key: ApiKey | None = None
) -> Principal:
    """Build the principal of an account (through one of its keys, or a console session).

    A key suspended in a group by the group's coordinator has no membership there: it neither reads
    nor writes that group, and works as before everywhere else.
    """
    stmt = select(Membership, KeyGroupSuspension.id).where(Membership.organisation_id == org.id)
    # one query: the memberships, each with this key's suspension there if any
    stmt = stmt.outerjoin(
        KeyGroupSuspension,
        and_(
            KeyGroupSuspension.group_id == Membership.group_id,
            KeyGroupSuspension.api_key_id == (key.id if key is not None else -1),
        ),
    )
    rows = session.execute(stmt).all()
    suspended = frozenset(m.group_id for m, sus in rows if sus is not None)
    members = [m for m, sus in rows if sus is None]
    return Principal(
        account_id=account.id,
        org_id=org.id,
        org_slug=org.slug,
        identity_id=org.identity_id,
        is_admin=account.is_admin,
        memberships={m.group_id: GroupAccess(m.group_id, m.role, m.clearance) for m in members},
        scopes=key_scopes(key) if key is not None else ALL_SCOPES,
        key_id=key.key_id if key is not None else None,
        suspended=suspended,
    )


def _aware(dt: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
