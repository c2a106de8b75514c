"""The feeds configuration file: its pydantic shape, reading it, and loading it into the feeds table."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import ColumnMap
from hub.config_files import read_yaml
from hub.sync.fetch import credentials_in_url, is_url
from hub.sync.models import Feed
from hub.sync.sources import PULL_FORMATS, TAXII_FORMATS
from hub.vocab.tlp import TLP_WORDS, read_tlp

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INTERVAL = re.compile(r"^(\d+)\s*([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# keys that would put a secret in the file (and so in the database); refused with a pointer to password_env
SECRET_KEYS = ("password", "api_key", "apikey", "key", "token", "secret")
# changing any of these makes the stored cursor meaningless: it belonged to another source or collection
CURSOR_SCOPE = ("direction", "format", "url", "group_slug", "collection")
# changing any of these changes what the feed may carry: objects withheld or refused under the old rule
# may go now, so the feed starts again from the beginning (what the other side has is "already there")
RULE_SCOPE = ("peer_community", "public", "upstream_default_tlp")
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,128}$")
UNHEALTHY_AFTER = 3  # consecutive failures after which `hub sync list` calls a feed unhealthy


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectorOptions(Strict):
    """Connector settings of a pull feed (the `FeedSettings` a connector applies to every record)."""

    feed_name: str = ""
    columns: dict[str, str] | None = None
    with_observables: bool = False
    confidence: int | None = Field(default=None, ge=0, le=100)
    labels: list[str] = Field(default_factory=list)
    indicator_types: list[str] = Field(default_factory=lambda: ["malicious-activity"], min_length=1)
    allow_org_only: bool = False
    allow_sharing_groups: bool = False
    # how long an indicator stays valid after the source last listed it ("7d"): stored as seconds
    lifetime: int | None = Field(default=None, ge=60)
    # the source lists everything current: what it stops listing gets a revoked version (hub.sync.snapshot)
    snapshot: bool = False

    @field_validator("lifetime", mode="before")
    @classmethod
    def _lifetime(cls, v: Any) -> Any:
        if isinstance(v, str):
            m = INTERVAL.match(v.strip())
            if not m:
                raise ValueError(f"{v!r} is not a lifetime: seconds, or a number with s, m, h or d")
            return int(m.group(1)) * UNITS[m.group(2)]
        return v

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None:
            try:
                ColumnMap(**v)
            except TypeError as exc:
                raise ValueError(
                    f"not a column mapping (value=<header>, type=<header>, ...): {exc}"
                ) from None
        return v


class FeedConfig(Strict):
    """One feed as the operator declares it."""

    name: str = Field(max_length=128)
    direction: Literal["pull", "push"] = "pull"
    format: str
    url: str = Field(min_length=1)
    group: str = Field(max_length=64)
    collection: str = Field(max_length=64)
    publish_as: str | None = Field(default=None, max_length=64)
    peer_community: str | None = Field(default=None, max_length=64)
    tlp: str = "amber"
    tlp_version: Literal[1, 2] = 2
    connector: ConnectorOptions = Field(default_factory=ConnectorOptions)
    public: bool = False
    upstream_default_tlp: str | None = None
    # a TAXII pull from another hub: the feedback on what it brought in goes back to it (hub.sync.feedback)
    two_way: bool = False
    user: str | None = Field(default=None, max_length=255)
    password_env: str | None = Field(default=None, max_length=128)
    auth_header: str | None = Field(default=None, max_length=128)
    timeout: float | None = Field(default=None, gt=0, le=3600)
    interval: int = 3600
    schedule: str | None = Field(default=None, max_length=128)
    unhealthy_after: int = Field(default=UNHEALTHY_AFTER, ge=1, le=1000)
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in SECRET_KEYS:
                if key in data:
                    raise ValueError(
                        f"`{key}` does not belong in this file (it would be stored in the database): put "
                        "the secret in an environment variable and name that variable with `password_env`"
                    )
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(
                f"{v!r} is not a feed name: lowercase letters, digits, '.', '_', '-'; at most 128"
            )
        return v

    @field_validator("format")
    @classmethod
    def _format(cls, v: str) -> str:
        if v not in PULL_FORMATS:
            raise ValueError(f"unknown format {v!r}; known: {', '.join(PULL_FORMATS)}")
        return v

    @field_validator("tlp", "upstream_default_tlp")
    @classmethod
    def _tlp(cls, v: str | None) -> str | None:
        if v is None:
            return v
        level = read_tlp(v)
        if level is None:
            raise ValueError(f"unknown TLP level {v!r}: use {', '.join(TLP_WORDS)}")
        return level.word

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        secret = credentials_in_url(v)
        if secret:
            raise ValueError(
                f"the URL carries a secret ({secret}); URLs are stored and shown in `hub sync list`: "
                "give the user name as `user` and put the secret in an environment variable named by "
                "`password_env` (sent as HTTP Basic, or in the header named by `auth_header`)"
            )
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        if v is not None:
            from croniter import croniter

            if not croniter.is_valid(v):
                raise ValueError(
                    f"{v!r} is not a cron schedule (minute hour day-of-month month day-of-week, "
                    "e.g. '*/15 * * * *' or '0 6 * * 1-5'; times are UTC)"
                )
        return v

    @field_validator("auth_header")
    @classmethod
    def _header(cls, v: str | None) -> str | None:
        if v is not None and not HEADER_NAME.match(v):
            raise ValueError(f"{v!r} is not an HTTP header name")
        return v

    @field_validator("password_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        if v is not None and not ENV_NAME.match(v):
            raise ValueError(f"{v!r} is not an environment variable name (letters, digits, '_')")
        return v

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: Any) -> Any:
        if isinstance(v, str):
            m = INTERVAL.match(v.strip())
            if not m:
                raise ValueError(f"{v!r} is not an interval: seconds, or a number with s, m, h or d")
            return int(m.group(1)) * UNITS[m.group(2)]
        return v

    @field_validator("interval")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("the interval must be at least 1 second")
        return v

    @model_validator(mode="after")
    def _direction(self) -> FeedConfig:
        taxii = self.format in TAXII_FORMATS
        if self.direction == "pull":
            if not self.publish_as:
                raise ValueError(
                    "a pull feed needs `publish_as`: the organisation its objects are published as"
                )
            if taxii:
                if self.public and self.peer_community:
                    raise ValueError(
                        "`public: true` and `peer_community` contradict each other: an upstream hub "
                        "either serves a community or publishes to anyone"
                    )
                if not self.public and not self.peer_community:
                    raise ValueError(
                        "a TAXII pull feed declares what the upstream is: `peer_community: <name>` (a "
                        "hub serving that community: TLP:GREEN may come into groups of the same "
                        "community) or `public: true` (only TLP:CLEAR comes into groups); AMBER and "
                        "above only ever come into a collection restricted to `publish_as`"
                    )
                if "tlp" in self.model_fields_set:
                    raise ValueError(
                        "on a TAXII pull feed `upstream_default_tlp` gives the level of objects the "
                        "upstream serves unmarked (default amber); `tlp` is for feeds that are not hubs"
                    )
                if self.two_way and self.format != "taxii":
                    raise ValueError(
                        "`two_way` posts feedback back to the upstream as TAXII 2.1 reports: the "
                        "upstream is a TAXII 2.1 hub (format `taxii`)"
                    )
            else:
                hubs_only = {"peer_community", "public", "upstream_default_tlp", "two_way"}
                extra = hubs_only & self.model_fields_set
                if extra:
                    raise ValueError(
                        f"{', '.join(sorted(extra))}: only TAXII feeds (pulling from another hub) use these"
                    )
        else:
            if self.format != "taxii":
                raise ValueError("a push feed posts to a TAXII 2.1 collection: its format is `taxii`")
            unused = {
                "publish_as",
                "connector",
                "tlp",
                "public",
                "upstream_default_tlp",
                "two_way",
            } & self.model_fields_set
            if unused:
                raise ValueError(f"{', '.join(sorted(unused))}: only pull feeds use these")
        if self.password_env and not self.user and not self.auth_header:
            raise ValueError("`password_env` needs a `user` (HTTP Basic) or an `auth_header` to go with it")
        if self.auth_header and not self.password_env:
            raise ValueError("`auth_header` needs `password_env`: the variable holding the header's value")
        if self.auth_header and (taxii or not is_url(self.url)):
            raise ValueError("`auth_header` is for URL feeds; TAXII feeds authenticate with HTTP Basic")
        return self


class FeedsConfig(Strict):
    """The feeds file: a list of feeds, their names unique within each group."""

    feeds: list[FeedConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> FeedsConfig:
        seen: set[tuple[str, str]] = set()
        for f in self.feeds:  # feed names are unique within a group
            if (f.group, f.name) in seen:
                raise ValueError(f"feed name {f.name!r} is declared twice in group {f.group!r}")
            seen.add((f.group, f.name))
        return self


def read_feeds(path: Path) -> FeedsConfig:
    """Parse and validate a feeds YAML file; errors name the file, the path inside it and why."""
    return read_yaml(path, FeedsConfig, locate=_named)


def _named(raw: Any, loc: tuple[Any, ...]) -> str | None:
    # feeds.2.tlp reads better as feeds.2 (urlhaus).tlp when the entry has a name
    if not loc or loc[0] != "feeds" or len(loc) < 2:
        return None
    try:
        name = raw["feeds"][loc[1]].get("name")
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    if not isinstance(name, str):
        return None
    rest = ".".join(str(p) for p in loc[2:])
    return f"feeds.{loc[1]} ({name})" + (f".{rest}" if rest else "")


@dataclass
class LoadReport:
    """What `hub sync load` changed: feeds created, updated, unchanged, and stored feeds not in the file."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)
    rule_reset: list[str] = field(default_factory=list)  # cursor cleared: the redistribution rule changed


