"""Indicator values: reading a searched value (refanged, normalised) and extracting them from objects.

A value is what a firewall, a resolver or an analyst looks up: an IP address or network, a domain name,
a URL, an email address or a file hash. Values come from cyber-observables (`ipv4-addr.value`,
`file.hashes`, ...) and from the comparisons of STIX indicator patterns.

`problem` says why a value may not go on a device list (ingest refuses such SCOs and single-comparison
indicators at the door, and downloads skip them on the way out, whatever is already stored).
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Kind = Literal["ip", "domain", "url", "email", "hash"]
KINDS: tuple[Kind, ...] = ("ip", "domain", "url", "email", "hash")

# SCO type -> the kind of its `value`
VALUE_TYPES: Mapping[str, Kind] = {
    "ipv4-addr": "ip",
    "ipv6-addr": "ip",
    "domain-name": "domain",
    "url": "url",
    "email-addr": "email",
}
HASHED_TYPES = frozenset({"file", "artifact"})
# the STIX types that may carry a value of each kind (indicators through their patterns)
TYPES_OF_KIND: Mapping[Kind, tuple[str, ...]] = {
    "ip": ("ipv4-addr", "ipv6-addr", "indicator"),
    "domain": ("domain-name", "indicator"),
    "url": ("url", "indicator"),
    "email": ("email-addr", "indicator"),
    "hash": ("file", "artifact", "indicator"),
}
HASH_ALGORITHMS = ("MD5", "SHA-1", "SHA-256", "SHA-512")
_HASH_LENGTHS = {32: "MD5", 40: "SHA-1", 64: "SHA-256", 128: "SHA-512"}
# spellings producers use for the hashing-algorithm-ov names (STIX 2.1 section 10.5)
_ALGORITHM_NAMES = {
    "md5": "MD5",
    "sha1": "SHA-1",
    "sha-1": "SHA-1",
    "sha256": "SHA-256",
    "sha-256": "SHA-256",
    "sha512": "SHA-512",
    "sha-512": "SHA-512",
}
MAX_QUERY_LENGTH = 2048
_ALGORITHM_LENGTHS = {"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128}
# C0 and C1 controls (tab, line feed, vertical tab, NEL U+0085, ...) and the Unicode line and paragraph
# separators: a line-based consumer would split a value holding one into lines of its own
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# a canonical dotted-quad IPv4 address (no leading zeros): the common value, judged without ipaddress
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = re.compile(rf"^{_OCTET}(?:\.{_OCTET}){{3}}\Z")
_ASCII_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
URL_SCHEMES = ("http", "ftp", "https")

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+$")
# the refanging people and feeds apply to values, so a pasted report line is found as it is
_DEFANGS = (
    (re.compile(r"^hxxp", re.IGNORECASE), "http"),
    (re.compile(r"^fxp", re.IGNORECASE), "ftp"),
    (re.compile(r"\[:\]|\(:\)"), ":"),
    (re.compile(r"\[/\]"), "/"),
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\s\.\s", re.IGNORECASE), "."),
    (re.compile(r"\[@\]|\(@\)|\[at\]|\(at\)|\s@\s", re.IGNORECASE), "@"),
)


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


class QueryError(ValueError):
    """The searched text is no value the hub can look up; the message says what it takes."""


@dataclass(frozen=True)
class Value:
    """One value of an object: its kind, the SCO type it is a value of, and the hash algorithm if any."""

    kind: Kind
    stix_type: str
    value: str
    algorithm: str | None = None
    in_pattern: bool = False
    port: int | None = None  # a pattern pairing an address with a port (Feodo Tracker's C2 rows)


@dataclass(frozen=True)
class Query:
    """A searched value, refanged and normalised, with what it may match."""

    text: str
    kind: Kind
    algorithm: str | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    @property
    def types(self) -> tuple[str, ...]:
        return TYPES_OF_KIND[self.kind]


def refang(text: str) -> str:
    """Undo the usual defanging (`hxxp://evil[.]example`, `a[at]b[.]c`) and strip quotes and spaces."""
    out = text.strip().strip("'\"<>`").strip()
    for pattern, repl in _DEFANGS:
        out = pattern.sub(repl, out)
    return out


def parse_query(raw: str) -> Query:
    """Read a searched value: a hash, an IP address or network, a URL, an email address or a domain."""
    if len(raw) > MAX_QUERY_LENGTH:
        raise QueryError(f"The search text is over {MAX_QUERY_LENGTH} characters.")
    text = refang(raw)
    if not text:
        raise QueryError("Type a value to search for: an IP address, a domain, a URL, an email or a hash.")
    if _HEX.match(text) and len(text) in _HASH_LENGTHS:
        return Query(text.lower(), "hash", algorithm=_HASH_LENGTHS[len(text)])
    ip = _ip_or_network(text)
    if ip is not None:
        if isinstance(ip, ipaddress.IPv4Network | ipaddress.IPv6Network):
            return Query(str(ip), "ip", network=ip)
        return Query(str(ip), "ip", network=ipaddress.ip_network(ip))
    if "://" in text:
        return Query(normalise("url", text), "url")
    if _EMAIL.match(text):
        return Query(normalise("email", text), "email")
    domain = normalise("domain", text)
    if _DOMAIN.match(domain):
        return Query(domain, "domain")
    raise QueryError(
        f"'{raw.strip()[:100]}' is not a value the hub looks up: search for an IP address or network, a "
        "domain name, a URL, an email address, or an MD5, SHA-1, SHA-256 or SHA-512 hash."
    )


def _ip_or_network(text: str) -> Any:
    try:
        if "/" in text:
            return ipaddress.ip_network(text, strict=False)
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def normalise(kind: Kind, value: str) -> str:
    """The form values of `kind` are compared in: lower-case domains and hashes, canonical IPs."""
    value = value.strip()
    if kind == "hash":
        return value.lower()
    if kind == "domain":
        return value.lower().rstrip(".")
    if kind == "email":
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"
    if kind == "ip":
        if _CANONICAL_V4.match(value):
            return value
        ip = _ip_or_network(value)
        if ip is None:
            return value
        if isinstance(ip, ipaddress.IPv4Network | ipaddress.IPv6Network) and "/" not in value:
            return str(ip.network_address)
        return str(ip)
    if kind == "url":
        scheme, sep, rest = value.partition("://")
        if not sep:
            return value
        host, slash, path = rest.partition("/")
        return f"{scheme.lower()}://{host.lower()}{slash}{path}"
    return value


def algorithm_name(name: str) -> str | None:
    """The hashing-algorithm-ov name of a producer's spelling (`sha256` -> `SHA-256`), or None."""
    return _ALGORITHM_NAMES.get(name.strip().strip("'").lower())


