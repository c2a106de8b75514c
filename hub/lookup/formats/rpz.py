"""A DNS response-policy zone (RPZ) from the values device lists take, for BIND, Unbound or PowerDNS.

A domain is blocked with its subdomains (`name CNAME .` and `*.name CNAME .`: NXDOMAIN), an address
or network by the response IP it resolves to (`<prefix>.<reversed address>.rpz-ip CNAME .`, IPv6 with
`zz` for the longest run of zero groups). Owner names are relative: the zone takes the name the
resolver's configuration gives it, unless HUB_RPZ_ORIGIN writes an `$ORIGIN`. URLs and hashes have no
place in a zone. The records are written to a spool file first (bounded memory, on disk past 1 MiB),
so that the SOA at the top can carry a serial that changes only when the records do
(hub.store.zones).
"""

from __future__ import annotations

import hashlib
import ipaddress
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from hub.lookup.downloads import Counter, DownloadFilters, device_values
from hub.lookup.formats.common import ascii_name
from hub.lookup.values import Value
from hub.trust.access import CollectionAccess
from hub.trust.service import Principal

SPOOL_IN_MEMORY = 1024 * 1024
MAX_NAME = 253


@dataclass(frozen=True)
class ZoneSettings:
    """The zone's apex records (HUB_RPZ_*): name server, hostmaster mailbox, TTL and origin."""

    nameserver: str = "localhost."
    hostmaster: str = "hostmaster.localhost."
    ttl: int = 300
    origin: str = ""


def rpz_ip(value: str) -> str | None:
    """The rpz-ip owner name (relative) of an address or network, or None for a value that is neither."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    if net.version == 4:
        octets = str(net.network_address).split(".")
        return f"{net.prefixlen}.{'.'.join(reversed(octets))}.rpz-ip"
    groups = [f"{int(g, 16):x}" for g in net.network_address.exploded.split(":")]
    # the longest run of zero groups (the first of equal runs, as in RFC 5952) becomes "zz"
    best, start = (0, -1), -1
    for i, g in enumerate([*groups, "x"]):
        if g == "0" and start < 0:
            start = i
        elif g != "0" and start >= 0:
            if i - start > best[0]:
                best = (i - start, start)
            start = -1
    if best[0] >= 2:
        n, s = best
        groups = [*groups[:s], "zz", *groups[s + n :]]
    return f"{net.prefixlen}.{'.'.join(reversed(groups))}.rpz-ip"


def owners(v: Value, limit: int) -> list[str]:
    """The owner names blocking `v`, or none for a value a zone does not take."""
    if v.kind == "ip":
        name = rpz_ip(v.value)
        return [name] if name else []
    if v.kind == "domain":
        name = ascii_name(v.value)
        if name is None or len(name) + 2 > limit:
            return []  # with `*.` and the zone's own name it would pass DNS's 255 octets
        return [name, f"*.{name}"]
    return []


def zone(
    session: Session,
    principal: Principal,
    accesses: list[CollectionAccess],
    f: DownloadFilters,
    *,
    group: str,
    settings: ZoneSettings,
    serial_of: Callable[[str], int],
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """`rpz.zone` of what the reader may see in `accesses`; `serial_of(digest)` gives the SOA serial of
    records hashing to `digest`."""
    limit = MAX_NAME - (len(settings.origin.rstrip(".")) + 1 if settings.origin else 64)
    digest = hashlib.sha256()
    seen: set[str] = set()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        lines: list[str] = []
        for row, v in device_values(session, principal, accesses, f):
            for name in owners(v, limit):
                if name in seen:
                    continue
                seen.add(name)
                lines.append(f"{name} CNAME .")
                if counter is not None:
                    counter.add(row.access.collection.id)
            if len(lines) >= 500:
                chunk = ("\n".join(lines) + "\n").encode()
                digest.update(chunk)
                spool.write(chunk)
                lines = []
        if lines:
            chunk = ("\n".join(lines) + "\n").encode()
            digest.update(chunk)
            spool.write(chunk)
        del seen
        serial = serial_of(digest.hexdigest())
        head = [f"; response-policy zone of trust group {group}, from the hub's device values"]
        if settings.origin:
            head.append(f"$ORIGIN {settings.origin}")
        head += [
            f"$TTL {settings.ttl}",
            f"@ SOA {settings.nameserver} {settings.hostmaster} {serial} 3600 600 864000 {settings.ttl}",
            f"@ NS {settings.nameserver}",
        ]
        yield ("\n".join(head) + "\n").encode()
        spool.seek(0)
        while True:
            block = spool.read(64 * 1024)
            if not block:
                break
            yield block


def now_s() -> int:
    """The time in whole seconds (a new serial's floor)."""
    return int(time.time())
