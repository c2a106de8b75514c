"""The known-benign guard: values no member's device should block (public resolvers, private ranges,
big providers' domains, the empty file's hashes), kept off device lists unless a download asks.

Lists come from MISP's warninglists (CC0) as the `pymispwarninglists` package ships them (package
data: nothing is downloaded at run time), plus the hub's own list of special-use addresses. Matching:
exact values (hashes), CIDR containment both ways (an address inside a listed network, or a network
holding a listed address), a listed host and its subdomains, URLs by their host.
"""

from __future__ import annotations

import bisect
import ipaddress
import json
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from hub.lookup.values import CANONICAL_V4_NET, DEFAULT_LIMITS, Limits, Value, url_host

# MISP warninglists taken by default: the values of issue 18's observation 2 and their kin
DEFAULT_WARNINGLISTS = (
    "empty-hashes",
    "public-dns-v4",
    "public-dns-v6",
    "public-dns-hostname",
    "rfc1918",
    "google",
    "microsoft",
)
# addresses no device blocks: loopback, unspecified, link-local, broadcast (the RFC 5735 list would
# also take the documentation networks, which examples and tests use as stand-ins for real ones)
HUB_SPECIAL = (
    "hub special-use addresses",
    ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "255.255.255.255/32", "::/128", "::1/128", "fe80::/10"),
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_DOTTED = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}\Z")
_HOSTLIKE = re.compile(r"^[a-z0-9_.-]*[a-z_-][a-z0-9_.-]*\Z")  # a letter, no ':' or '/': no address


def _v4(text: str) -> int | None:
    """A dotted-quad IPv4 address as an integer, without ipaddress (the lists hold ~100k of them)."""
    if not _DOTTED.match(text):
        return None
    try:
        return int.from_bytes(socket.inet_aton(text), "big")
    except OSError:
        return None


@dataclass
class BenignIndex:
    """Benign values by kind, each with the name of the list that holds it."""

    exact: dict[str, str] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)
    # per IP version: {(prefixlen, network int): name}, and the sorted network starts for the
    # "a value network holds a listed one" direction
    networks: dict[int, dict[tuple[int, int], str]] = field(default_factory=lambda: {4: {}, 6: {}})
    starts: dict[int, list[tuple[int, int, str]]] = field(default_factory=lambda: {4: [], 6: []})
    prefixes: dict[int, set[int]] = field(default_factory=lambda: {4: set(), 6: set()})

    def add(self, name: str, entries: Iterable[str]) -> None:
        """Add one list's entries (addresses, networks, host names or exact values)."""
        for raw in entries:
            entry = raw.strip().lower()
            if "://" in entry:
                entry = url_host(entry) or ""  # a listed URL stands for its host, as URLs are matched
            if not entry:
                continue
            address = _v4(entry)
            if address is not None:
                self._network(4, 32, address, address, name)
                continue
            net = None
            if not _HOSTLIKE.match(entry):
                try:
                    net = ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    net = None
            if net is None:
                host = entry.lstrip(".").rstrip(".")
                self.exact.setdefault(entry, name)
                if "." in host:
                    self.hosts.setdefault(host, name)
                continue
            self._network(
                net.version, net.prefixlen, int(net.network_address), int(net.broadcast_address), name
            )

    def _network(self, version: int, plen: int, first: int, last: int, name: str) -> None:
        self.networks[version].setdefault((plen, first), name)
        self.prefixes[version].add(plen)
        self.starts[version].append((first, last, name))

    def finish(self) -> BenignIndex:
        """Sort what the lookups bisect."""
        for version in (4, 6):
            self.starts[version].sort()
        return self

    def match(self, v: Value) -> str | None:
        """The name of a list holding `v` (or overlapping it, for networks), or None."""
        if v.kind == "ip":
            return self._ip(v.value)
        if v.kind == "hash":
            return self.exact.get(v.value)
        if v.kind == "domain":
            return self._host(v.value)
        if v.kind == "url":
            host = url_host(v.value)
            return self._host(host) if host else None
        return None

    def _host(self, host: str) -> str | None:
        """The list holding `host` or a parent of it with at least two labels (a list never holds a
        whole TLD's names). Suffixes by slicing at each dot: every value of a device list is asked."""
        dot = host.find(".")
        if dot < 0:
            return None
        hosts = self.hosts
        hit = hosts.get(host)
        while hit is None:
            nxt = host.find(".", dot + 1)
            if nxt < 0:  # what remains is one label
                return None
            hit = hosts.get(host[dot + 1 :])
            dot = nxt
        return hit

    def _ip(self, value: str) -> str | None:
        address = _v4(value)
        if address is not None:
            return self._within(4, 32, 32, address, address)
        m = CANONICAL_V4_NET.match(value)
        if m is not None:  # a canonical IPv4 network (most of a device list's): as ipaddress reads it
            plen = int(m.group(1))
            mask = ((1 << plen) - 1) << (32 - plen) if plen else 0
            start = int.from_bytes(socket.inet_aton(value[: value.index("/")]), "big") & mask
            return self._within(4, 32, plen, start, start | (~mask & 0xFFFFFFFF))
        try:
            net: Network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return None
        return self._within(
            net.version,
            net.max_prefixlen,
            net.prefixlen,
            int(net.network_address),
            int(net.broadcast_address),
        )

    def _within(self, version: int, bits: int, prefixlen: int, start: int, end: int) -> str | None:
        # a listed network holding the value
        for plen in self.prefixes[version]:
            if plen <= prefixlen:
                mask = ((1 << plen) - 1) << (bits - plen) if plen else 0
                hit = self.networks[version].get((plen, start & mask))
                if hit is not None:
                    return hit
        # a listed network inside the value (the value is the broader one)
        starts = self.starts[version]
        i = bisect.bisect_left(starts, (start, -1, ""))
        if i < len(starts) and starts[i][0] <= end:
            return starts[i][2]
        return None