def url_host(url: str) -> str | None:
    """The host of a URL, lower-case, without port or credentials."""
    _, sep, rest = url.partition("://")
    if not sep:
        return None
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    return host.partition(":")[0].lower().rstrip(".")


def values_of(obj: Mapping[str, Any], *, simple_only: bool = False) -> list[Value]:
    """The values of an object: an SCO's value or hashes, or the values compared in an indicator.

    With `simple_only`, an indicator gives values only when its pattern is simple enough to turn into a
    blocklist line without changing what it means: equality comparisons on values or hashes joined by
    OR, and nothing else (no AND, FOLLOWEDBY, NOT, qualifiers or other operators). Anything else is
    skipped there, since blocking one side of an AND would block more than the pattern describes.
    """
    stype = obj.get("type")
    if not isinstance(stype, str):
        return []
    if stype in VALUE_TYPES:
        v = obj.get("value")
        if not isinstance(v, str) or not _text(v):
            return []
        return [Value(VALUE_TYPES[stype], stype, _normalised(VALUE_TYPES[stype], v))]
    if stype in HASHED_TYPES:
        return list(_hashes(stype, obj.get("hashes")))
    if stype == "indicator" and obj.get("pattern_type") == "stix" and isinstance(obj.get("pattern"), str):
        return list(pattern_values(obj["pattern"], simple_only=simple_only))
    return []


def _text(v: Any) -> bool:
    return isinstance(v, str) and 0 < len(v) <= MAX_QUERY_LENGTH


