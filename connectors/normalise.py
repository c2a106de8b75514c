"""Shared normalisation: value types, refanging, STIX patterns, the indicator a record becomes.

Ids, timestamps and TLP come from the vocabulary the hub shares (`hub.vocab`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import idna
import orjson

from connectors.tlp import marking_ref
from hub.vocab.ids import indicator_id, relationship_id, sco_id
from hub.vocab.time import EPOCH, format_ms
from hub.vocab.values import refang as vocab_refang

if TYPE_CHECKING:
    from connectors.base import FeedSettings

# When a record says nothing about time and the feed sets no valid_from, `created` falls back to the
# fixed instant EPOCH so that re-imports stay byte-identical (a wall-clock value would make a new version
# on every run).

# --------------------------------------------------------------------------------------------------
# value types


class ValueType(StrEnum):
    """The kinds of indicator value the connectors understand."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    IPV4_NET = "ipv4-net"
    IPV6_NET = "ipv6-net"
    DOMAIN = "domain"
    HOSTNAME = "hostname"
    URL = "url"
    EMAIL = "email"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"


class InvalidValue(ValueError):
    """A value that is not what its type says, with a reason a person understands."""


_HASH_LENGTHS = {32: ValueType.MD5, 40: ValueType.SHA1, 64: ValueType.SHA256, 128: ValueType.SHA512}
_HASH_KEYS = {
    ValueType.MD5: "MD5",
    ValueType.SHA1: "SHA-1",
    ValueType.SHA256: "SHA-256",
    ValueType.SHA512: "SHA-512",
}
_HEX = re.compile(r"[0-9a-fA-F]+")
# Host names as they occur in blocklists: LDH labels plus the underscore real DNS names carry
# (`_dmarc`, `foo_bar.example`); a top-level label of letters or an A-label.
_ASCII_DOMAIN = re.compile(
    r"(?=.{1,253}\Z)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})\Z"
)
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u0080-\U0010ffff]{1,64}\Z")
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*\Z")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]")

# Aliases the feeds use for our value types (MISP, abuse.ch, IntelMQ, free text).
TYPE_ALIASES: dict[str, str] = {
    "ip": "ip",
    "ip-src": "ip",
    "ip-dst": "ip",
    "ip_address": "ip",
    "ipv4": "ip",
    "ipv6": "ip",
    "ipv4-addr": "ip",
    "ipv6-addr": "ip",
    "cidr": "ip",
    "network": "ip",
    "ip:port": "ip:port",
    "ip-dst|port": "ip:port",
    "domain": "domain",
    "domain-name": "domain",
    "fqdn": "domain",
    "hostname": "hostname",
    "host": "hostname",
    "url": "url",
    "uri": "url",
    "link": "url",
    "email": "email",
    "email-src": "email",
    "email-dst": "email",
    "email-addr": "email",
    "md5": "md5",
    "md5_hash": "md5",
    "sha1": "sha1",
    "sha1_hash": "sha1",
    "sha-1": "sha1",
    "sha256": "sha256",
    "sha256_hash": "sha256",
    "sha-256": "sha256",
    "sha512": "sha512",
    "sha512_hash": "sha512",
    "sha-512": "sha512",
}

# one refang for the connectors and the hub (hub.vocab.values): a value a feed wrote defanged is stored in
# the spelling a member searching for it types
refang = vocab_refang


@dataclass(frozen=True, slots=True)
class Value:
    """A validated, normalised indicator value; `port` only for IP:port values."""

    kind: ValueType
    value: str
    port: int | None = None

    def pattern(self) -> str:
        """Build the STIX pattern; known-good by construction, so it is not re-parsed per record."""
        literal = quote(self.value)
        kind = self.kind
        if self.port is not None:
            sco = "ipv4-addr" if kind in (ValueType.IPV4, ValueType.IPV4_NET) else "ipv6-addr"
            return (
                f"[network-traffic:dst_ref.type = '{sco}' AND network-traffic:dst_ref.value = {literal}"
                f" AND network-traffic:dst_port = {self.port}]"
            )
        if kind in _HASH_KEYS:
            key = _HASH_KEYS[kind]
            path = "MD5" if key == "MD5" else f"'{key}'"
            return f"[file:hashes.{path} = {literal}]"
        return f"[{_SCO_TYPES[kind]}:value = {literal}]"

    def sco(self, marking_refs: Sequence[str] = ()) -> dict[str, Any]:
        """Return the STIX cyber-observable for this value, with its spec deterministic id."""
        kind = self.kind
        if kind in _HASH_KEYS:
            hashes = {_HASH_KEYS[kind]: self.value}
            obj: dict[str, Any] = {
                "type": "file",
                "spec_version": "2.1",
                "id": sco_id("file", {"hashes": hashes}),
                "hashes": hashes,
            }
        else:
            sco_type = _SCO_TYPES[kind]
            obj = {
                "type": sco_type,
                "spec_version": "2.1",
                "id": sco_id(sco_type, {"value": self.value}),
                "value": self.value,
            }
        if marking_refs:
            obj["object_marking_refs"] = list(marking_refs)
        return obj


