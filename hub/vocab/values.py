"""Indicator values, the vocabulary the hub and its connectors share: refanging, parsing a searched value,
canonical forms, the values an object or a STIX pattern carries, and the keys the value index stores.

A value is what a firewall, a resolver or an analyst looks up: an IP address or network, a domain name,
a URL, an email address or a file hash. Values come from cyber-observables (`ipv4-addr.value`,
`file.hashes`, ...) and from the comparisons of STIX indicator patterns.

Pure: nothing here imports the hub outside `hub.vocab`, so connectors import it as they are.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Literal, NamedTuple

from hub.vocab.words import Phrase

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
# the refanging people and feeds apply to values (reports, MISP, abuse.ch, IntelMQ, free text), so a
# value written one way is stored, searched and listed as the same value: one table for everyone
_REFANG = re.compile(
    r"^hxxps|^hxxp|^fxp|\[://\]|\[:\]|\(:\)|\[/\]|\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\s\.\s"
    r"|\[@\]|\(@\)|\[at\]|\(at\)|\s@\s",
    re.IGNORECASE,
)
_REFANGED = {
    "hxxps": "https",
    "hxxp": "http",
    "fxp": "ftp",
    "[://]": "://",
    "[:]": ":",
    "(:)": ":",
    "[/]": "/",
    "[.]": ".",
    "(.)": ".",
    "{.}": ".",
    "[dot]": ".",
    "(dot)": ".",
    "[@]": "@",
    "(@)": "@",
    "[at]": "@",
    "(at)": "@",
    ".": ".",  # " . " with spaces around
    "@": "@",
}
_DEFANG_MARKS = re.compile(r"[\[({]|\s[.@]\s|^(?:hxx|fxp)", re.IGNORECASE)


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
    """Undo the usual defanging (`hxxps://evil[.]example[/]x`, `http[://]`, `a[at]b(.)c`, `1.2.3(:)80`)
    and strip the spaces, quotes and angle brackets around a pasted value."""
    out = text.strip().strip("'\"<>`").strip()
    if _DEFANG_MARKS.search(out) is None:
        return out  # the common value, already plain
    return _REFANG.sub(lambda m: _REFANGED[m.group(0).strip().lower()], out)


def parse_query(raw: str) -> Query:
    """Read a searched value: a hash, an IP address or network, a URL, an email address or a domain."""
    if len(raw) > MAX_QUERY_LENGTH:
        raise QueryError(Phrase("The search text is over {limit} characters.", limit=MAX_QUERY_LENGTH))
    text = refang(raw)
    if not text:
        raise QueryError(
            Phrase("Type a value to search for: an IP address, a domain, a URL, an email or a hash.")
        )
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
        Phrase(
            "'{value}' is not a value the hub looks up: search for an IP address or network, a "
            "domain name, a URL, an email address, or an MD5, SHA-1, SHA-256 or SHA-512 hash.",
            value=raw.strip()[:100],
        )
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


# ---------------------------------------------------------------- the keys of the value index


def value_key(kind: Kind, value: str) -> bytes:
    """The 16-byte key a value is found by in the value index: the same for every spelling of one value
    (after `normalise`; emails compare without case)."""
    text = value.lower() if kind == "email" else value
    return hashlib.blake2b(f"{kind}\x00{text}".encode(), digest_size=16).digest()


_V4_MAPPED = b"\x00" * 10 + b"\xff\xff"


def ip_range(value: str) -> tuple[bytes, bytes] | None:
    """The first and last address of an IP address or CIDR as 16-byte big-endian strings (IPv4 mapped
    into ::ffff:0:0/96), so containment is a comparison of bytes on every database; None for text that
    is no address or network."""
    if _CANONICAL_V4.match(value):  # the common value, without ipaddress
        packed = _V4_MAPPED + socket.inet_aton(value)
        return packed, packed
    ip = _ip_or_network(value) if "%" not in value else None
    if ip is None:
        return None
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        ip = ipaddress.ip_network(ip)
    return _packed(ip.network_address), _packed(ip.broadcast_address)


def _packed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    return _V4_MAPPED + ip.packed if ip.version == 4 else ip.packed


def enclosing_ranges(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[tuple[bytes, bytes]]:
    """The ranges of every network containing `network` (itself included), from /0 down: a stored value
    holds `network` exactly when its range is one of them, since stored values are addresses and CIDRs."""
    # integer arithmetic, not `supernet` (which builds two address objects a prefix length: 33 for an
    # IPv4 search, 129 for IPv6, a third of a search's CPU on SQLite)
    bits = network.max_prefixlen
    full = (1 << bits) - 1
    first = int(network.network_address)
    prefix = _V4_MAPPED if network.version == 4 else b""
    out = []
    for n in range(network.prefixlen + 1):
        host = full >> n  # the host bits of a /n
        lo = first & ~host
        out.append((prefix + lo.to_bytes(bits // 8, "big"), prefix + (lo | host).to_bytes(bits // 8, "big")))
    return out


def host_key(host: str) -> bytes:
    """A domain name's labels reversed and closed by a dot (`www.example.org` -> b`org.example.www.`):
    every name under a domain then sorts between `host_key(domain)` and `suffix_end(domain)`."""
    labels = host.lower().rstrip(".").split(".")
    return (".".join(reversed(labels)) + ".").encode()


def suffix_end(domain: str) -> bytes:
    """The first key after every name under `domain` (its `host_key` with the closing dot raised to "/")."""
    return host_key(domain)[:-1] + b"/"


class Entry(NamedTuple):
    """One row of the value index for one value of one object version."""

    kind: Kind
    stix_type: str
    value: str
    algorithm: str | None
    port: int | None
    in_pattern: bool
    simple: bool  # a device list may carry it (`values_of(..., simple_only=True)` gives it)
    key: bytes
    lo: bytes | None
    hi: bytes | None
    host: bytes | None


# an Entry from a tuple of its fields, without NamedTuple's keyword-handling constructor
_new_entry: Callable[[tuple[Any, ...]], Entry] = partial(tuple.__new__, Entry)

INDEXED_TYPES = frozenset(VALUE_TYPES) | HASHED_TYPES | {"indicator"}


def index_entries(obj: Mapping[str, Any]) -> list[Entry]:
    """The value-index rows of an object: each value it carries (`values_of`), once, in canonical form.

    The forms nearly every object takes (an observable with a `value`, an indicator whose pattern is one
    equality comparison) are read here directly, without building `Value`s, sets of them or running the
    pattern parser; they give exactly what `_general_entries` gives (tests/store/test_values.py holds the
    two equal on generated objects). Everything else goes the general way.
    """
    stype = obj.get("type")
    if stype == "indicator":
        pattern = obj.get("pattern")
        if obj.get("pattern_type") == "stix" and isinstance(pattern, str):
            m = _ONE_COMPARISON.match(pattern)
            if m is not None:
                return _one_comparison_entries(*m.groups())
    elif isinstance(stype, str) and stype in VALUE_TYPES:
        v = obj.get("value")
        if not isinstance(v, str) or not _text(v):
            return []
        kind = VALUE_TYPES[stype]
        return [_entry(kind, stype, _normalised(kind, v), None, None, False, True)]
    return _general_entries(obj)


def _one_comparison_entries(stype: str, path: str, raw: str) -> list[Entry]:
    """`_comparison` of a pattern of one equality comparison, as index rows (every one simple)."""
    value = raw.replace("\\'", "'").replace("\\\\", "\\") if "\\" in raw else raw
    if not _text(value):
        return []
    if path == "value":
        kind = VALUE_TYPES.get(stype)
        if kind is None:
            return []
        if kind == "ip" and _CANONICAL_V4.match(value):  # the common value: canonical as it is
            packed = _V4_MAPPED + socket.inet_aton(value)
            key = hashlib.blake2b(b"ip\x00" + value.encode(), digest_size=16).digest()
            return [_new_entry(("ip", stype, value, None, None, True, True, key, packed, packed, None))]
        return [_entry(kind, stype, _normalised(kind, value), None, None, True, True)]
    if stype in HASHED_TYPES:  # path is hashes.<algorithm> (the regex takes nothing else)
        alg = algorithm_name(path[7:])
        if alg is not None:
            return [_entry("hash", stype, _normalised("hash", value), alg, None, True, True)]
    return []


def _general_entries(obj: Mapping[str, Any]) -> list[Entry]:
    """`index_entries` for any object, through `values_of` and the pattern parser where needed."""
    every = values_of(obj)
    if not every:
        return []
    pattern = obj.get("pattern") if obj.get("type") == "indicator" else None
    if isinstance(pattern, str) and _ONE_COMPARISON.match(pattern) is None and _paired(pattern) is None:
        simple_set = set(pattern_values(pattern, simple_only=True))
    else:  # an observable, or a pattern of one comparison (or an address and its port): all plain
        simple_set = set(every)
    out: list[Entry] = []
    seen: set[tuple[str, str, str, str | None, int | None]] = set()
    for v in every:
        k = (v.kind, v.stix_type, v.value, v.algorithm, v.port)
        if k in seen:
            continue
        seen.add(k)
        out.append(_entry(v.kind, v.stix_type, v.value, v.algorithm, v.port, v.in_pattern, v in simple_set))
    return out


def _entry(
    kind: Kind,
    stix_type: str,
    value: str,
    algorithm: str | None,
    port: int | None,
    in_pattern: bool,
    simple: bool,
) -> Entry:
    lo = hi = host = None
    if kind == "ip":
        found = ip_range(value)
        if found is not None:
            lo, hi = found
    elif kind == "domain":
        host = host_key(value)
    elif kind == "url":
        h = url_host(value)
        host = host_key(h) if h else None
    return _new_entry(
        (kind, stix_type, value, algorithm, port, in_pattern, simple, value_key(kind, value), lo, hi, host)
    )


def query_key(query: Query) -> bytes:
    """The index key of a searched value."""
    return value_key(query.kind, query.text)