def _hashes(stype: str, hashes: Any, *, in_pattern: bool = False) -> Iterator[Value]:
    if not isinstance(hashes, dict):
        return
    for name, h in hashes.items():
        alg = algorithm_name(str(name))
        if alg is not None and _text(h):
            yield Value("hash", stype, _normalised("hash", h), alg, in_pattern)


# a pattern of one equality comparison, the form most feeds and our connectors write: no parser needed
_ONE_COMPARISON = re.compile(
    r"^\[(ipv4-addr|ipv6-addr|domain-name|url|email-addr|file|artifact):"
    r"(value|hashes\.(?:'[A-Za-z0-9-]+'|[A-Za-z0-9]+)) ?= ?'((?:[^'\\]|\\['\\])*)'\]$"
)
# an address paired with a port or protocol, one network-traffic observation: the form Feodo Tracker's
# rows take through our connectors and MISP's ip-dst|port attributes through misp-stix. The address is
# what a device blocks (blocking it blocks no more than the pattern describes, on the port and beyond);
# patterns joining different observables stay skipped.
_PAIRED = re.compile(
    r"^\[network-traffic:(?P<dir>dst|src)_ref\.type ?= ?'(?P<type>ipv4-addr|ipv6-addr|domain-name)'"
    r" AND network-traffic:(?P=dir)_ref\.value ?= ?'(?P<value>(?:[^'\\]|\\['\\])*)'"
    r"(?: AND network-traffic:(?P=dir)_port ?= ?(?P<q>'?)(?P<port>[0-9]{1,5})(?P=q))?"
    r"(?: AND network-traffic:protocols\[\*\] ?= ?'(?P<protocol>[a-z0-9-]{1,32})')?\]$"
)
_KEYWORDS_OUTSIDE_QUOTES = re.compile(r"\b(?:AND|FOLLOWEDBY|NOT|WITHIN|REPEATS|START|STOP)\b")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")


def pattern_values(pattern: str, *, simple_only: bool = False) -> tuple[Value, ...]:
    """The values an indicator pattern compares (see `values_of` for `simple_only`)."""
    m = _ONE_COMPARISON.match(pattern)
    if m is not None:
        stype, path, raw = m.groups()
        return tuple(_comparison(stype, path.split(".", 1), "=", raw))
    paired = _paired(pattern)
    if paired is not None:
        return paired
    return _parsed_values(pattern, simple_only)


def _paired(pattern: str) -> tuple[Value, ...] | None:
    """The address of a network-traffic pattern naming it (alone, or with a port or protocol), or None
    for any other pattern."""
    if not pattern.startswith("[network-traffic:"):
        return None
    m = _PAIRED.match(pattern)
    if m is None:
        return None
    port = int(m["port"]) if m["port"] is not None else None
    if port is not None and port > 65535:
        return None
    return tuple(
        Value(v.kind, v.stix_type, v.value, in_pattern=True, port=port)
        for v in _comparison(m["type"], ["value"], "=", m["value"])
    )


@lru_cache(maxsize=4096)
def _parsed_values(pattern: str, simple_only: bool) -> tuple[Value, ...]:
    from stix2patterns.v21.pattern import Pattern

    if simple_only and _KEYWORDS_OUTSIDE_QUOTES.search(_QUOTED.sub("''", pattern)):
        return ()
    try:
        data = Pattern(pattern).inspect()
    except Exception:  # the validator raises several types; an unparsable pattern has no values
        return ()
    out: list[Value] = []
    for stype, comparisons in data.comparisons.items():
        for path, op, literal in comparisons:
            if not isinstance(literal, str) or not (literal.startswith("'") and literal.endswith("'")):
                if simple_only:
                    return ()
                continue
            raw = literal[1:-1]
            if op not in ("=", "ISSUBSET") or (simple_only and op != "="):
                if simple_only:
                    return ()
                continue
            found = list(_comparison(stype, [str(p) for p in path], op, raw))
            if simple_only and not found:
                return ()
            out.extend(found)
    return tuple(out)


