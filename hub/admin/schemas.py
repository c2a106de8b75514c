"""Pydantic shapes of the admin API (/admin/v1): <Thing>Create, <Thing>Read, <Thing>Update."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.sync.feeds import ConnectorOptions
from hub.sync.group_feeds import FeedRunEntry
from hub.sync.models import Feed
from hub.trust.benign import Entry, limits_of
from hub.trust.collections import CollectionInfo
from hub.trust.invitations import Redeemed, invitation_state
from hub.trust.keys import KeyInfo, MemberKey
from hub.trust.manage import Member, tlp_name
from hub.trust.models import Invitation, Organisation, TrustGroup
from hub.trust.reports import AuditEntry, GroupStats

TlpName = Literal["clear", "green", "amber", "amber+strict", "red"]
RoleName = Literal["coordinator", "contributor", "reader"]
SLUG = r"^[a-z0-9][a-z0-9-]{0,63}$"
COUNTRY = r"^[A-Z]{2}$"


class In(BaseModel):
    """Request bodies refuse unknown fields, so a typo is a 422 rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _no_nul(self) -> In:
        # PostgreSQL cannot store NUL in text; no name, label or URL has a use for one
        for name, value in self:
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, str) and "\x00" in v for v in values):
                raise ValueError(f"{name}: NUL characters are not allowed")
        return self


def _aware(dt: datetime | None) -> datetime | None:
    return None if dt is None else dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class ErrorRead(BaseModel):
    """A TAXII 2.1 error resource (section 3.6.1), the body of every refusal."""

    title: str
    http_status: str
    description: str | None = None


class MeRead(BaseModel):
    organisation: str
    account_id: int
    platform_admin: bool
    memberships: dict[str, dict[str, str]] = Field(description="per group: role and clearance")


# ---------------------------------------------------------------- organisations


