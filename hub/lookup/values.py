"""Indicator values at the hub's doors: what a device list may carry, and why ingest refuses a value.

The values themselves (refanging, parsing a searched value, canonical forms, extraction from objects and
patterns) are the shared vocabulary of `hub.vocab.values`, re-exported here. `problem` says why a value
may not go on a device list (ingest refuses such SCOs and single-comparison indicators at the door, and
downloads skip them on the way out, whatever is already stored).
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from hub.policy.words import Phrase
from hub.vocab.values import (
    _ALGORITHM_LENGTHS,
    _CANONICAL_V4,
    _CONTROL,
    _HEX,
    _ONE_COMPARISON,
    HASH_ALGORITHMS,
    HASHED_TYPES,
    KINDS,
    MAX_QUERY_LENGTH,
    TYPES_OF_KIND,
    URL_SCHEMES,
    VALUE_TYPES,
    Kind,
    Query,
    QueryError,
    Value,
    _comparison,
    _ip_or_network,
    _paired,
    algorithm_name,
    matches,
    normalise,
    parse_query,
    pattern_values,
    refang,
    url_host,
    values_of,
)

__all__ = [
    "CANONICAL_V4_NET",
    "DEFAULT_LIMITS",
    "HASHED_TYPES",
    "HASH_ALGORITHMS",
    "KINDS",
    "MAX_QUERY_LENGTH",
    "TYPES_OF_KIND",
    "VALUE_TYPES",
    "Kind",
    "Limits",
    "Query",
    "QueryError",
    "Value",
    "algorithm_name",
    "door_problem",
    "lifecycle",
    "listing_reasons",
    "matches",
    "normalise",
    "parse_query",
    "pattern_values",
    "problem",
    "refang",
    "url_host",
    "values_of",
]


@dataclass(frozen=True)
class Limits:
    """The broadest networks a device list takes, as prefix lengths (a firewall blocking 0.0.0.0/1
    blocks half of the internet). Defaults: IPv4 /12 (about a million addresses: the broadest networks
    of Spamhaus DROP and the OASIS APT1 example's /15s pass), IPv6 /32 (a whole ISP's allocation); never
    broader than IPv4 /9 or IPv6 /16 whatever a group sets."""

    min_prefix_v4: int = 12
    min_prefix_v6: int = 32

    def prefix(self, version: int) -> int:
        """The broadest prefix length allowed for an IP version."""
        if version == 4:
            return max(9, min(32, self.min_prefix_v4))
        return max(16, min(128, self.min_prefix_v6))


DEFAULT_LIMITS = Limits()

# ---------------------------------------------------------------- what a device list may carry


def problem(v: Value, limits: Limits = DEFAULT_LIMITS) -> str | None:
    """Why `v` may not be a line of a device list, or None when it may.

    An IP value is an address or CIDR of its SCO type's version, no broader than `limits`; a domain is
    IDNA-valid, has a dot and is not a public suffix (the Public Suffix List shipped with the
    `publicsuffixlist` package, ICANN and private sections); a URL has an http, https or ftp scheme and
    a host; a hash is hex of its algorithm's length. No value holds a control character or a Unicode
    line or paragraph separator.
    """
    if v.kind == "ip" and v.stix_type != "ipv6-addr":
        if _CANONICAL_V4.match(v.value):
            return None  # the common case, without ipaddress
        m = CANONICAL_V4_NET.match(v.value)
        if m is not None and int(m.group(1)) >= limits.prefix(4):
            return None  # a canonical network no broader than allowed: ipaddress would say the same
    if _CONTROL.search(v.value):
        return f"{_show(v.value)} holds a control character or a line separator"
    if v.kind == "domain":  # a download checks each of its values: the shown form only for a refusal
        return _domain_problem(v.value)
    shown = _show(v.value)
    if v.kind == "ip":
        return _ip_problem(v, shown, limits)
    if v.kind == "url":
        return _url_problem(v.value, shown)
    if v.kind == "hash":
        want = _ALGORITHM_LENGTHS.get(v.algorithm or "")
        if want is None or len(v.value) != want or not _HEX.match(v.value):
            return f"{shown} is not an {v.algorithm} hash ({want} hexadecimal digits)"
        return None
    return None


# a canonical IPv4 address, "/" and a prefix length without leading zeros (0-32): the networks of
# device lists, checked without building an ipaddress network (a download checks each of its values)
CANONICAL_V4_NET = re.compile(_CANONICAL_V4.pattern[:-2] + r"/(3[0-2]|[12][0-9]|[0-9])\Z")


def _show(value: str) -> str:
    return repr(value[:80] + ("..." if len(value) > 80 else ""))


def _ip_problem(v: Value, shown: str, limits: Limits) -> str | None:
    version = 6 if v.stix_type == "ipv6-addr" else 4
    ip = _ip_or_network(v.value) if "%" not in v.value else None
    if ip is None or ip.version != version:
        return f"{shown} is not an IPv{version} address or network (CIDR)"
    if isinstance(ip, ipaddress.IPv4Network | ipaddress.IPv6Network):
        floor = limits.prefix(version)
        if ip.prefixlen < floor:
            return (
                f"{shown} is a network broader than /{floor}, the broadest an IPv{version} value on a "
                "device list may be"
            )
    return None


@lru_cache(maxsize=1)
def _public_suffixes() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()  # the list bundled with the package: nothing is fetched


# a whole ASCII name of `_ASCII_LABEL` labels, in one match instead of one a label (downloads check each
# of their values; _CONTROL has already refused a trailing newline, which `$` would let through)
_ASCII_NAME = re.compile(r"(?:(?!-)[a-z0-9_-]{1,63}(?<!-)\.)*(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")


@lru_cache(maxsize=1)
def _suffix_names() -> tuple[frozenset[str], frozenset[str]] | None:
    """What a name must be for the Public Suffix List to call it public, from the list's own rules:
    a rule's name or an ancestor of one (exact rules, and the names a wildcard or exception rule
    declares implicitly), or the child of a wildcard rule's name. Anything else is not a public suffix,
    known without the list's walk over the name's labels (about 12 µs a name, most of a domain's checks
    on a device list); names that could be are asked of the list itself. None when the package's rules
    are not where this expects them: every name is then asked."""
    rules = getattr(_public_suffixes(), "_publicsuffix", None)
    if not isinstance(rules, frozenset):
        return None
    names: set[str] = set()
    wild: set[str] = set()
    for rule in rules:
        base = rule.lstrip("!")
        if base.startswith("*."):
            base = base[2:]
            wild.add(base)
        labels = base.split(".")
        for i in range(len(labels)):
            names.add(".".join(labels[i:]))
    return frozenset(names), frozenset(wild)


def is_public_suffix(name: str) -> bool:
    """The Public Suffix List's `is_public` for a lower-case ASCII name with a dot, asked only of the
    names it could be true for (`_suffix_names`)."""
    known = _suffix_names()
    if known is not None:
        names, wild = known
        if name not in names and name.partition(".")[2] not in wild:
            return False
    return bool(_public_suffixes().is_public(name))


def _domain_problem(domain: str) -> str | None:
    if len(domain) > 253 or "." not in domain.strip("."):
        return f"{_show(domain)} is not a domain name with at least one dot"
    if domain.isascii():
        ascii_name = domain
    else:
        import idna

        try:
            ascii_name = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            return f"{_show(domain)} is not a valid internationalised domain name ({str(exc)[:100]})"
    if not _ASCII_NAME.match(ascii_name):
        return f"{_show(domain)} is not a valid domain name (letters, digits and hyphens, labels of 1-63)"
    if is_public_suffix(ascii_name):
        return f"{_show(domain)} is a public suffix: blocking it would block every domain under it"
    return None


def _url_problem(url: str, shown: str) -> str | None:
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in URL_SCHEMES:
        return f"{shown} is not a URL with an http, https or ftp scheme"
    host = url_host(url)
    if not host or any(c.isspace() for c in host):
        return f"{shown} is not a URL with a host"
    return None


def door_problem(
    obj: Mapping[str, Any],
    limits: Limits = DEFAULT_LIMITS,
    benign: Callable[[Value], str | None] | None = None,
) -> str | None:
    """Why ingest refuses `obj` for its value: an SCO's value or hashes, or the value of an indicator
    whose pattern is one comparison; None for anything else (complex patterns are judged on the way
    out only). With `benign` (a group refusing known-benign values), a value on the list it names is
    refused too."""
    stype = obj.get("type")
    value = obj.get("value")
    if benign is None and stype == "ipv4-addr" and isinstance(value, str) and _CANONICAL_V4.match(value):
        return None  # the common observable, fit as it is: no Value built (ingest runs this per object)
    if stype in VALUE_TYPES or stype in HASHED_TYPES:
        found = values_of(obj)
    elif stype == "indicator" and obj.get("pattern_type") == "stix" and isinstance(obj.get("pattern"), str):
        m = _ONE_COMPARISON.match(obj["pattern"])
        if m is not None:
            ptype, path, raw = m.groups()
            if benign is None and ptype == "ipv4-addr" and path == "value" and _CANONICAL_V4.match(raw):
                return None  # the common indicator, likewise
            found = list(_comparison(ptype, path.split(".", 1), "=", raw))
        else:
            found = list(_paired(obj["pattern"]) or ())
    else:
        return None
    for v in found:
        why = problem(v, limits)
        if why is not None:
            return f"value refused: {why} (members' firewalls and resolvers block what device lists carry)"
        listed = benign(v) if benign is not None else None
        if listed is not None:
            return (
                f"value refused: {_show(v.value)} is on the known-benign list '{listed}', and this trust "
                "group refuses known-benign values (no member's device should block it)"
            )
    return None


def listing_reasons(
    obj: Mapping[str, Any],
    limits: Limits = DEFAULT_LIMITS,
    benign: Callable[[Value], str | None] | None = None,
) -> list[str]:
    """Plain words on which of an object's values go on device lists, and why the others do not
    (`benign` names the known-benign list holding a value)."""
    if obj.get("type") == "indicator" and obj.get("pattern_type") == "stix":
        every = values_of(obj)
        simple = values_of(obj, simple_only=True)
        if every and not simple:
            return [
                Phrase(
                    "Its pattern is not a plain comparison of values (AND, FOLLOWEDBY, qualifiers or other "
                    "operators): none of its values goes on a device list, since blocking one side would "
                    "block more than the pattern describes."
                )
            ]
    else:
        simple = values_of(obj)
    out: list[str] = []
    for v in simple:
        why = problem(v, limits)
        listed = benign(v) if benign is not None and why is None else None
        if listed is not None:
            out.append(
                Phrase(
                    "{value} is on the known-benign list '{list}': device lists leave it out "
                    "unless a download asks include_flagged=true.",
                    value=_show(v.value),
                    list=listed,
                )
            )
        elif why is None:
            out.append(Phrase("{value} goes on the {kind} device list.", value=_show(v.value), kind=v.kind))
        else:
            out.append(Phrase("{value} is not on any device list: {why}.", value=_show(v.value), why=why))
    return out


def lifecycle(obj: Mapping[str, Any], now_us: int | None = None) -> Literal["revoked", "expired"] | None:
    """Whether an object is revoked, or an indicator past its `valid_until` (an unreadable one counts
    as past); None for a live object. Device downloads leave out both unless asked (valid=false)."""
    if obj.get("revoked") is True:
        return "revoked"
    until = obj.get("valid_until")
    if until is None:
        return None
    from hub.stix import timestamp_us

    now = time.time_ns() // 1000 if now_us is None else now_us
    try:
        return None if timestamp_us(until, "valid_until") > now else "expired"
    except ValueError:
        return "expired"
