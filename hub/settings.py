"""Hub settings, read from HUB_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the hub can be configured with; nothing is read at import time."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=None, extra="ignore")

    database_url: str = Field(
        default="sqlite:///hub.db",
        description="SQLAlchemy URL: sqlite:///path.db (default) or postgresql+psycopg://user@host/db",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Signs pagination tokens. Empty: a random secret generated once by `hub db upgrade` "
        "and kept in the database, which every replica shares.",
    )
    public_url: str = Field(default="", description="Base URL clients use, for printed connection hints")
    allowed_hosts: str = Field(
        default="",
        description="comma-separated host names this hub answers for (400 for any other Host header); "
        "the host of public_url is always allowed. Empty: any host",
    )
    trust_config: Path | None = Field(default=None, description="trust-groups YAML loaded by `hub demo`")
    benign_lists: str = Field(
        default="",
        description="comma-separated paths of the operator's known-benign lists (text files: one IP address "
        "or network, domain, URL or hash a line, `#` starts a comment), read at start and applied to every "
        "trust group beside the MISP warninglists and the groups' own lists",
    )
    max_page_size: int = Field(default=1000, ge=1, le=100_000, description="largest `limit` honoured")
    default_page_size: int = Field(default=100, ge=1, le=100_000)
    max_content_length: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="largest POST body in bytes (413 above it)"
    )
    max_objects_per_envelope: int = Field(
        default=10_000, ge=1, description="most objects (entries of 'objects') in one POST (413 above it)"
    )
    auth_failure_limit: int = Field(
        default=10,
        ge=1,
        description="failed authentications per key id and per client address in `auth_failure_window` "
        "seconds before 429 (per process)",
    )
    auth_failure_window: int = Field(default=60, ge=1, description="seconds a failed authentication counts")
    invitations_self_service: bool = Field(
        default=False,
        description="true: an organisation created by redeeming an invitation is active at once; false "
        "(default): it waits for a platform admin's approval (POST /admin/v1/organisations/{org}/approve)",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    title: str = "CIRT sharing hub"
    contact: str = ""
    pool_size: int = 10
    sqlite_cache_mb: int = Field(
        default=256,
        ge=8,
        description="SQLite: the page cache of all the database connections together, in MB (each of the "
        "at most 10 connections gets its share)",
    )
    sqlite_wal_limit_mb: int = Field(
        default=256,
        ge=4,
        description="SQLite: the write-ahead log is reset (checkpointed and truncated) once it passes this "
        "size, in MB; a warning is logged when it stays over it for a minute",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="json: one JSON object a line; text: plain; auto: text on a terminal"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="serve Prometheus metrics on this port (its own listener; off when unset)",
    )
    metrics_host: str = Field(default="127.0.0.1", description="address the metrics port listens on")
    outbound_allow: str = Field(
        default="",
        description="comma-separated host names and addresses or networks (CIDR) that feeds declared by "
        "coordinators may reach although they are not public (named internal upstreams); every other "
        "loopback, private, link-local, CGNAT, multicast or reserved address is refused (hub.net)",
    )

    @field_validator("outbound_allow")
    @classmethod
    def _outbound_allow(cls, value: str) -> str:
        from hub.net import parse_allow

        parse_allow(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        from hub.environment import normalise_database_url

        return normalise_database_url(value)
