"""Trust use cases: load trust groups from configuration, issue and check API keys, build principals."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.config_files import read_yaml
from hub.errors import ConfigError
from hub.trust.models import (
    Account,
    ApiKey,
    Collection,
    CollectionRecipient,
    Membership,
    Organisation,
    TrustGroup,
)
from hub.trust.schemas import IssuedKey, TrustConfig

# A fixed namespace: organisation identities get the same ids on every hub that loads the same
# configuration, so peers and re-runs agree.
IDENTITY_NAMESPACE = uuid.UUID("5d0b3c4e-6a57-4c55-9f0e-7c1f0f1a2b3c")
KEY_PREFIX = "hub"

_hasher = PasswordHasher()


def identity_id_for(slug: str) -> str:
    """The deterministic STIX identity id of an organisation."""
    return f"identity--{uuid.uuid5(IDENTITY_NAMESPACE, slug)}"


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
            org = Organisation(slug=oc.slug, identity_id=identity_id_for(oc.slug), name=oc.name)
            session.add(org)
        if update or new_org:
            org.name, org.country, org.contact = oc.name, oc.country, oc.contact
        session.flush()  # flush so org.id is available to accounts and memberships
        orgs[oc.slug] = org
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


def create_api_key(
    session: Session, *, account: Account, label: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Issue a key; return the row and the secret text, which is never stored and never shown again."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(
        key_id=key_id,
        account_id=account.id,
        secret_hash=_hasher.hash(secret),
        label=label,
        created_at=datetime.now(UTC),
        expires_at=expires_at,
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


class _VerifiedCache:
    """Remembers, per process, a digest of secrets that passed argon2 for a key id.

    argon2 costs tens of milliseconds by design; checking it on every TAXII request would dominate a
    page's latency. Revocation and expiry are still read from the database on every request, so this
    holds nothing another replica needs, and a digest only stands in for a hash that already matched.
    """

    def __init__(self, size: int = 4096):
        self._size = size
        self._data: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, key_id: str, secret_hash: str, secret: str) -> bool | None:
        """True or False when this process has verified this key's secret before; None when not."""
        digest = hashlib.sha256(secret.encode()).digest()
        with self._lock:
            known = self._data.get((key_id, secret_hash))
            if known is None:
                return None
            self._data.move_to_end((key_id, secret_hash))
        return hmac.compare_digest(known, digest)

    def check(self, key_id: str, secret_hash: str, secret: str) -> bool:
        known = self.known(key_id, secret_hash, secret)
        if known is not None:
            return known
        try:
            _hasher.verify(secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return False
        digest = hashlib.sha256(secret.encode()).digest()
        with self._lock:
            self._data[(key_id, secret_hash)] = digest
            if len(self._data) > self._size:
                self._data.popitem(last=False)
        return True


_verified = _VerifiedCache()


@dataclass(frozen=True)
class KeyCheck:
    """An API key as sent, with what the database says of its key id (read before any argon2 work).

    `principal` is None when the key id is unknown, revoked or expired.
    """

    key_id: str
    secret: str = field(repr=False)
    secret_hash: str = field(repr=False, default="")
    principal: Principal | None = None
    organisation_id: int | None = None
    account_id: int | None = None

    def cached(self) -> bool:
        """Whether this process has already verified exactly this secret (no argon2 needed)."""
        return bool(self.secret_hash) and bool(_verified.known(self.key_id, self.secret_hash, self.secret))


def find_key(session: Session, raw_key: str) -> KeyCheck | None:
    """Look up a key's row and principal; None for a key that is not of the hub's form."""
    parts = raw_key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 16:
        return None
    key_id, secret = parts[1], parts[2]
    row = session.execute(
        select(ApiKey, Account, Organisation)
        .join(Account, ApiKey.account_id == Account.id)
        .join(Organisation, Account.organisation_id == Organisation.id)
        .where(ApiKey.key_id == key_id)
    ).first()
    if row is None:
        # key ids are public halves; learning that one does not exist reveals nothing of any secret
        return KeyCheck(key_id=key_id, secret=secret)
    key, account, org = row
    # a deactivated organisation's keys fail at once, whatever the cache holds
    usable = (
        key.revoked_at is None
        and org.active
        and (key.expires_at is None or _aware(key.expires_at) > datetime.now(UTC))
    )
    return KeyCheck(
        key_id=key_id,
        secret=secret,
        secret_hash=key.secret_hash,
        principal=principal_for(session, account=account, org=org) if usable else None,
        organisation_id=org.id,
        account_id=account.id,
    )


def verify_key(check: KeyCheck) -> bool:
    """argon2-verify a looked-up key (or answer from the cache); call it outside any transaction."""
    return check.principal is not None and _verified.check(check.key_id, check.secret_hash, check.secret)


def authenticate(session: Session, raw_key: str) -> Principal | None:
    """The principal an API key stands for, or None for a malformed, unknown, revoked or expired key."""
    check = find_key(session, raw_key)
    if check is None or not verify_key(check):
        return None
    return check.principal


def principal_for(session: Session, *, account: Account, org: Organisation) -> Principal:
    """Build the principal of an account: its organisation and memberships."""
    members = session.scalars(select(Membership).where(Membership.organisation_id == org.id))
    return Principal(
        account_id=account.id,
        org_id=org.id,
        org_slug=org.slug,
        identity_id=org.identity_id,
        is_admin=account.is_admin,
        memberships={m.group_id: GroupAccess(m.group_id, m.role, m.clearance) for m in members},
    )


def _aware(dt: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