_SCO_TYPES = {
    ValueType.IPV4: "ipv4-addr",
    ValueType.IPV4_NET: "ipv4-addr",
    ValueType.IPV6: "ipv6-addr",
    ValueType.IPV6_NET: "ipv6-addr",
    ValueType.DOMAIN: "domain-name",
    ValueType.HOSTNAME: "domain-name",
    ValueType.URL: "url",
    ValueType.EMAIL: "email-addr",
}


def quote(value: str) -> str:
    """Quote a string literal for a STIX pattern: backslash and single quote are escaped."""
    if "\\" in value or "'" in value:
        value = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{value}'"


def _ip(text: str) -> Value:
    if "/" in text:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidValue(f"not an IP address or CIDR block: {text!r}") from None
        kind = ValueType.IPV4_NET if net.version == 4 else ValueType.IPV6_NET
        return Value(kind, str(net))
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidValue(f"not an IP address: {text!r}") from None
    return Value(ValueType.IPV4 if addr.version == 4 else ValueType.IPV6, str(addr))


def normalise_domain(text: str) -> str:
    """Lower-case and validate a domain name; unicode (IDN) names stay unicode, A-labels stay ASCII."""
    name = text.strip().rstrip(".")
    if name.isascii():
        name = name.lower()
        if _ASCII_DOMAIN.match(name):
            return name
        raise InvalidValue(f"not a domain name: {text!r}")
    try:
        # UTS 46 mapping lower-cases and normalises the unicode form; encoding proves it is a valid IDN.
        ascii_form = idna.encode(name, uts46=True).decode("ascii")
        if not _ASCII_DOMAIN.match(ascii_form):
            raise InvalidValue(f"not a domain name: {text!r}")
        unicode_form: str = idna.decode(ascii_form)
    except (idna.IDNAError, UnicodeError, ValueError):
        raise InvalidValue(f"not a valid internationalised domain name: {text!r}") from None
    return unicode_form


def ascii_domain(name: str) -> str:
    """The A-label (punycode) form of an already-normalised domain name."""
    return name if name.isascii() else idna.encode(name, uts46=True).decode("ascii")


def _host(host: str) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise InvalidValue(f"bad IPv6 literal in URL: {host!r}")
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1])}]"
        except ValueError:
            raise InvalidValue(f"bad IPv6 literal in URL: {host!r}") from None
    if host[-1].isdigit():  # only then can it be an IPv4 literal; a failed parse costs an exception
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            pass
    if host.isascii():
        lowered = host.lower().rstrip(".")
        if _ASCII_DOMAIN.match(lowered) or lowered == "localhost":
            return lowered
    return normalise_domain(host)


def _url(text: str) -> Value:
    if _CONTROL_OR_SPACE.search(text):
        raise InvalidValue("URL contains whitespace or control characters")
    scheme, sep, rest = text.partition("://")
    if not sep or not _SCHEME.match(scheme):
        raise InvalidValue(f"not a URL (no scheme://): {text[:80]!r}")
    try:
        netloc = urlsplit(text).netloc
    except ValueError as exc:
        raise InvalidValue(f"not a URL: {exc}") from None
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):
        close = hostport.find("]") + 1
        host, port_text = hostport[:close], hostport[close:]
    else:
        colon = hostport.rfind(":")
        host, port_text = (hostport[:colon], hostport[colon:]) if colon >= 0 else (hostport, "")
    # urlsplit's `.port` and `.hostname` would parse the netloc twice more; on 100k-line feeds that shows.
    digits = port_text[1:]
    if port_text and (port_text[0] != ":" or (digits and not (digits.isascii() and digits.isdigit()))):
        raise InvalidValue(f"not a URL: bad port in {netloc[:80]!r}")
    if digits and int(digits) > 65535:
        raise InvalidValue(f"not a URL: port out of range in {netloc[:80]!r}")
    if not host:
        raise InvalidValue(f"URL has no host: {text[:80]!r}")
    # Only the scheme and host are case-insensitive; the path, query and fragment are kept byte for byte.
    tail = rest[len(netloc) :]
    return Value(ValueType.URL, f"{scheme.lower()}://{userinfo}{at}{_host(host)}{port_text}{tail}")