def _warninglist(name: str) -> list[str]:
    base = resources.files("pymispwarninglists") / "data" / "misp-warninglists" / "lists" / name / "list.json"
    doc = json.loads(base.read_text(encoding="utf-8"))
    return [str(e) for e in doc.get("list", [])]


@lru_cache(maxsize=1)
def default_index() -> BenignIndex:
    """The default lists, read once per process from the installed package's data."""
    index = BenignIndex()
    index.add(*HUB_SPECIAL)
    for name in DEFAULT_WARNINGLISTS:
        index.add(f"MISP warninglist {name}", _warninglist(name))
    return index.finish()


_operator: BenignIndex | None = None  # the operator's lists (HUB_BENIGN_LISTS), for every group


class OperatorListError(ValueError):
    """An operator list file cannot be read."""


def read_list_file(path: Path) -> list[str]:
    """The values of a list file: one a line, `#` starts a comment, blank lines skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OperatorListError(f"known-benign list {str(path)!r} cannot be read: {exc}") from None
    out = []
    for line in text.splitlines():
        entry = line.partition("#")[0].strip()
        if entry:
            out.append(entry)
    return out


def use_operator_lists(paths: Iterable[str]) -> None:
    """Load the operator's lists (paths of text files; each list is named by its file name), replacing
    any loaded before; they apply to every group. Raises OperatorListError for an unreadable file."""
    global _operator
    found = [p for p in (str(x).strip() for x in paths) if p]
    if not found:
        _operator = None
        return
    index = BenignIndex()
    for raw in found:
        path = Path(raw)
        index.add(f"operator list {path.name}", read_list_file(path))
    _operator = index.finish()


def benign_list(v: Value) -> str | None:
    """The known-benign list holding `v` (the package lists, the hub's, the operator's), or None."""
    hit = default_index().match(v)
    if hit is None and _operator is not None:
        hit = _operator.match(v)
    return hit


BenignMode = Literal["flag", "refuse"]
BENIGN_MODES: tuple[BenignMode, ...] = ("flag", "refuse")


@dataclass(frozen=True)
class Guard:
    """What one group's device lists take: its IP prefix minimums, its own known-benign list on top of
    the hub-wide ones, and what ingest does with a value on any of them (`refuse` it, naming the list,
    or `flag` it: stored, left off device lists unless a download asks include_flagged=true)."""

    limits: Limits = DEFAULT_LIMITS
    mode: BenignMode = "flag"
    own: BenignIndex | None = None
    tag: str = ""  # changes with the settings and the own list (download ETags include it)

    def listed(self, v: Value) -> str | None:
        """The active list holding `v`, or None."""
        hit = benign_list(v)
        if hit is None and self.own is not None:
            hit = self.own.match(v)
        return hit


DEFAULT_GUARD = Guard()