def _comparison(stype: str, path: list[str], op: str, raw: str) -> Iterator[Value]:
    value = raw.replace("\\'", "'").replace("\\\\", "\\")
    if not _text(value):
        return
    if stype in VALUE_TYPES and path == ["value"]:
        if op == "=" or (op == "ISSUBSET" and VALUE_TYPES[stype] == "ip"):
            yield Value(VALUE_TYPES[stype], stype, _normalised(VALUE_TYPES[stype], value), in_pattern=True)
    elif stype in HASHED_TYPES and len(path) == 2 and path[0] == "hashes" and op == "=":
        alg = algorithm_name(path[1])
        if alg is not None:
            yield Value("hash", stype, _normalised("hash", value), alg, True)


def _normalised(kind: Kind, raw: str) -> str:
    # normalising strips the ends, and with them a trailing vertical tab or NEL: a value holding a
    # control character is kept as it came, so that `problem` sees it and no list carries it
    return raw if _CONTROL.search(raw) else normalise(kind, raw)


def matches(query: Query, value: Value) -> bool:
    """Does `value` answer `query`: the same value, an IP inside a network value, a URL on a domain."""
    if query.kind == "domain" and value.kind == "url":
        return url_host(value.value) == query.text
    if value.kind != query.kind:
        return False
    if value.value == query.text:
        return True
    if query.kind == "ip" and query.network is not None and "/" in value.value:
        net = _ip_or_network(value.value)
        return (
            isinstance(net, ipaddress.IPv4Network | ipaddress.IPv6Network)
            and net.version == query.network.version
            and query.network.subnet_of(net)  # type: ignore[arg-type]
        )
    return query.kind == "email" and value.value.lower() == query.text.lower()


# ---------------------------------------------------------------- what a device list may carry


def problem(v: Value, limits: Limits = DEFAULT_LIMITS) -> str | None:
    """Why `v` may not be a line of a device list, or None when it may.

    An IP value is an address or CIDR of its SCO type's version, no broader than `limits`; a domain is
    IDNA-valid, has a dot and is not a public suffix (the Public Suffix List shipped with the
    `publicsuffixlist` package, ICANN and private sections); a URL has an http, https or ftp scheme and
    a host; a hash is hex of its algorithm's length. No value holds a control character or a Unicode
    line or paragraph separator.
    """
    if v.kind == "ip" and v.stix_type != "ipv6-addr" and _CANONICAL_V4.match(v.value):
        return None  # the common case, without ipaddress
    shown = _show(v.value)
    if _CONTROL.search(v.value):
        return f"{shown} holds a control character or a line separator"
    if v.kind == "ip":
        return _ip_problem(v, shown, limits)
    if v.kind == "domain":
        return _domain_problem(v.value, shown)
    if v.kind == "url":
        return _url_problem(v.value, shown)
    if v.kind == "hash":
        want = _ALGORITHM_LENGTHS.get(v.algorithm or "")
        if want is None or len(v.value) != want or not _HEX.match(v.value):
            return f"{shown} is not an {v.algorithm} hash ({want} hexadecimal digits)"
        return None
    return None


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


def _domain_problem(domain: str, shown: str) -> str | None:
    if len(domain) > 253 or "." not in domain.strip("."):
        return f"{shown} is not a domain name with at least one dot"
    if domain.isascii():
        ascii_name = domain
    else:
        import idna

        try:
            ascii_name = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            return f"{shown} is not a valid internationalised domain name ({str(exc)[:100]})"
    if not all(_ASCII_LABEL.match(label) for label in ascii_name.split(".")):
        return f"{shown} is not a valid domain name (letters, digits and hyphens, labels of 1-63)"
    if _public_suffixes().is_public(ascii_name):
        return f"{shown} is a public suffix: blocking it would block every domain under it"
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
                "Its pattern is not a plain comparison of values (AND, FOLLOWEDBY, qualifiers or other "
                "operators): none of its values goes on a device list, since blocking one side would "
                "block more than the pattern describes."
            ]
    else:
        simple = values_of(obj)
    out = []
    for v in simple:
        why = problem(v, limits)
        listed = benign(v) if benign is not None and why is None else None
        if listed is not None:
            out.append(
                f"{_show(v.value)} is on the known-benign list '{listed}': device lists leave it out "
                "unless a download asks include_flagged=true."
            )
        elif why is None:
            out.append(f"{_show(v.value)} goes on the {v.kind} device list.")
        else:
            out.append(f"{_show(v.value)} is not on any device list: {why}.")
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