def _email(text: str) -> Value:
    local, at, domain = text.rpartition("@")
    if not at or not local or not _LOCAL_PART.match(local) or local.startswith(".") or ".." in local:
        raise InvalidValue(f"not an email address: {text!r}")
    return Value(ValueType.EMAIL, f"{local}@{normalise_domain(domain)}")


def _hash(text: str, kind: ValueType | None = None) -> Value:
    found = _HASH_LENGTHS.get(len(text))
    if found is None or not _HEX.fullmatch(text) or (kind is not None and kind is not found):
        expected = kind.value if kind else "hash"
        raise InvalidValue(f"not a {expected}: {text[:140]!r}")
    return Value(found, text.lower())


def _ip_port(text: str) -> Value:
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit():
        raise InvalidValue(f"not an IP:port value: {text!r}")
    host = host.removeprefix("[").removesuffix("]")
    return with_port(_ip(host), port_text)


def with_port(value: Value, port: str | int | None) -> Value:
    """Attach a destination port to an IP value; other kinds ignore it."""
    if port is None or port == "" or value.kind not in (ValueType.IPV4, ValueType.IPV6):
        return value
    try:
        number = int(port)
    except (TypeError, ValueError):
        raise InvalidValue(f"not a port number: {port!r}") from None
    if not 0 <= number <= 65535:
        raise InvalidValue(f"port out of range: {number}")
    return Value(value.kind, value.value, number)


def parse_value(text: str, type_hint: str | None = None) -> Value:
    """Refang, validate and normalise `text`; detect its type unless `type_hint` names one."""
    if not isinstance(text, str):
        raise InvalidValue(f"value is not text: {text!r}")
    text = refang(text.strip())
    if not text:
        raise InvalidValue("empty value")
    if type_hint:
        hint = TYPE_ALIASES.get(type_hint.strip().lower())
        if hint is None:
            raise InvalidValue(f"unsupported value type: {type_hint[:60]!r}")
        return _parse_as(hint, text)
    return detect(text)


def _parse_as(hint: str, text: str) -> Value:
    if hint == "ip":
        return _ip(text)
    if hint == "ip:port":
        return _ip_port(text)
    if hint in ("domain", "hostname"):
        if _CONTROL_OR_SPACE.search(text):
            raise InvalidValue("domain contains whitespace or control characters")
        kind = ValueType.DOMAIN if hint == "domain" else ValueType.HOSTNAME
        return Value(kind, normalise_domain(text))
    if hint == "url":
        return _url(text)
    if hint == "email":
        if _CONTROL_OR_SPACE.search(text):
            raise InvalidValue("email address contains whitespace or control characters")
        return _email(text)
    return _hash(text, ValueType(hint))


def detect(text: str) -> Value:
    """Detect the type of an already-refanged value and normalise it."""
    if _CONTROL_OR_SPACE.search(text):
        raise InvalidValue(f"value contains whitespace or control characters: {text[:80]!r}")
    if "://" in text:
        return _url(text)
    if len(text) in _HASH_LENGTHS and _HEX.fullmatch(text):
        return _hash(text)
    if "@" in text:
        return _email(text)
    first = text[0]
    if first.isdigit() or ":" in text or "/" in text:
        try:
            return _ip(text)
        except InvalidValue:
            if ":" in text and "/" not in text and "." in text and text.count(":") == 1:
                try:
                    return _ip_port(text)
                except InvalidValue:
                    pass
            if "/" in text or ":" in text:
                raise InvalidValue(f"cannot tell what this value is: {text[:80]!r}") from None
    try:
        return Value(ValueType.DOMAIN, normalise_domain(text))
    except InvalidValue:
        raise InvalidValue(f"cannot tell what this value is: {text[:80]!r}") from None


# --------------------------------------------------------------------------------------------------
# time


def parse_time(value: Any) -> datetime | None:
    """Parse a source timestamp (ISO 8601, `YYYY-MM-DD HH:MM:SS`, a date, or epoch seconds) as UTC.

    Returns None for empty or unreadable values; sub-second precision is dropped (see `stamp`).
    """
    if isinstance(value, str):
        return _parse_time_text(value)
    if value is None or isinstance(value, bool):
        return None
    return _parse_time_uncached(value)