def definition(fc: FeedConfig) -> dict[str, Any]:
    """The feeds-table columns a feed's declaration sets (never the run state)."""
    return {
        "direction": fc.direction,
        "format": fc.format,
        "url": fc.url,
        "group_slug": fc.group,
        "collection": fc.collection,
        "publish_as": fc.publish_as,
        "peer_community": fc.peer_community,
        "public": fc.public,
        "upstream_default_tlp": (
            (fc.upstream_default_tlp or "amber")
            if fc.direction == "pull" and fc.format in TAXII_FORMATS
            else None
        ),
        "tlp": fc.tlp,
        "tlp_version": fc.tlp_version,
        "two_way": fc.two_way,
        "options": fc.connector.model_dump(exclude_defaults=True) if fc.direction == "pull" else {},
        "username": fc.user,
        "password_env": fc.password_env,
        "auth_header": fc.auth_header,
        "timeout_s": fc.timeout,
        "unhealthy_after": fc.unhealthy_after,
        "interval_s": fc.interval,
        "schedule": fc.schedule,
        "enabled": fc.enabled,
    }


def unknown_references(session: Session, cfg: FeedsConfig) -> list[tuple[str, str]]:
    """Every reference in the file to a group, collection or organisation the hub does not have, as
    (path in the file, problem) pairs, so that one load reports them all."""
    from hub.trust.models import Collection, Membership, Organisation, TrustGroup

    groups = {g.slug: g.id for g in session.scalars(select(TrustGroup))}
    colls: dict[int, set[str]] = {}
    for c in session.scalars(select(Collection)):
        colls.setdefault(c.group_id, set()).update((c.alias, c.id))
    orgs = {o.slug: o.id for o in session.scalars(select(Organisation))}
    members = {(m.organisation_id, m.group_id) for m in session.scalars(select(Membership))}
    problems: list[tuple[str, str]] = []
    for i, fc in enumerate(cfg.feeds):
        where = f"feeds.{i} ({fc.name})"
        gid = groups.get(fc.group)
        if gid is None:
            problems.append((f"{where}.group", f"no trust group {fc.group!r}"))
        elif fc.collection not in colls.get(gid, set()):
            problems.append((f"{where}.collection", f"no collection {fc.collection!r} in group {fc.group!r}"))
        if fc.publish_as is not None:
            oid = orgs.get(fc.publish_as)
            if oid is None:
                problems.append((f"{where}.publish_as", f"no organisation {fc.publish_as!r}"))
            elif gid is not None and (oid, gid) not in members:
                problems.append(
                    (f"{where}.publish_as", f"{fc.publish_as!r} is not a member of group {fc.group!r}")
                )
    return problems


