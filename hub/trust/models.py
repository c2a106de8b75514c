"""ORM tables of organisations, trust groups, memberships, accounts, API keys and collections."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base


class Organisation(Base):
    """A member CIRT or partner; its STIX identity id is deterministic from its slug."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))
    identity_id: Mapped[str] = mapped_column(String(64), unique=True)
    contact: Mapped[str | None] = mapped_column(String(255))
    # a deactivated organisation's keys stop working at once; what it published stays
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # the organisation whose coordinator invited it (redeeming created it); None: an admin or the file.
    # It may never change its introducer's membership (hub.trust.manage.introducers)
    introduced_by_org_id: Mapped[int | None] = mapped_column(Integer)
    # made by redeeming an invitation and not yet approved by a platform admin: inactive until then
    pending_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TrustGroup(Base):
    """A regional trust group; one TAXII API root each."""

    __tablename__ = "trust_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    # groups sharing a community name may pass TLP:GREEN to one another
    community: Mapped[str | None] = mapped_column(String(64))
    default_tlp: Mapped[int] = mapped_column(SmallInteger)  # hub.vocab.tlp.Tlp
    max_tlp: Mapped[int] = mapped_column(SmallInteger)
    # the broadest networks this group's values may be (prefix lengths; None: the hub's defaults,
    # hub.lookup.values.Limits) and what ingest does with a value on a known-benign list
    min_ipv4_prefix: Mapped[int | None] = mapped_column(SmallInteger)
    min_ipv6_prefix: Mapped[int | None] = mapped_column(SmallInteger)
    benign_mode: Mapped[str] = mapped_column(String(8), default="flag", server_default="flag")
    # feedback (hub.feedback): who reads a member's reports in full, and how many organisations'
    # false-positive reports hold an object out of device lists until its publisher decides
    feedback_visibility: Mapped[str] = mapped_column(
        String(24), default="publisher", server_default="publisher"
    )
    false_positive_threshold: Mapped[int] = mapped_column(SmallInteger, default=2, server_default="2")

    memberships: Mapped[list[Membership]] = relationship(back_populates="group")


class BenignEntry(Base):
    """A value of a group's own known-benign list (its coordinators keep it: the CIRT's own
    infrastructure, its national resolvers)."""

    __tablename__ = "group_benign_entries"
    __table_args__ = (UniqueConstraint("group_id", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("trust_groups.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(String(2048))
    kind: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(Integer)  # account id


class Membership(Base):
    """An organisation's role and clearance in one trust group."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organisation_id", "group_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("trust_groups.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # coordinator | contributor | reader
    clearance: Mapped[int] = mapped_column(SmallInteger)
    # the organisation whose coordinator added or invited this member; None: an admin or the file
    added_by_org_id: Mapped[int | None] = mapped_column(Integer)

    group: Mapped[TrustGroup] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship()


class Account(Base):
    """A person or machine account of one organisation; platform admins bootstrap the hub."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)

    organisation: Mapped[Organisation] = relationship()


class ApiKey(Base):
    """An API key: the public key id finds the row, the secret is checked against its SHA-256 digest.

    `secret_hash` holds `sha256:<hex>` (keys are 256 random bits, so a slow hash adds nothing), or an
    argon2 hash for a key issued before digests, replaced by the digest on its first successful use.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # what the key may do, comma-separated and sorted: download, manage, read, write
    scopes: Mapped[str] = mapped_column(String(64), server_default="download,manage,read,write")
    # a rotated key works until its (shortened) expires_at; replaced_by is its successor's key id
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replaced_by: Mapped[str | None] = mapped_column(String(32))

    account: Mapped[Account] = relationship()


class KeyGroupSuspension(Base):
    """A key a group's coordinator suspended in that group: it reads and writes nothing there, elsewhere
    it works as before. Only its organisation or a platform admin revokes a key outright."""

    __tablename__ = "key_group_suspensions"
    __table_args__ = (UniqueConstraint("api_key_id", "group_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("trust_groups.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(Integer)  # account id of the coordinator


class Collection(Base):
    """A TAXII collection of a trust group: a group collection, or a named-recipient one."""

    __tablename__ = "collections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID, as TAXII wants
    group_id: Mapped[int] = mapped_column(ForeignKey("trust_groups.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="group")  # group | named
    # for a named-recipient collection: the producing organisation that names the recipients
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    # an archived collection is read-only: no adds, no deletes; nothing in it is removed
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("group_id", "alias"),)

    group: Mapped[TrustGroup] = relationship()
    recipients: Mapped[list[CollectionRecipient]] = relationship(cascade="all, delete-orphan")


class CollectionRecipient(Base):
    """An organisation named as a recipient of a named-recipient collection."""

    __tablename__ = "collection_recipients"

    collection_id: Mapped[str] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )


class Invitation(Base):
    """A one-time invitation of an organisation into a trust group, redeemed with its secret token.

    Only a SHA-256 digest of the token's secret is stored: the token is 256 random bits, so a slow hash
    adds nothing, and the digest lets the redeeming request find and check it in one lookup.
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[str] = mapped_column(String(32), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[int] = mapped_column(ForeignKey("trust_groups.id", ondelete="CASCADE"), index=True)
    # the invited organisation: an existing one (organisation_id) or one created on redemption
    organisation_slug: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    organisation_name: Mapped[str] = mapped_column(String(255), default="")
    country: Mapped[str | None] = mapped_column(String(2))
    role: Mapped[str] = mapped_column(String(16))
    clearance: Mapped[int] = mapped_column(SmallInteger)
    created_by: Mapped[int | None] = mapped_column(Integer)  # account id of the inviter
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


__all__ = [
    "Account",
    "ApiKey",
    "BenignEntry",
    "BigInteger",
    "Collection",
    "CollectionRecipient",
    "Invitation",
    "KeyGroupSuspension",
    "Membership",
    "Organisation",
    "TrustGroup",
]
