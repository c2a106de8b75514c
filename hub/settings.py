"""Hub settings, read from HUB_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
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
    database_prepared_statements: bool = Field(
        default=True,
        description="PostgreSQL: run a search's value look-ups as server-side prepared statements (they "
        "cost more to plan than to run); false for a connection pooler in transaction mode that cannot "
        "keep them (PgBouncer before 1.21). Read by every process that opens the database",
    )
    sqlite_cache_mb: int = Field(
        default=128,
        ge=8,
        description="SQLite: its memory in the process, all the database connections' page caches "
        "together, in MB (SQLite's soft heap limit; a connection may cache up to a quarter of it while "
        "it writes, a sixteenth while it reads)",
    )
    sqlite_wal_limit_mb: int = Field(
        default=256,
        ge=4,
        description="SQLite: the write-ahead log is reset (checkpointed and truncated) once it passes this "
        "size, in MB; a warning is logged when it stays over it for a minute",
    )
    malloc_arena_max: int = Field(
        default=2,
        ge=0,
        description="`hub serve` on glibc: the most malloc arenas the process's threads share (0: the C "
        "library's default, eight per core); few arenas keep memory freed by one request thread reusable "
        "by the others instead of growing the process",
    )
    malloc_trim_seconds: int = Field(
        default=30,
        ge=0,
        le=3600,
        description="`hub serve` on glibc: every this many seconds, the memory the C library holds free "
        "is handed back to the system (malloc_trim), so RSS follows what the process uses rather than its "
        "high-water mark (0: never)",
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
    asn_data: str = Field(
        default="",
        description="comma-separated paths of the ASN files `hub asn load` reads when given none: pyasn "
        "IPASN data (`prefix<TAB>asn` a line) or RIR extended delegated statistics; constituency ASNs "
        "match the prefixes they list (no network access at run time)",
    )
    smtp_host: str = Field(default="", description="SMTP server of watch email digests (empty: no email)")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port (587 with STARTTLS, usually)")
    smtp_starttls: bool = Field(default=False, description="upgrade the SMTP connection with STARTTLS first")
    smtp_username: str = Field(default="", description="SMTP AUTH user (empty: no authentication)")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP AUTH password")
    smtp_from: str = Field(default="hub@localhost", description="the From address of watch emails")
    watch_settle_seconds: int = Field(
        default=5,
        ge=0,
        description="the matcher reads versions added at least this long ago, so writers still committing "
        "the versions dated just before are not passed over",
    )

    device_list_max_age: int = Field(
        default=0,
        ge=0,
        le=86_400,
        description="seconds a device list (blocklist.txt and .csv, bundle.json, suricata.rules, zeek.intel, "
        "rpz.zone, a MISP feed's manifest and hashes) built for a reader is kept and served again to the "
        "same reader asking with the same parameters, though objects were added since (0: off, every "
        "download is built afresh); a copy whose ETag is still the current one is served whatever its age",
    )
    device_list_stale_while_revalidate: int = Field(
        default=0,
        ge=0,
        le=86_400,
        description="seconds past device_list_max_age a kept device list is still served while its "
        "replacement is being built (HTTP's stale-while-revalidate): a device then gets the previous list "
        "at once instead of waiting for the build, so a list may be up to max-age plus this many seconds "
        "behind (0: a request past max-age follows the build)",
    )
    device_list_cache_dir: Path | None = Field(
        default=None,
        description="where kept device lists are written: each server process makes a private directory "
        "(0700) of its own inside it; unset: inside the system's temporary directory",
    )
    device_list_cache_entries: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="the most device lists kept at once (the least recently used go first)",
    )
    device_list_cache_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024 * 1024,
        description="the most bytes of device lists kept at once (least recently used go; a list larger "
        "than this is served as it is built and not kept)",
    )

    suricata_sid_base: int = Field(
        default=1_000_000,
        ge=1,
        le=2**32 - 2,
        description="the first SID of the Suricata rules the hub writes (suricata.rules); keep the range "
        "clear of your other rule sources",
    )
    suricata_sid_range: int = Field(
        default=1_000_000,
        ge=1000,
        description="how many SIDs from suricata_sid_base the hub's rules take (default: the local range "
        "1000000-1999999; a value's SID is a hash within the range, so a larger range keeps SIDs stabler)",
    )
    rpz_nameserver: str = Field(
        default="localhost.", description="the name server in the SOA and NS records of rpz.zone"
    )
    rpz_hostmaster: str = Field(
        default="hostmaster.localhost.", description="the mailbox (as a DNS name) in the SOA of rpz.zone"
    )
    rpz_ttl: int = Field(default=300, ge=0, le=86_400, description="the TTL of the records of rpz.zone")
    rpz_origin: str = Field(
        default="",
        description="the zone name written as $ORIGIN in rpz.zone (e.g. rpz.hub.example.); empty: none, "
        "the resolver's configuration names the zone",
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

    @field_validator("rpz_nameserver", "rpz_hostmaster", "rpz_origin")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        import re

        if value and not re.fullmatch(r"(?:(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\.)+", value):
            raise ValueError(f"{value[:80]!r} is not an absolute DNS name (labels and a final dot)")
        return value

    @field_validator("suricata_sid_range")
    @classmethod
    def _sid_range(cls, value: int, info: ValidationInfo) -> int:
        base = info.data.get("suricata_sid_base", 1)
        if base + value - 1 > 2**32 - 1:
            raise ValueError("suricata_sid_base + suricata_sid_range must stay within 32 bits")
        return value