def apply_feeds(
    session: Session, cfg: FeedsConfig, *, now_us: int, declared_by: str = "operator"
) -> LoadReport:
    """Create or update the declared feeds (idempotent), keeping each feed's cursor and run state.

    A new feed is due at once. A feed whose source, format or collection changed loses its cursor, which
    belonged to the old one; so does a feed whose redistribution rule changed (`peer_community`,
    `public`, `upstream_default_tlp`), since what it withheld before may go now (`rule_reset`).
    Feeds stored but absent from the file are left as they are (and reported):
    disable one with `enabled: false` rather than by deleting its history.

    `declared_by` is "operator" for the feeds file and "coordinator" for a declaration through the
    admin API or console by a coordinator: a coordinator's feed reaches only public addresses (hub.net).
    """
    report = LoadReport()
    stored = {(f.group_slug, f.name): f for f in session.scalars(select(Feed))}
    for fc in cfg.feeds:
        values = definition(fc) | {"declared_by": declared_by}
        feed = stored.get((fc.group, fc.name))
        if feed is None:
            session.add(
                Feed(name=fc.name, **values, next_run_at_us=now_us, cursor=None, failures=0, last_error=None)
            )
            report.created.append(fc.name)
            continue
        changed = {k for k, v in values.items() if getattr(feed, k) != v}
        if not changed:
            report.unchanged.append(fc.name)
            continue
        if changed & {*CURSOR_SCOPE, "two_way"}:
            # the reports posted back belonged to the old upstream; turned on, it starts from the first
            feed.feedback_cursor = None
        if changed & set(CURSOR_SCOPE):
            feed.cursor = None
        elif changed & set(RULE_SCOPE) and feed.cursor is not None:
            feed.cursor = None
            report.rule_reset.append(fc.name)
        for k in changed:
            setattr(feed, k, values[k])
        report.updated.append(fc.name)
    declared = {(fc.group, fc.name) for fc in cfg.feeds}
    report.not_in_file = sorted(name for key, f in stored.items() if key not in declared for name in [f.name])
    session.flush()
    return report


