"""Pydantic shapes of the constituency watch admin API: constituencies and subscriptions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConstituencyUpdate(_Strict):
    """A declaration: it replaces the organisation's constituency (entries it repeats stay confirmed)."""

    networks: list[str] = Field(default_factory=list, max_length=20_000, description="IPv4/IPv6 CIDRs")
    asns: list[int | str] = Field(default_factory=list, max_length=20_000, description="64500 or AS64500")
    domains: list[str] = Field(
        default_factory=list, max_length=20_000, description="domains (with subdomains) and ccTLDs (.ke)"
    )


class ConstituencyConfirm(_Strict):
    """What to confirm: every waiting entry (no body, or `entries` left out), or those named."""

    entries: list[str] | None = Field(default=None, max_length=20_000, description="kind:value or value")


class ConstituencyEntryRead(BaseModel):
    kind: str
    value: str
    confirmed: bool
    declared_at_us: int
    confirmed_at_us: int | None


class ConstituencyRead(BaseModel):
    organisation: str
    networks: list[str]
    asns: list[str]
    domains: list[str]
    entries: list[ConstituencyEntryRead]
    pending: int = Field(description="entries waiting for confirmation (they match nothing until then)")


class SubscriptionCreateBody(_Strict):
    kind: Literal["webhook", "email"]
    events: list[str] = Field(
        default_factory=lambda: ["inside"], max_length=8, description="inside and/or feedback"
    )
    url: str | None = Field(default=None, max_length=2048)
    secret: str | None = Field(default=None, max_length=255)
    to: str | None = Field(default=None, max_length=320)
    digest: str = Field(default="immediate", max_length=16)


class SubscriptionRead(BaseModel):
    id: int
    kind: str
    events: list[str]
    url: str | None
    to: str | None
    digest: str
    active: bool
    created_at_us: int
    delivered: int
    attempts: int = Field(description="consecutive failed attempts")
    last_attempt_us: int | None
    last_success_us: int | None
    last_error: str | None
    next_attempt_us: int
