"""Constituency matching: which values fall in which organisation's confirmed constituency.

`RuleIndex` answers "whose constituency holds this value, by which rule" in a few dictionary lookups
per value, whatever the number of organisations and entries: networks are keyed by (IP version, prefix
length, network number), so an address is looked up once per prefix length in use; domains by
suffix, so a name is looked up once per label. Values are compared as the value index compares them
(hub.store.values): IP values inside a network, domains and URL hosts on a domain or under it. The
matcher (`hub.sync.notify`) builds one index of every organisation's rules; the inside view one of
the reader's own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hub.trust.constituency import Rule
from hub.vocab.values import index_entries, url_host


@dataclass(frozen=True)
class Hit:
    """A value of an object that fell in a constituency, and the rule it fell under."""

    org_id: int
    value: str
    rule: str


def parse_ip(text: str) -> tuple[int, int, int] | None:
    """(IP version, the network number, the prefix length) of an address or CIDR, or None; a dotted
    quad is read without `ipaddress`, which costs ten times more (a matcher reads every new value)."""
    addr, _, length = text.partition("/")
    if ":" not in addr:
        parts = addr.split(".")
        if len(parts) == 4 and addr.isascii() and addr.replace(".", "").isdigit():
            a, b, c, d = map(int, parts)
            bits = int(length) if length.isascii() and length.isdigit() else 32 if not length else 99
            if a <= 255 and b <= 255 and c <= 255 and d <= 255 and bits <= 32:
                number = (a << 24) | (b << 16) | (c << 8) | d
                return 4, number >> (32 - bits) << (32 - bits), bits
        return None
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return net.version, int(net.network_address), net.prefixlen


class RuleIndex:
    """Constituency rules of one or many organisations, looked up by value."""

    def __init__(self, rules: Iterable[Rule]):
        self.nets: dict[tuple[int, int], dict[int, list[Rule]]] = {}
        self.suffixes: dict[str, list[Rule]] = {}
        self.size = 0
        for r in rules:
            self.size += 1
            if r.network is not None:
                parsed = parse_ip(r.network)
                if parsed is None:
                    continue
                version, number, length = parsed
                bits = (32 if version == 4 else 128) - length
                self.nets.setdefault((version, length), {}).setdefault(number >> bits, []).append(r)
            elif r.suffix is not None:
                self.suffixes.setdefault(r.suffix, []).append(r)
        self.lengths = {v: sorted(length for (ver, length) in self.nets if ver == v) for v in (4, 6)}

    def __bool__(self) -> bool:
        return self.size > 0

    def _ip(self, text: str) -> Iterator[Rule]:
        parsed = parse_ip(text)
        if parsed is None:
            return
        version, number, most = parsed
        top = 32 if version == 4 else 128
        for length in self.lengths[version]:
            if length > most:  # a value broader than the rule's network is not inside it
                break
            found = self.nets[(version, length)].get(number >> (top - length))
            if found:
                yield from found

    def _domain(self, name: str) -> Iterator[Rule]:
        labels = name.lower().rstrip(".").split(".")
        for i in range(len(labels)):
            found = self.suffixes.get(".".join(labels[i:]))
            if found:
                yield from found

    def rules_for(self, kind: str, value: str) -> Iterator[Rule]:
        """The rules an indexed value falls under, as the value index compares them: an address or
        network inside a network, a domain or a URL's host on a domain or under it."""
        if kind == "ip":
            yield from self._ip(value)
        elif kind == "domain":
            yield from self._domain(value)
        elif kind == "url":
            host = url_host(value)
            if host:
                yield from self._domain(host)

    def hits(self, values: Iterable[tuple[str, str]]) -> list[Hit]:
        """Each (organisation, value) among these (kind, value) pairs that falls in a constituency, with
        the first rule it falls under."""
        out: dict[tuple[int, str], Hit] = {}
        for kind, value in values:
            for r in self.rules_for(kind, value):
                out.setdefault((r.org_id, value), Hit(r.org_id, value, r.label))
        return list(out.values())

    def networks(self) -> list[str]:
        """Every network of the index (CIDR text)."""
        return sorted(
            {str(r.network) for rules in self.nets.values() for rs in rules.values() for r in rs if r.network}
        )

    def domains(self) -> list[str]:
        """Every domain suffix of the index."""
        return sorted(self.suffixes)


def hits_of(obj: Mapping[str, Any], idx: RuleIndex) -> list[Hit]:
    """The hits of an object's values as the value index holds them (hub.vocab.values.index_entries)."""
    return idx.hits((e.kind, e.value) for e in index_entries(obj))
