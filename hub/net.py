"""The outbound address guard: what a feed a coordinator declared may connect to.

A feed runs on the hub's own machine, so a URL a coordinator types would otherwise reach whatever the
hub reaches: its database, its metrics port, the cloud's metadata service, the CIRT's intranet. The
guard lets such a feed reach the public internet only. It resolves the host itself and refuses the
connection when ANY address is loopback, private, link-local, CGNAT (100.64/10), multicast, unspecified,
reserved, benchmarking or documentation space, in its IPv4 or IPv6 form (IPv4-mapped ::ffff:a.b.c.d,
6to4 2002::/16 and NAT64 64:ff9b::/96 are judged by the IPv4 address they carry), or one of the hub's
own listeners. The check happens when the connection is made, and the connection goes to the very
address that was checked (TLS still verifies and sends the URL's host name), so a name that resolves
to a public address when the feed is declared and to 127.0.0.1 when it runs (DNS rebinding) is
refused; every redirect hop opens a new connection and is checked the same way.

The operator names internal upstreams that coordinator feeds may reach with `HUB_OUTBOUND_ALLOW`:
host names (exact, case-insensitive) and addresses or networks (CIDR), comma-separated. The hub's own
listeners stay refused even when allowed.

Refusals raise `OutboundRefused`; what a coordinator is shown of them (and of any other failure to
connect) is one message, so the feed cannot be used to tell which internal names and ports exist.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

NAT64 = ipaddress.ip_network("64:ff9b::/96")
WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})  # noqa: S104 - listeners on every address
# the one message a coordinator sees for a refused address and for any failure to connect
UNREACHABLE = "could not fetch the source (no connection: not resolved, refused, unreachable or not public)"


class OutboundRefused(OSError):
    """A connection the guard refused; the message (for the operator's log) says why."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver; numeric spellings like 127.1 included)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, 6to4, NAT64), or None."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """True for an address on the public internet (global unicast, not reserved, not multicast)."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return is_public(inner)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def literal_address(host: str) -> IPAddress | None:
    """The address a host spells without DNS (127.0.0.1, 127.1, 0x7f000001, 2130706433, ::1), or None."""
    h = host.strip("[]")
    try:
        return ipaddress.ip_address(h.split("%", 1)[0])
    except ValueError:
        pass
    try:  # inet_aton's historic spellings, as the system resolver reads them
        return ipaddress.IPv4Address(socket.inet_aton(h))
    except (OSError, UnicodeError, ValueError):
        return None


def is_local_name(host: str) -> bool:
    """localhost and *.localhost, which always mean this machine (RFC 6761)."""
    h = host.lower().rstrip(".")
    return h == "localhost" or h.endswith(".localhost")


def parse_allow(value: str) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """HUB_OUTBOUND_ALLOW as (host names, networks); ValueError naming a bad entry."""
    hosts: set[str] = set()
    nets: list[IPNetwork] = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = entry.lower().rstrip(".")
        if not name or any(c in name for c in "/:@ ") or not name.isascii():
            raise ValueError(f"{entry!r} is neither a host name nor an address or network (CIDR)")
        hosts.add(name)
    return frozenset(hosts), tuple(nets)


def _listener(host: str | None, port: int | None) -> set[tuple[str | None, int | None]]:
    if not host:
        return set()
    return {(None if host in WILDCARDS else host.strip("[]").lower(), port)}


@dataclass
class OutboundGuard:
    """Decides whether a feed may connect to a host, and to which of its addresses.

    `resolve` is the resolver used at connect time (injectable, so a test can play DNS rebinding);
    `own` holds the hub's own listeners as (host or None for every address, port or None for any).
    """

    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()
    own: set[tuple[str | None, int | None]] = field(default_factory=set)
    resolve: Resolver = system_resolver

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, resolve: Resolver | None = None) -> OutboundGuard:
        """The guard the hub's settings describe: HUB_OUTBOUND_ALLOW, and the listeners of HUB_HOST and
        HUB_PORT, HUB_METRICS_HOST and HUB_METRICS_PORT, and HUB_PUBLIC_URL."""
        hosts, nets = parse_allow(environ.get("HUB_OUTBOUND_ALLOW", ""))
        own: set[tuple[str | None, int | None]] = set()
        own |= _listener(environ.get("HUB_HOST", "127.0.0.1"), _port(environ.get("HUB_PORT", "8000")))
        if environ.get("HUB_METRICS_PORT"):
            own |= _listener(environ.get("HUB_METRICS_HOST", "127.0.0.1"), _port(environ["HUB_METRICS_PORT"]))
        public = environ.get("HUB_PUBLIC_URL", "")
        if public:
            parts = urlsplit(public)
            if parts.hostname:
                own.add((parts.hostname.lower(), None))
        return cls(hosts, nets, own, resolve or system_resolver)

    def allowed_by_operator(self, host: str, ip: IPAddress | None) -> bool:
        """True when HUB_OUTBOUND_ALLOW names the host or a network holding the address."""
        if host.lower().rstrip(".") in self.allow_hosts:
            return True
        return ip is not None and any(ip in net for net in self.allow_networks if net.version == ip.version)

    def _own(self, host: str, ip: IPAddress, port: int) -> bool:
        for own_host, own_port in self.own:
            if own_port is not None and own_port != port:
                continue
            if own_host is None or own_host == host.lower().rstrip("."):
                return True
            own_ip = literal_address(own_host)
            if own_ip is not None and own_ip == ip:
                return True
        return False

    def check(self, host: str, ip: IPAddress, port: int) -> None:
        """Refuse one address of `host` (OutboundRefused), unless it is public or allowed."""
        if self._own(host, ip, port):
            raise OutboundRefused(f"{host} ({ip}) port {port} is one of the hub's own listeners")
        if self.allowed_by_operator(host, ip):
            return
        if not is_public(ip):
            raise OutboundRefused(f"{host} resolves to {ip}, which is not a public address")

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for host:port, every one checked; OutboundRefused otherwise."""
        h = host.strip("[]")
        if is_local_name(h) and not self.allowed_by_operator(h, None):
            raise OutboundRefused(f"{h} names this machine")
        literal = literal_address(h)
        if literal is not None:
            resolved = [str(literal)]
        else:
            try:
                resolved = self.resolve(h, port)
            except (OSError, UnicodeError) as exc:
                raise OutboundRefused(f"{h} does not resolve: {exc}") from None
        if not resolved:
            raise OutboundRefused(f"{h} resolves to no address")
        for a in resolved:  # every address: one internal answer among public ones refuses the host
            self.check(h, ipaddress.ip_address(a.split("%", 1)[0]), port)
        return resolved

    def connect(
        self, host: str, port: int, timeout: float | None, source_address: tuple[str, int] | None = None
    ) -> socket.socket:
        """A TCP connection to a vetted address of host:port (the first one that answers)."""
        last: OSError | None = None
        for a in self.addresses(host, port):
            try:
                return socket.create_connection((a, port), timeout, source_address=source_address)
            except OSError as exc:
                last = exc
        raise last or OutboundRefused(f"{host}: no address answered")

    def check_url(self, url: str) -> str | None:
        """Why a URL can never be fetched (scheme, or a host that spells a non-public address without
        DNS), or None; host names are judged when the feed connects."""
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https"):
            return "the URL is not http(s)"
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            return "the URL's port is not a number"
        host = parts.hostname or ""
        if not host:
            return "the URL has no host"
        if is_local_name(host) and not self.allowed_by_operator(host, None):
            return f"{host} names the hub's own machine"
        ip = literal_address(host)
        if ip is not None:
            try:
                self.check(host, ip, port)
            except OutboundRefused:
                return f"{host} is not a public address"
        elif any(own_host == host.lower().rstrip(".") for own_host, _ in self.own):
            return f"{host} is the hub itself"
        return None


def _port(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