class OrganisationCreate(In):
    slug: str = Field(pattern=SLUG, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    country: str | None = Field(default=None, pattern=COUNTRY)
    contact: str | None = Field(default=None, max_length=255)


class OrganisationUpdate(In):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    country: str | None = Field(default=None, pattern=COUNTRY)
    contact: str | None = Field(default=None, max_length=255)
    active: bool | None = None


class OrganisationRead(BaseModel):
    slug: str
    name: str
    country: str | None
    contact: str | None
    identity: str
    active: bool
    pending_approval: bool = Field(
        default=False, description="made by redeeming an invitation; inactive until a platform admin approves"
    )

    @classmethod
    def of(cls, o: Organisation) -> OrganisationRead:
        return cls(
            slug=o.slug, name=o.name, country=o.country, contact=o.contact, identity=o.identity_id,
            active=o.active, pending_approval=bool(o.pending_approval),
        )  # fmt: skip


# ---------------------------------------------------------------- trust groups


class GroupCreate(In):
    slug: str = Field(pattern=SLUG, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)
    community: str | None = Field(default=None, max_length=64)
    default_tlp: TlpName = "amber"
    max_tlp: TlpName = "amber+strict"


class GroupUpdate(In):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    community: str | None = Field(default=None, max_length=64)
    default_tlp: TlpName | None = None
    max_tlp: TlpName | None = None
    min_ipv4_prefix: int | None = Field(
        default=None, description="the broadest IPv4 network (prefix length, 9-32) this group's values "
        "may be; null: the hub's default (12)",
    )  # fmt: skip
    min_ipv6_prefix: int | None = Field(
        default=None, description="the same for IPv6 (16-128); null: the hub's default (32)"
    )
    benign_mode: Literal["flag", "refuse"] | None = Field(
        default=None, description="flag (default): values on a known-benign list are stored and left off "
        "device lists; refuse: ingest refuses them, naming the list",
    )  # fmt: skip
    feedback_visibility: Literal["publisher", "everyone-anonymous", "everyone"] | None = Field(
        default=None, description="who reads members' feedback in full: publisher (default: the reporter, "
        "the object's publisher and the coordinators; others see counts), everyone-anonymous (others also "
        "see each report without its reporter), everyone",
    )  # fmt: skip
    false_positive_threshold: int | None = Field(
        default=None, ge=1, le=1000, description="false-positive reports from this many organisations hold "
        "an object out of device lists until its publisher confirms or revokes it (default 2)",
    )  # fmt: skip


class GroupRead(BaseModel):
    slug: str
    name: str
    description: str
    community: str | None
    default_tlp: TlpName
    max_tlp: TlpName
    api_root: str
    min_ipv4_prefix: int = Field(description="the broadest IPv4 network a device list of this group takes")
    min_ipv6_prefix: int = Field(description="the broadest IPv6 network a device list of this group takes")
    benign_mode: str = Field(description="flag or refuse: what ingest does with a known-benign value")
    feedback_visibility: str = Field(default="publisher", description="who reads members' feedback in full")
    false_positive_threshold: int = Field(default=2, description="organisations whose false positives hold")

    @classmethod
    def of(cls, g: TrustGroup) -> GroupRead:
        limits = limits_of(g)
        return cls(
            slug=g.slug, name=g.name, description=g.description or "", community=g.community,
            default_tlp=tlp_name(g.default_tlp), max_tlp=tlp_name(g.max_tlp),
            api_root=f"/taxii2/{g.slug}/", min_ipv4_prefix=limits.prefix(4), min_ipv6_prefix=limits.prefix(6),
            benign_mode=g.benign_mode or "flag", feedback_visibility=g.feedback_visibility or "publisher",
            false_positive_threshold=g.false_positive_threshold or 2,
        )  # fmt: skip


# ---------------------------------------------------------------- a group's own known-benign list


class BenignCreate(In):
    value: str = Field(
        min_length=1,
        max_length=2048,
        description="an IP address or network, a domain, a "
        "URL (its host is what matches) or a hash; defanged forms are read as search reads them",
    )
    note: str = Field(default="", max_length=255, description="why it is there (one line)")


class BenignRead(BaseModel):
    value: str = Field(description="the value as the hub compares it (normalised)")
    kind: str
    note: str
    list: str = Field(description="the list's name, as statuses and pages show it")
    created_at: datetime

    @classmethod
    def of(cls, e: Entry, group: str) -> BenignRead:
        return cls(value=e.value, kind=e.kind, note=e.note, list=f"{group} own list", created_at=e.created_at)


# ---------------------------------------------------------------- memberships


class MemberCreate(In):
    organisation: str = Field(pattern=SLUG, max_length=64)
    role: RoleName
    clearance: TlpName = "amber"


class MemberUpdate(In):
    role: RoleName | None = None
    clearance: TlpName | None = None


class MemberRead(BaseModel):
    organisation: str
    name: str
    active: bool
    role: RoleName
    clearance: TlpName

    @classmethod
    def of(cls, m: Member) -> MemberRead:
        return cls(
            organisation=m.organisation.slug, name=m.organisation.name, active=m.organisation.active,
            role=m.membership.role,
            clearance=tlp_name(m.membership.clearance),
        )  # fmt: skip


# ---------------------------------------------------------------- invitations


class InvitationCreate(In):
    organisation: str = Field(
        pattern=SLUG, max_length=64, description="slug of a new or existing organisation"
    )
    name: str = Field(default="", max_length=255, description="a new organisation's name (default: its slug)")
    country: str | None = Field(default=None, pattern=COUNTRY)
    role: RoleName = "reader"
    clearance: TlpName = "amber"
    expires_in_hours: int = Field(default=168, ge=1, le=720)


class InvitationRead(BaseModel):
    id: str
    organisation: str
    role: RoleName
    clearance: TlpName
    created_at: datetime
    expires_at: datetime
    state: Literal["pending", "redeemed", "revoked", "expired"]

    @classmethod
    def of(cls, i: Invitation) -> InvitationRead:
        return cls(
            id=i.token_id, organisation=i.organisation_slug,
            role=i.role,
            clearance=tlp_name(i.clearance),
            created_at=_aware(i.created_at), expires_at=_aware(i.expires_at),
            state=invitation_state(i),
        )  # fmt: skip


class InvitationIssued(InvitationRead):
    token: str = Field(description="shown once: give it to the invited CIRT, which redeems it")


class InvitationRedeem(In):
    token: str = Field(min_length=1, max_length=200)
    account: str = Field(default="taxii", min_length=1, max_length=128)
    key_label: str = Field(default="first key", max_length=128)


class RedeemedRead(BaseModel):
    group: str
    organisation: str
    role: RoleName
    clearance: TlpName
    account: str | None = None
    key_id: str | None = None
    key: str | None = Field(default=None, description="the new organisation's first API key, shown once")
    pending_approval: bool = Field(
        default=False,
        description="the new organisation awaits a platform admin's approval; its key works then",
    )

    @classmethod
    def of(cls, r: Redeemed) -> RedeemedRead:
        return cls(**r.__dict__)


# ---------------------------------------------------------------- collections


class CollectionCreate(In):
    alias: str = Field(pattern=SLUG, max_length=64)
    title: str | None = Field(default=None, max_length=255)
    description: str = Field(default="", max_length=10_000)
    kind: Literal["group", "named"] = "group"
    owner: str | None = Field(default=None, pattern=SLUG, max_length=64)
    recipients: list[str] = Field(default_factory=list, max_length=1000)


class CollectionUpdate(In):
    alias: str | None = Field(default=None, pattern=SLUG, max_length=64)
    title: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    recipients: list[str] | None = Field(default=None, max_length=1000)


class CollectionRead(BaseModel):
    id: str
    alias: str
    title: str
    description: str
    kind: Literal["group", "named"]
    owner: str | None
    recipients: list[str]
    archived_at: datetime | None

    @classmethod
    def of(cls, info: CollectionInfo) -> CollectionRead:
        c = info.collection
        return cls(
            id=c.id, alias=c.alias, title=c.title, description=c.description or "",
            kind=c.kind,
            owner=info.owner, recipients=info.recipients, archived_at=_aware(c.archived_at),
        )  # fmt: skip


# ---------------------------------------------------------------- API keys


Scope = Literal["download", "manage", "read", "write"]


class KeyCreate(In):
    account: str | None = Field(
        default=None, min_length=1, max_length=128, description="the account; default: the caller's own"
    )
    label: str = Field(default="", max_length=128)
    expires_at: datetime | None = None
    scopes: list[Scope] | None = Field(
        default=None,
        min_length=1,
        description="what the key may do: download (device lists), read (TAXII GETs, lookups), write "
        "(TAXII POST and DELETE, publishing), manage (keys and the admin API); default: all four, which "
        "the issuing key must hold (a key never grants more than it holds)",
    )


class KeyRotate(In):
    grace_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400)


