"""ORM tables of statistics counts, TAXII status resources, audit events and hub secrets.

The stored object versions and their owners are in `hub.store.tables`, which only `hub.store` imports.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class ObjectCount(Base):
    """How many shared object versions a collection holds per day added, TLP, type and publisher.

    Kept in the transaction that inserts or deletes the versions (hub.store.counts), so statistics sum
    a few rows per day instead of counting millions; `last_added_us` is the latest date added among
    them (a member's last push). Private versions are never counted: statistics never show them.
    """

    __tablename__ = "object_counts"

    collection_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # date added // one day, UTC
    tlp: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(250), primary_key=True)
    producer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    last_added_us: Mapped[int] = mapped_column(BigInteger)


PRIVATE_TLP = 100  # the `tlp` of a private row: no clearance reaches it, only its publisher reads it


class Status(Base):
    """The TAXII status resource of one POST; visible only to the submitting organisation."""

    __tablename__ = "statuses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("trust_groups.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    request_timestamp: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    total_count: Mapped[int] = mapped_column(Integer)
    success_count: Mapped[int] = mapped_column(Integer)
    failure_count: Mapped[int] = mapped_column(Integer)
    pending_count: Mapped[int] = mapped_column(Integer)
    # the successes / failures / pendings lists, as JSON bytes
    details: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEvent(Base):
    """Who did what, when, where and how many: push, pull, delete, admin change."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(Integer)
    account_id: Mapped[int | None] = mapped_column(Integer)
    group_id: Mapped[int | None] = mapped_column(Integer)
    collection_id: Mapped[str | None] = mapped_column(String(36))
    count: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    # admin changes: what was changed (e.g. "membership cert-b@africa") and its state before and after,
    # as JSON text; the organisation concerned, so an organisation's history can be filtered
    target: Mapped[str | None] = mapped_column(String(255))
    target_org_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)

    # a coordinator's audit log: one group's events, newest first (keyset on id); and of one action
    # (the dashboard's last refusals, which are rare: without it the group's events are walked back)
    __table_args__ = (
        Index("ix_audit_events_group", "group_id", "id"),
        Index("ix_audit_events_group_action", "group_id", "action", "id"),
        # one organisation's history: what it did, and what was done to it
        Index("ix_audit_events_organisation", "organisation_id", "id"),
        Index("ix_audit_events_target_org", "target_org_id", "id"),
    )


class AuditDaily(Base):
    """Audit events rolled up into one row per day, action, organisation and collection."""

    __tablename__ = "audit_daily"

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    day: Mapped[str] = mapped_column(String(10), index=True)  # YYYY-MM-DD, UTC
    action: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(Integer)
    group_id: Mapped[int | None] = mapped_column(Integer)
    collection_id: Mapped[str | None] = mapped_column(String(36))
    events: Mapped[int] = mapped_column(Integer)  # how many audit events the row stands for
    count: Mapped[int] = mapped_column(BigInteger)  # the sum of their counts (objects served)


class HubSecret(Base):
    """Secrets the hub generates once and every replica shares (the page-token signing key)."""

    __tablename__ = "hub_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ZoneSerial(Base):
    """The SOA serial of one reader's response-policy zone (hub.lookup.formats.rpz): it changes only
    when the zone's content does, and only upwards."""

    __tablename__ = "zone_serials"

    # sha256 of the reader's organisation, the group, the collection and the download's parameters
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the zone's records
    serial: Mapped[int] = mapped_column(BigInteger)