@lru_cache(maxsize=4096)
def _parse_time_text(value: str) -> datetime | None:
    # Feeds repeat timestamps (a last-online time shared by thousands of rows): parse each once.
    return _parse_time_uncached(value) if value else None


def _parse_time_uncached(value: Any) -> datetime | None:
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            when = datetime.fromtimestamp(int(value), tz=UTC)
        elif isinstance(value, str):
            text = value.strip()
            if text.endswith(("UTC", "utc")):
                text = text[:-3].strip()
            when = datetime.fromisoformat(text)
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    if not 1970 <= when.year <= 9999:
        return None
    return when.replace(microsecond=0)


def stamp(obj: dict[str, Any], base: datetime) -> dict[str, Any]:
    """Set `modified` to `base` plus a content fingerprint in milliseconds.

    `base` is the record's own last-seen/updated time (second precision), or `created`. The
    millisecond part is taken from a SHA-256 of the object without `modified`, so re-importing the same
    record gives the same bytes, and a change the source did not timestamp (new confidence, labels,
    valid_until) still gives a new version of the same id.
    """
    obj.pop("modified", None)
    digest = hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).digest()
    millis = int.from_bytes(digest[:4], "big") % 1000
    obj["modified"] = f"{format_ms(base.replace(microsecond=0))[:-4]}{millis:03d}Z"
    return obj


# --------------------------------------------------------------------------------------------------
# the indicator a record becomes


@dataclass(slots=True)
class Draft:
    """What one source record says about one indicator value; `build` turns it into STIX dicts."""

    value: Value
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    valid_until: datetime | None = None
    tlp: str | None = None
    labels: Sequence[str] = ()
    indicator_types: Sequence[str] | None = None
    confidence: int | None = None
    name: str | None = None
    description: str | None = None
    external_id: str | None = None
    url: str | None = None
    external_references: list[dict[str, str]] = field(default_factory=list)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def build(draft: Draft, settings: FeedSettings, *, pattern: str | None = None) -> list[dict[str, Any]]:
    """Turn a draft into an indicator (and, with `with_observables`, its SCO and a based-on relationship).

    `pattern` overrides the pattern the value would build (the MISP fast path writes misp-stix's forms).
    """
    pattern = pattern or draft.value.pattern()
    created = draft.first_seen or settings.valid_from or EPOCH
    base = created
    if draft.last_seen is not None and draft.last_seen > created:
        base = draft.last_seen
    valid_until = draft.valid_until
    if valid_until is None and settings.lifetime is not None:
        seen = draft.last_seen or settings.seen_at or created
        # a later sighting is a later version: `modified` follows the last-seen date it is made from
        base = max(base, seen)
        valid_until = seen + timedelta(seconds=settings.lifetime)
    markings = [marking_ref(draft.tlp or settings.tlp, settings.tlp_version)]
    created_text = format_ms(created)
    indicator: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": indicator_id(settings.producer_id, pattern),
        "created_by_ref": settings.producer_id,
        "created": created_text,
        "name": draft.name or draft.value.value,
    }
    if draft.description:
        indicator["description"] = draft.description
    indicator["indicator_types"] = list(draft.indicator_types or settings.indicator_types)
    indicator["pattern"] = pattern
    indicator["pattern_type"] = "stix"
    indicator["pattern_version"] = "2.1"
    indicator["valid_from"] = created_text
    if valid_until is not None and valid_until > created:
        indicator["valid_until"] = format_ms(valid_until)
    labels = _unique((*settings.labels, *draft.labels))
    if labels:
        indicator["labels"] = labels
    confidence = draft.confidence if draft.confidence is not None else settings.confidence
    if confidence is not None:
        indicator["confidence"] = confidence
    refs = list(draft.external_references)
    if draft.external_id or draft.url:
        ref = {"source_name": settings.source_name}
        if draft.external_id:
            ref["external_id"] = draft.external_id
        if draft.url:
            ref["url"] = draft.url
        refs.insert(0, ref)
    if refs:
        indicator["external_references"] = refs
    indicator["object_marking_refs"] = markings
    stamp(indicator, base)
    if not settings.with_observables:
        return [indicator]
    sco = draft.value.sco(markings)
    relationship: dict[str, Any] = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": relationship_id(indicator["id"], "based-on", sco["id"]),
        "created_by_ref": settings.producer_id,
        "created": created_text,
        "relationship_type": "based-on",
        "source_ref": indicator["id"],
        "target_ref": sco["id"],
        "object_marking_refs": markings,
    }
    stamp(relationship, created)
    return [indicator, sco, relationship]