class KeyRead(BaseModel):
    key_id: str
    organisation: str
    account: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    state: Literal["active", "rotated", "expired", "revoked"]
    works_until: datetime | None = Field(description="a rotated key: the end of its grace period")
    replaced_by: str | None = Field(description="a rotated key: the key id of the key that replaced it")
    scopes: list[Scope] = Field(description="sorted")
    suspended_in: list[str] = Field(description="groups whose coordinator suspended the key there")

    @classmethod
    def of(cls, info: KeyInfo) -> KeyRead:
        k = info.key
        return cls(
            key_id=k.key_id, organisation=info.organisation, account=info.account, label=k.label,
            created_at=_aware(k.created_at), expires_at=_aware(k.expires_at),
            revoked_at=_aware(k.revoked_at), state=info.state,
            works_until=info.works_until, replaced_by=k.replaced_by,
            scopes=info.scopes, suspended_in=list(info.suspended_in),
        )  # fmt: skip


class KeyIssued(BaseModel):
    key: KeyRead
    secret: str = Field(description="the API key, shown once; only its SHA-256 digest is stored")


class KeyRotated(KeyIssued):
    previous: KeyRead = Field(description="the rotated key: state 'rotated', it works until `works_until`")


class MemberKeyRead(BaseModel):
    """A member's key as a coordinator of the group sees it: no label, nothing of other groups."""

    key_id: str
    organisation: str
    account: str
    created_at: datetime
    expires_at: datetime | None
    state: Literal["active", "rotated", "expired", "revoked"]
    scopes: list[Scope]
    suspended: bool = Field(description="suspended in this group by its coordinator")

    @classmethod
    def of(cls, mk: MemberKey) -> MemberKeyRead:
        k = mk.info.key
        return cls(
            key_id=k.key_id, organisation=mk.info.organisation, account=mk.info.account,
            created_at=_aware(k.created_at), expires_at=_aware(k.expires_at),
            state=mk.info.state, scopes=mk.info.scopes, suspended=mk.suspended,
        )  # fmt: skip


# ---------------------------------------------------------------- audit and statistics


class AuditEventRead(BaseModel):
    id: int
    at: datetime
    action: str
    organisation: str | None = Field(description="who: the acting organisation")
    account_id: int | None
    group: str | None
    collection_id: str | None
    target: str | None
    target_organisation: str | None
    count: int | None = Field(
        description="objects pushed, pulled, downloaded, deleted or imported; null where withheld: the "
        "event is another organisation's in a collection the caller does not read with clearance RED, "
        "so the count could include objects above the caller's clearance"
    )
    detail: str | None = Field(description="null where the count is withheld (it may carry counts or ids)")
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, e: AuditEntry, orgs: dict[int, str], groups: dict[int, str]) -> AuditEventRead:
        return cls(
            id=e.id, at=datetime.fromtimestamp(e.at_us / 1e6, UTC), action=e.action,
            organisation=orgs.get(e.organisation_id) if e.organisation_id else None,
            account_id=e.account_id, group=groups.get(e.group_id) if e.group_id else None,
            collection_id=e.collection_id, target=e.target,
            target_organisation=orgs.get(e.target_org_id) if e.target_org_id else None,
            count=e.count, detail=e.detail,
            before=json.loads(e.before) if e.before else None,
            after=json.loads(e.after) if e.after else None,
        )  # fmt: skip


class AuditPage(BaseModel):
    events: list[AuditEventRead]
    next: str | None = Field(description="pass as `cursor` for the next (older) page; absent on the last")


