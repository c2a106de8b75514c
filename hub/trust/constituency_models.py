"""ORM tables of organisations' constituencies (declared and confirmed entries) and the ASN prefix map."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class ConstituencyEntry(Base):
    """One entry of an organisation's constituency: a network, an ASN, a domain or a ccTLD.

    The organisation declares it; a platform admin or a coordinator of one of its groups confirms it.
    Only confirmed entries match (`confirmed_at_us` set). A re-declaration keeps the confirmation of the
    entries it repeats, drops the ones it leaves out, and adds the new ones unconfirmed.
    """

    __tablename__ = "constituency_entries"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))  # network | asn | domain | cctld
    # canonical: a network in CIDR form with its network address, an AS number in decimal, a lower-case
    # domain without trailing dot, a ccTLD's two letters
    value: Mapped[str] = mapped_column(String(255))
    declared_at_us: Mapped[int] = mapped_column(BigInteger)
    declared_by: Mapped[int | None] = mapped_column(Integer)  # account id
    confirmed_at_us: Mapped[int | None] = mapped_column(BigInteger)
    confirmed_by: Mapped[int | None] = mapped_column(Integer)  # account id of the confirmer
    confirmed_by_org: Mapped[int | None] = mapped_column(Integer)  # its organisation (0: the operator)


class AsnPrefix(Base):
    """A prefix an autonomous system announces, from the operator's file (pyasn IPASN data or RIR
    delegated statistics), loaded by `hub asn load`; no network access at run time."""

    __tablename__ = "asn_prefixes"
    __table_args__ = (UniqueConstraint("asn", "prefix"), Index("ix_asn_prefixes_asn", "asn"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asn: Mapped[int] = mapped_column(BigInteger)
    prefix: Mapped[str] = mapped_column(String(64))
