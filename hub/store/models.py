"""ORM tables of stored object versions, TAXII status resources, audit events and hub secrets."""

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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class ObjectVersion(Base):
    """One version of one STIX object in one collection, kept as its exact JSON bytes.

    Times are integer microseconds since the epoch so that they sort and compare alike on every
    database; `version` keeps the object's own timestamp text for the manifest and versions.
    """

    __tablename__ = "object_versions"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    # no foreign keys on the two ingest tables (migration 0005_ingest): PostgreSQL's per-row checks cost
    # more than the inserts; collections and organisations are never deleted, and every row takes its
    # references from the authorised collection and caller
    collection_id: Mapped[str] = mapped_column(String(36))
    # a 250-character type, "--" and a UUID
    stix_id: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(250))
    spec_version: Mapped[str] = mapped_column(String(8))
    version: Mapped[str] = mapped_column(String(40))
    version_us: Mapped[int] = mapped_column(BigInteger)
    date_added_us: Mapped[int] = mapped_column(BigInteger)
    # the level a reader's clearance must reach: the object's effective TLP, raised by granular
    # markings on required properties (hub.policy.granular)
    tlp: Mapped[int] = mapped_column(SmallInteger)
    # set when granular markings on optional properties exceed `tlp`: readers below it get them removed
    redact_tlp: Mapped[int | None] = mapped_column(SmallInteger)
    # the publisher: the member organisation that put this version in the hub (the author, if stated,
    # is the body's created_by_ref)
    producer_id: Mapped[int] = mapped_column(Integer)
    # 0 for the shared record; else the publisher's id, for a version only its publisher may ever read
    # (hub.ingest: a post that could not join the record without revealing a hidden object). Such
    # rows carry tlp PRIVATE_TLP, above every clearance, so every read and outbound query skips them.
    private_to: Mapped[int] = mapped_column(Integer, server_default="0")
    body: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        UniqueConstraint(
            "collection_id", "stix_id", "version_us", "private_to", name="uq_object_versions_version"
        ),
        # pages in date-added order (objects, manifest) and filtered by type
        Index("ix_object_versions_added", "collection_id", "date_added_us", "seq"),
        Index("ix_object_versions_type_added", "collection_id", "type", "date_added_us", "seq"),
        # the unique constraint's index also serves first/last/all-versions lookups of one id
        {"sqlite_autoincrement": True},
    )


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


class ObjectOwner(Base):
    """Who owns a STIX id: the organisation that first published it in the hub, and where.

    Only the owner adds versions (STIX 2.1 section 3.6). Cyber-observables (deterministic ids, one copy
    per publisher) and marking definitions (immutable, per collection) have no row here.
    """

    __tablename__ = "object_owners"

    # lowercased: UUIDs compare case-insensitively, so no other spelling may stand in for an owned id
    stix_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(Integer)  # no foreign keys here either (see above)
    # the collection it was first shared into: originator control judges later moves from there
    collection_id: Mapped[str] = mapped_column(String(36))


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

    # a coordinator's audit log: one group's events, newest first (keyset on id)
    __table_args__ = (Index("ix_audit_events_group", "group_id", "id"),)


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
