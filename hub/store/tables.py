"""The tables of stored object versions, their owners and their values (the value index): only
`hub.store` imports this module.

Every read outside the store goes through `hub.store.reads` (the one read door), every write through
`hub.store.objects`; an import-linter contract (pyproject.toml) forbids any other package to import it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base
from hub.store.models import SeqType

__all__ = ["FeedbackHold", "ObjectOwner", "ObjectValue", "ObjectVersion", "Report"]


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
    # 0 for every row but feedback (hub.feedback): a report's audience, the organisation that published
    # the object it reports on. Such a row is read in full by its reporter (producer_id), that
    # publisher and the group's coordinators only; every other member gets it as an absent object and
    # sees aggregates (hub.store.reads.report_rows). Set at ingest from the group's feedback policy.
    audience: Mapped[int] = mapped_column(Integer, server_default="0")

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


class ObjectValue(Base):
    """One value an object version carries (hub.vocab.values.index_entries), for search and device lists.

    Written in the transaction that inserts its version and deleted with it (hub.store.values). A row
    says nothing about who may read it: every read joins it to its version (`seq`) and applies the same
    visibility predicate as TAXII (hub.store.values), so private, superseded and hidden versions count
    nowhere. IP addresses and networks are a range of 16-byte big-endian addresses (IPv4 mapped into
    ::ffff:0:0/96), which compare alike as bytes on SQLite and PostgreSQL; domains and URLs carry their
    host with its labels reversed, so "under a domain" is a range too.
    """

    __tablename__ = "object_values"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True)  # the version's (no foreign key: ingest)
    ord: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # the value's place in the version
    kind: Mapped[str] = mapped_column(String(8))  # ip, domain, url, email, hash
    stix_type: Mapped[str] = mapped_column(String(32))  # ipv4-addr, file, ... (indicators: what it compares)
    value: Mapped[str] = mapped_column(Text)  # canonical form (hub.vocab.values.normalise)
    key: Mapped[bytes] = mapped_column(LargeBinary(16))  # hub.vocab.values.value_key
    lo: Mapped[bytes | None] = mapped_column(LargeBinary(16))  # IP values: first address
    hi: Mapped[bytes | None] = mapped_column(LargeBinary(16))  # IP values: last address
    host: Mapped[bytes | None] = mapped_column(LargeBinary(260))  # domains and URLs: hub.vocab host_key
    algorithm: Mapped[str | None] = mapped_column(String(8))
    port: Mapped[int | None] = mapped_column(Integer)
    in_pattern: Mapped[bool] = mapped_column(Boolean)
    simple: Mapped[bool] = mapped_column(Boolean)  # a device list may carry it (a plain comparison)
    # the version's lifecycle, as its stored bytes say: device lists and reporters leave out revoked and
    # expired indicators (an unreadable valid_until counts as past: 0)
    revoked: Mapped[bool] = mapped_column(Boolean)
    valid_until_us: Mapped[int | None] = mapped_column(BigInteger)

    # every index here is written at ingest, a B-tree each (migration 0010_ingest): lookups by key and
    # device blocklists (one kind's values in key order, each value's rows together) share (kind, key);
    # the range and host indexes hold only the rows that have one; on SQLite the table is its primary
    # key's B-tree (WITHOUT ROWID), so there is no rowid tree beside it
    __table_args__ = (
        Index("ix_object_values_kind_key", "kind", "key", "seq", "ord"),
        Index(
            "ix_object_values_range", "lo", "hi",
            sqlite_where=text("lo IS NOT NULL"), postgresql_where=text("lo IS NOT NULL"),
        ),
        Index(
            "ix_object_values_host", "host",
            sqlite_where=text("host IS NOT NULL"), postgresql_where=text("host IS NOT NULL"),
        ),
        {"sqlite_with_rowid": False},
    )  # fmt: skip


class Report(Base):
    """A report version (sighting, opinion, note) a member posted as feedback on an object: what the
    counts read. One row per stored report version (`seq`), written with it by hub.feedback; a row says
    nothing about who may read it: every read joins its version through the read door."""

    __tablename__ = "feedback_reports"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True)  # the report version's (no foreign key)
    collection_id: Mapped[str] = mapped_column(String(36))
    object_id: Mapped[str] = mapped_column(String(300))  # the object reported on, as stored
    kind: Mapped[str] = mapped_column(String(16))  # sighting, false-positive, opinion, note
    reporter_id: Mapped[int] = mapped_column(Integer)  # the reporting organisation (= producer_id)
    count: Mapped[int] = mapped_column(Integer, server_default="1")
    first_seen_us: Mapped[int | None] = mapped_column(BigInteger)
    last_seen_us: Mapped[int | None] = mapped_column(BigInteger)
    date_added_us: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_feedback_reports_object", "collection_id", "object_id"),)


class FeedbackHold(Base):
    """An object that false-positive reports hold out of device lists (`held`), or that its publisher
    confirmed (`held` false: only reports added after `since_us` count towards a new hold)."""

    __tablename__ = "feedback_holds"

    collection_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    held: Mapped[bool] = mapped_column(Boolean)
    since_us: Mapped[int] = mapped_column(BigInteger)  # when it was held, or confirmed
