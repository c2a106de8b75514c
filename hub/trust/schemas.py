"""Pydantic shapes of the trust-group configuration file and of the admin API."""

from __future__ import annotations

import re
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.policy.tlp import Tlp

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ROLES = ("coordinator", "contributor", "reader")
Role = Literal["coordinator", "contributor", "reader"]


def _tlp(value: object) -> int:
    if isinstance(value, Tlp):
        return int(value)
    if isinstance(value, str):
        return int(Tlp.parse(value))
    raise ValueError("a TLP level is a string: clear, green, amber, amber+strict or red")


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError(f"{value!r} is not a slug: lowercase letters, digits and '-', at most 64")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyConfig(Strict):
    label: str = Field(default="demo", max_length=128)
    expires_days: int | None = Field(default=None, ge=1)


class AccountConfig(Strict):
    name: str = Field(min_length=1, max_length=128)
    admin: bool = False
    keys: list[KeyConfig] = Field(default_factory=lambda: [KeyConfig()])


class ConstituencyConfig(Strict):
    networks: list[str] = Field(default_factory=list)
    asns: list[int | str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _entries(self) -> ConstituencyConfig:
        from hub.trust.constituency import parse_asn, parse_domain, parse_network  # it imports this module

        for n in self.networks:
            parse_network(n)
        for a in self.asns:
            parse_asn(a)
        for d in self.domains:
            parse_domain(d)
        return self


class OrganisationConfig(Strict):
    slug: str
    name: str = Field(min_length=1, max_length=255)
    country: str | None = None
    contact: str | None = Field(default=None, max_length=255)
    accounts: list[AccountConfig] = Field(default_factory=list)
    # declared by the operator's file, so confirmed at once (docs/constituency.md)
    constituency: ConstituencyConfig | None = None

    _v_slug = field_validator("slug")(_slug)

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Z]{2}", v):
            raise ValueError(f"{v!r} is not an ISO 3166-1 alpha-2 country code (two capital letters)")
        return v


class MemberConfig(Strict):
    org: str
    role: Role
    clearance: int = int(Tlp.AMBER_STRICT)

    _v_clearance = field_validator("clearance", mode="before")(_tlp)


class CollectionConfig(Strict):
    alias: str
    id: uuid.UUID | None = None
    title: str | None = Field(default=None, max_length=255)
    description: str = ""
    kind: Literal["group", "named"] = "group"
    owner: str | None = None
    recipients: list[str] = Field(default_factory=list)

    _v_alias = field_validator("alias")(_slug)

    @field_validator("id")
    @classmethod
    def _v4(cls, value: uuid.UUID | None) -> uuid.UUID | None:
        if value is not None and value.version != 4:
            raise ValueError("a collection id must be an RFC 4122 version 4 UUID (TAXII 2.1 identifier)")
        return value

    @model_validator(mode="after")
    def _named_needs_owner(self) -> CollectionConfig:
        if self.kind == "named" and not self.owner:
            raise ValueError("a named-recipient collection needs an `owner` organisation")
        if self.kind == "group" and (self.owner or self.recipients):
            raise ValueError("`owner` and `recipients` belong to named-recipient collections (kind: named)")
        return self


class GroupConfig(Strict):
    slug: str
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    community: str | None = Field(default=None, max_length=64)
    default_tlp: int = int(Tlp.AMBER)
    max_tlp: int = int(Tlp.AMBER_STRICT)
    # device lists (hub.trust.benign): the broadest networks (None: the hub's defaults, /12 and /32),
    # never broader than /9 and /16, and flag or refuse for values on a known-benign list
    min_ipv4_prefix: int | None = Field(default=None, ge=9, le=32)
    min_ipv6_prefix: int | None = Field(default=None, ge=16, le=128)
    benign_mode: Literal["flag", "refuse"] = "flag"
    # feedback (hub.feedback): who reads a member's reports in full, and how many organisations'
    # false-positive reports hold an object out of device lists
    feedback_visibility: Literal["publisher", "everyone-anonymous", "everyone"] = "publisher"
    false_positive_threshold: int = Field(default=2, ge=1, le=1000)
    members: list[MemberConfig] = Field(default_factory=list)
    collections: list[CollectionConfig] = Field(default_factory=list)

    _v_slug = field_validator("slug")(_slug)
    _v_tlp = field_validator("default_tlp", "max_tlp", mode="before")(_tlp)

    @model_validator(mode="after")
    def _levels(self) -> GroupConfig:
        if self.default_tlp > self.max_tlp:
            raise ValueError("default_tlp is above max_tlp: unmarked objects could never be accepted")
        if self.max_tlp >= Tlp.RED:
            raise ValueError("max_tlp cannot be red: TLP:RED goes only to named-recipient collections")
        return self


class TrustConfig(Strict):
    organisations: list[OrganisationConfig] = Field(default_factory=list)
    groups: list[GroupConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> TrustConfig:
        orgs = {o.slug for o in self.organisations}
        if len(orgs) != len(self.organisations):
            raise ValueError("organisation slugs must be unique")
        for g in self.groups:
            for m in g.members:
                if m.org not in orgs:
                    raise ValueError(f"group {g.slug}: member {m.org!r} is not a declared organisation")
            members = {m.org for m in g.members}
            for c in g.collections:
                for o in [c.owner, *c.recipients]:
                    if o is not None and o not in members:
                        raise ValueError(
                            f"group {g.slug}, collection {c.alias}: {o!r} is not a member of the group"
                        )
        return self


class IssuedKey(BaseModel):
    """An API key just created: the only time its secret is shown."""

    organisation: str
    account: str
    label: str
    key: str
    expires_at: str | None = None
