"""ORM tables of constituency watch: subscriptions, the matches the matcher found, and its cursor."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import true

from hub.db import Base
from hub.store.models import SeqType


class Subscription(Base):
    """An organisation's subscription to watch events: an HMAC-signed webhook or an email digest.

    Delivery state belongs to the workers: `cursor` is the last match delivered, `next_attempt_us` when
    the next attempt is due (backoff after failures), `lease_until_us`/`leased_by` the worker holding it.
    The webhook secret is kept as given: the hub must sign with it; it is never shown again.
    """

    __tablename__ = "watch_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))  # webhook | email
    url: Mapped[str | None] = mapped_column(String(2048))
    secret: Mapped[str | None] = mapped_column(String(255))
    to_addr: Mapped[str | None] = mapped_column(String(320))
    events: Mapped[str] = mapped_column(String(64))  # comma-separated: inside, feedback
    digest: Mapped[str] = mapped_column(String(16))  # immediate | hourly | daily
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(Integer)  # account id
    cursor: Mapped[int] = mapped_column(BigInteger, server_default="0")  # last watch_matches.id delivered
    next_attempt_us: Mapped[int] = mapped_column(BigInteger, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")  # consecutive failures
    last_attempt_us: Mapped[int | None] = mapped_column(BigInteger)
    last_success_us: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered: Mapped[int] = mapped_column(BigInteger, server_default="0")  # matches delivered so far
    lease_until_us: Mapped[int | None] = mapped_column(BigInteger)
    leased_by: Mapped[str | None] = mapped_column(String(128))


class WatchMatch(Base):
    """A stored version whose value fell in an organisation's confirmed constituency when it was matched.

    Deliveries read these and keep only what the organisation may read at delivery time. A row whose
    `rule` is "feedback:<what>" is a feedback notice to the object's publisher (hub.sync.feedback_notices).
    """

    __tablename__ = "watch_matches"
    __table_args__ = (
        UniqueConstraint("organisation_id", "version_seq", "value"),
        Index("ix_watch_matches_org", "organisation_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(Integer)
    version_seq: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[str] = mapped_column(String(2048))
    rule: Mapped[str] = mapped_column(String(300))
    matched_at_us: Mapped[int] = mapped_column(BigInteger)


class WatchState(Base):
    """The matcher's cursor (date added, sequence) over stored versions, and the lease of its runner."""

    __tablename__ = "watch_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor_us: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cursor_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    lease_until_us: Mapped[int | None] = mapped_column(BigInteger)
    leased_by: Mapped[str | None] = mapped_column(String(128))
    updated_us: Mapped[int | None] = mapped_column(BigInteger)