class FeedHealth(BaseModel):
    name: str
    direction: str
    enabled: bool
    failures: int
    last_error: str | None
    last_run: str | None
    last_status: str | None
    healthy: bool
    state: str = Field(
        default="healthy",
        description="healthy, failing, or (a push feed whose peer refused over a tenth of what it was given) "
        "refused by peer",
    )
    counts: dict[str, int] | None = Field(
        default=None,
        description="the last run's read, new, sent, unchanged, rejected (by the connector) and refused (by "
        "policy, or by the peer for a push feed); null before a run and where counts are withheld",
    )


class GroupStatsRead(BaseModel):
    group: str
    total: int = Field(description="object versions the caller may read")
    by_tlp: dict[str, int]
    by_type: dict[str, int]
    per_day: dict[str, int] = Field(description="versions added per UTC day, over the last `days`")
    per_day_by_tlp: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="the same per UTC day, by TLP: {day: {tlp: versions}}"
    )
    per_day_by_type: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="the same per UTC day, by STIX type: {day: {type: versions}}"
    )
    last_push: dict[str, str | None] = Field(description="per member: when its newest version was added")
    feeds: list[FeedHealth]
    benign_flagged: int = Field(
        default=0,
        description="values on a known-benign list that the group's feeds flagged over the last `days` "
        "(stored, left off device lists); feeds whose counts the caller may not see count nothing",
    )

    @classmethod
    def of(cls, s: GroupStats) -> GroupStatsRead:
        return cls.model_validate(s.__dict__)


# ---------------------------------------------------------------- feeds


def _at(us: int | None) -> datetime | None:
    return datetime.fromtimestamp(us / 1e6, UTC) if us else None


class FeedCreate(In):
    name: str = Field(
        max_length=128, description="unique in the group: lowercase letters, digits, '.', '_', '-'"
    )
    direction: Literal["pull", "push"] = "pull"
    format: str = Field(max_length=32, description="stix, misp, misp-feed, csv, text, intelmq, taxii, ...")
    url: str = Field(min_length=1, max_length=2000)
    collection: str = Field(max_length=64, description="alias or id of a collection of the group")
    publish_as: str | None = Field(default=None, max_length=64)
    peer_community: str | None = Field(default=None, max_length=64)
    tlp: str = Field(default="amber", max_length=16)
    tlp_version: Literal[1, 2] = 2
    connector: ConnectorOptions | None = None
    two_way: bool = Field(
        default=False,
        description="a TAXII pull from another hub: the feedback on what it brought in goes back to it",
    )
    user: str | None = Field(default=None, max_length=255)
    password_env: str | None = Field(default=None, max_length=128)
    interval: int | str = Field(default=3600, description="seconds, or a number with s, m, h or d")
    enabled: bool = True


class FeedUpdate(In):
    format: str | None = Field(default=None, max_length=32)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    collection: str | None = Field(default=None, max_length=64)
    publish_as: str | None = Field(default=None, max_length=64)
    tlp: str | None = Field(default=None, max_length=16)
    tlp_version: Literal[1, 2] | None = None
    connector: ConnectorOptions | None = None
    two_way: bool | None = None
    interval: int | str | None = None
    enabled: bool | None = None


class FeedRead(BaseModel):
    name: str
    direction: str
    format: str
    url: str
    collection: str
    publish_as: str | None
    tlp: str
    two_way: bool = False
    interval_s: int
    enabled: bool
    next_run_at: datetime | None
    cursor: str | None
    feedback_cursor: str | None = None
    failures: int
    last_error: str | None
    running_on: str | None

    @classmethod
    def of(cls, f: Feed, *, shown: bool = True) -> FeedRead:
        """`shown`: False where the error is withheld (it carries counts: reports.feed_counts_shown)."""
        return cls(
            name=f.name, direction=f.direction, format=f.format, url=f.url, collection=f.collection,
            publish_as=f.publish_as, tlp=f.tlp, two_way=bool(f.two_way), interval_s=f.interval_s,
            enabled=f.enabled, next_run_at=_at(f.next_run_at_us), cursor=f.cursor,
            feedback_cursor=f.feedback_cursor, failures=f.failures,
            last_error=f.last_error if shown else None,
            running_on=f.leased_by,
        )  # fmt: skip


class FeedRunRead(BaseModel):
    id: int
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str
    status: str
    # counts (and the error, which carries counts) are null where withheld, as in the audit log
    read: int | None
    created: int | None
    new_versions: int | None
    unchanged: int | None
    rejected: int | None
    skipped: int | None
    refused: int | None
    sent: int | None
    cursor_before: str | None
    cursor_after: str | None
    error: str | None

    @classmethod
    def of(cls, r: FeedRunEntry) -> FeedRunRead:
        values = asdict(r)
        started, finished = values.pop("started_us"), values.pop("finished_us")
        return cls(**values, started_at=_at(started), finished_at=_at(finished))