def next_cron_us(schedule: str, after_us: int) -> int:
    """The first time a cron schedule fires after `after_us` (UTC), in microseconds."""
    from datetime import UTC, datetime

    from croniter import croniter

    start = datetime.fromtimestamp(after_us / 1_000_000, tz=UTC)
    nxt: datetime = croniter(schedule, start).get_next(datetime)
    return int(nxt.timestamp() * 1_000_000)


def seen_at(lifetime: int, now_s: float) -> datetime:
    """The last-seen time a fetch gives records whose source states none: now, rounded down to a step
    of half the lifetime (at least an hour). Re-imports within one step write the same bytes; a record
    still listed gets a later valid_until, as a new version, once a step, and never expires while
    listed (valid_until stays at least half a lifetime ahead)."""
    step = max(3600, lifetime // 2)
    return datetime.fromtimestamp(int(now_s) // step * step, tz=UTC)


def connector_options(feed: Feed) -> dict[str, Any]:
    """The `connector` options of a stored feed as `FeedSettings` keyword arguments."""
    opts = dict(feed.options or {})
    for key in ("labels", "indicator_types"):
        if key in opts:
            opts[key] = tuple(opts[key])
    if opts.get("columns") is not None:
        opts["columns"] = ColumnMap(**opts["columns"])
    return opts
