"""ORM tables of scheduled feeds (definition and run state) and of their run history.

They belong to a trust group, and trust-level code reads them (a group's statistics, the rules of its
collections); `hub.sync` runs the feeds. `hub.sync.models` re-exports them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from hub.db import Base
from hub.store.models import SeqType

TAXII_FORMATS = ("taxii", "taxii20")  # the pull formats that read another TAXII server


class Feed(Base):
    """A feed the workers pull into a collection or push out of one, on an interval.

    The definition comes from the feeds YAML (`hub sync load`); the run state (`next_run_at_us`,
    `cursor`, `lease_until_us`, `failures`, `last_error`) belongs to the workers and survives reloads.
    Credentials are never stored: `password_env` names the environment variable that holds them.
    Times are integer microseconds since the epoch, as everywhere in the hub.
    """

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))  # unique within its group (group_slug)
    direction: Mapped[str] = mapped_column(String(8))
    format: Mapped[str] = mapped_column(String(32))
    # pull: a file, an http(s) URL, a MISP feed base or an upstream TAXII collection URL;
    # push: the peer's TAXII 2.1 collection URL
    url: Mapped[str] = mapped_column(Text)
    group_slug: Mapped[str] = mapped_column(String(64))
    collection: Mapped[str] = mapped_column(String(64))  # alias or id, in group_slug
    publish_as: Mapped[str | None] = mapped_column(String(64))  # pull: organisation slug
    # the community of the peer hub: push, where it is going; TAXII pull, where it comes from
    peer_community: Mapped[str | None] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(Boolean, server_default=false())  # TAXII pull: upstream is public
    upstream_default_tlp: Mapped[str | None] = mapped_column(String(16))  # TAXII pull: level of unmarked
    # TAXII pull from a hub: the feedback on what it brought in goes back to it (hub.sync.feedback)
    two_way: Mapped[bool] = mapped_column(Boolean, server_default=false())
    tlp: Mapped[str] = mapped_column(String(16))
    tlp_version: Mapped[int] = mapped_column(SmallInteger)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)  # connector settings (FeedSettings fields)
    username: Mapped[str | None] = mapped_column(String(255))
    password_env: Mapped[str | None] = mapped_column(String(128))
    auth_header: Mapped[str | None] = mapped_column(String(128))  # URL feeds: send the secret in this header
    timeout_s: Mapped[float | None] = mapped_column(Float)  # read timeout of each request (None: default)
    interval_s: Mapped[int] = mapped_column(Integer)
    schedule: Mapped[str | None] = mapped_column(String(128))  # a cron expression, instead of the interval
    unhealthy_after: Mapped[int] = mapped_column(Integer, server_default="3")
    enabled: Mapped[bool] = mapped_column(Boolean)
    # "operator" (`hub sync load`, a platform admin) or "coordinator" (the admin API or console): a
    # coordinator's feed connects only to public addresses and those HUB_OUTBOUND_ALLOW names (hub.net)
    declared_by: Mapped[str] = mapped_column(String(16), server_default="coordinator")

    next_run_at_us: Mapped[int] = mapped_column(BigInteger)
    # TAXII pulls: the upstream's X-TAXII-Date-Added-Last; pushes: the last date_added sent
    cursor: Mapped[str | None] = mapped_column(String(40))
    # two-way pulls: the date added of the last report posted back to the upstream
    feedback_cursor: Mapped[str | None] = mapped_column(String(40))
    lease_until_us: Mapped[int | None] = mapped_column(BigInteger)
    leased_by: Mapped[str | None] = mapped_column(String(128))
    failures: Mapped[int] = mapped_column(Integer)  # consecutive
    last_error: Mapped[str | None] = mapped_column(Text)
    # URL feeds: the validators of the last download, for a conditional GET
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(64))

    @property
    def unhealthy(self) -> bool:
        """True after `unhealthy_after` consecutive failures."""
        return self.failures >= self.unhealthy_after

    __table_args__ = (
        CheckConstraint("direction IN ('pull', 'push')", name="direction"),
        CheckConstraint("declared_by IN ('operator', 'coordinator')", name="declared_by"),
        # feed names are a group's own: another group's feed of the same name is none of its business
        UniqueConstraint("group_slug", "name"),
        # the claim query: enabled feeds in next-run order
        Index("ix_feeds_due", "enabled", "next_run_at_us"),
    )


class FeedRun(Base):
    """One run of one feed: who ran it, when, what it did, and where the next run starts."""

    __tablename__ = "feed_runs"

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    worker_id: Mapped[str] = mapped_column(String(128))
    started_us: Mapped[int] = mapped_column(BigInteger)
    finished_us: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8))
    read: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    new_versions: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)  # records the connector leaves out on purpose
    refused: Mapped[int] = mapped_column(Integer)
    sent: Mapped[int] = mapped_column(Integer)  # push: stored new at the peer (`unchanged`: it had them)
    withdrawn: Mapped[int] = mapped_column(Integer, server_default="0")  # push: deleted at the peer
    # pull: values on a known-benign list (flagged: stored, left off device lists); the dashboard sums them
    benign: Mapped[int] = mapped_column(Integer, server_default="0")
    cursor_before: Mapped[str | None] = mapped_column(String(40))
    cursor_after: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)  # the first reasons: objects refused, withdrawn...

    __table_args__ = (
        CheckConstraint("status IN ('ok', 'failed')", name="status"),
        Index("ix_feed_runs_feed", "feed_id", "started_us"),
        Index("ix_feed_runs_started", "started_us"),
        {"sqlite_autoincrement": True},
    )
