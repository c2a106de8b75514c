"""Constituency use cases: an organisation declares its networks, ASNs, domains and ccTLDs; a platform
admin or a coordinator of one of its groups confirms them; only confirmed entries ever match.

Who may do what (the admin API, the CLI, the console and the trust YAML all call these functions):
- declare: the organisation itself (a key or account of it) or a platform admin;
- confirm: a platform admin, or a coordinator of a group the organisation is a member of, never the
  organisation itself (a vendor cannot claim a country's networks by confirming its own declaration);
- read: the organisation, platform admins, and the coordinators of its groups.
Anyone else gets the answer an unknown organisation gets (404), so nothing tells which organisations
exist or where they are members.

ASNs expand to the prefixes of the operator's ASN file (`load_asn_data`): pyasn's IPASN format
(`prefix<TAB>asn`, `;` comments) or RIR extended delegated statistics (an ASN and the IP ranges of the
same holder share an opaque id). No network access at run time.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from hub.errors import Forbidden, NotFound, Unprocessable
from hub.trust.constituency_models import AsnPrefix, ConstituencyEntry
from hub.trust.manage import audit, coordinated_groups, find_organisation
from hub.trust.models import Membership, Organisation
from hub.trust.service import Principal

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
KINDS = ("network", "asn", "domain", "cctld")
MAX_ENTRIES = 20_000  # per organisation and declaration
# the broadest network one organisation may declare: nobody's constituency is a /7
MIN_IPV4_PREFIX = 8
MIN_IPV6_PREFIX = 16
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")
_CCTLD = re.compile(r"^[a-z]{2}$")
_ASN = re.compile(r"^(?:as)?(\d{1,10})$", re.IGNORECASE)


def _now_us() -> int:
    return time.time_ns() // 1000


# ---------------------------------------------------------------- parsing


def parse_network(text: str) -> IPNetwork:
    """A declared network in canonical form; ValueError saying why it cannot be one."""
    raw = str(text).strip()
    try:
        net = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise ValueError(f"'{raw[:64]}' is not an IPv4 or IPv6 network (CIDR) or address") from None
    least = MIN_IPV4_PREFIX if net.version == 4 else MIN_IPV6_PREFIX
    if net.prefixlen < least:
        raise ValueError(f"{net} is broader than /{least}: no constituency spans that much")
    if not net.network_address.is_global or net.network_address.is_multicast:
        raise ValueError(f"{net} is not public address space")
    return net


def parse_asn(value: Any) -> int:
    """A declared AS number (`36866` or `AS36866`); ValueError otherwise."""
    m = _ASN.match(str(value).strip())
    if not m or not 0 < int(m.group(1)) < 2**32:
        raise ValueError(f"'{str(value)[:64]}' is not an AS number (1 to 4294967295, as 64500 or AS64500)")
    return int(m.group(1))


def parse_domain(text: str) -> tuple[str, str]:
    """A declared domain (with its subdomains) or ccTLD (`.ke` or `ke`) as (kind, canonical value)."""
    raw = str(text).strip()
    value = raw.lower().rstrip(".")
    if value.startswith("*."):
        value = value[2:]
    value = value.lstrip(".")
    try:
        value = value.encode("idna").decode("ascii") if not value.isascii() else value
    except UnicodeError:
        raise ValueError(f"'{raw[:64]}' is not a domain name") from None
    if _CCTLD.match(value):
        return "cctld", value
    if len(value) > 253 or not _DOMAIN.match(value):
        raise ValueError(
            f"'{raw[:64]}' is neither a domain name (example.ke, with its subdomains) nor a country-code "
            "top-level domain (.ke)"
        )
    return "domain", value


@dataclass(frozen=True)
class Declaration:
    """A parsed declaration: (kind, canonical value) pairs, each once."""

    entries: tuple[tuple[str, str], ...]


def parse_declaration(
    *, networks: Iterable[Any] = (), asns: Iterable[Any] = (), domains: Iterable[Any] = ()
) -> Declaration:
    """Read the three lists of a declaration; 422 naming the first bad entry."""
    out: dict[tuple[str, str], None] = {}
    try:
        for n in networks:
            out[("network", str(parse_network(str(n))))] = None
        for a in asns:
            out[("asn", str(parse_asn(a)))] = None
        for d in domains:
            out[parse_domain(str(d))] = None
    except ValueError as exc:
        raise Unprocessable(f"{exc}.") from None
    if len(out) > MAX_ENTRIES:
        raise Unprocessable(f"A constituency holds at most {MAX_ENTRIES} entries.")
    return Declaration(tuple(out))


# ---------------------------------------------------------------- authority


def _org(session: Session, actor: Principal, slug: str) -> Organisation:
    """An organisation whose constituency the caller may read: its own, an admin's any, a coordinator's
    members; 404 for anything else (as for an unknown slug)."""
    org = find_organisation(session, actor, slug[:64])
    return org


def _is_confirmer(session: Session, actor: Principal, org: Organisation) -> bool:
    if actor.is_admin:
        return True
    groups = coordinated_groups(actor)
    if not groups:
        return False
    return (
        session.scalar(
            select(Membership.id).where(Membership.organisation_id == org.id, Membership.group_id.in_(groups))
        )
        is not None
    )


# ---------------------------------------------------------------- use cases


@dataclass(frozen=True)
class EntryView:
    """One entry as the API shows it."""

    kind: str
    value: str
    confirmed: bool
    declared_at_us: int
    confirmed_at_us: int | None


@dataclass(frozen=True)
class ConstituencyView:
    """An organisation's constituency: its entries, confirmed or waiting."""

    organisation: str
    entries: tuple[EntryView, ...]

    @property
    def pending(self) -> int:
        return sum(1 for e in self.entries if not e.confirmed)

    def as_dict(self) -> dict[str, Any]:
        """The JSON the admin API and the CLI print."""
        by: dict[str, list[str]] = {"networks": [], "asns": [], "domains": []}
        for e in self.entries:
            key = {"network": "networks", "asn": "asns"}.get(e.kind, "domains")
            by[key].append(f".{e.value}" if e.kind == "cctld" else e.value)
        return {
            "organisation": self.organisation,
            **by,
            "entries": [
                {
                    "kind": e.kind,
                    "value": e.value,
                    "confirmed": e.confirmed,
                    "declared_at_us": e.declared_at_us,
                    "confirmed_at_us": e.confirmed_at_us,
                }
                for e in self.entries
            ],
            "pending": self.pending,
        }


def _entries(session: Session, org_id: int) -> list[ConstituencyEntry]:
    return list(
        session.scalars(
            select(ConstituencyEntry)
            .where(ConstituencyEntry.organisation_id == org_id)
            .order_by(ConstituencyEntry.kind, ConstituencyEntry.value)
        )
    )


def _view(session: Session, org: Organisation) -> ConstituencyView:
    return ConstituencyView(
        org.slug,
        tuple(
            EntryView(e.kind, e.value, e.confirmed_at_us is not None, e.declared_at_us, e.confirmed_at_us)
            for e in _entries(session, org.id)
        ),
    )


def _state(entries: Iterable[ConstituencyEntry]) -> dict[str, Any]:
    return {
        "entries": sorted(f"{e.kind}:{e.value}" for e in entries),
        "confirmed": sorted(f"{e.kind}:{e.value}" for e in entries if e.confirmed_at_us is not None),
    }


def get_constituency(session: Session, actor: Principal, org_slug: str) -> ConstituencyView:
    """The organisation's constituency, for itself, platform admins and its groups' coordinators."""
    org = _org(session, actor, org_slug)
    if not (actor.is_admin or actor.org_id == org.id or _is_confirmer(session, actor, org)):
        raise NotFound(f"There is no organisation '{org_slug[:64]}'.")
    return _view(session, org)


def declare(
    session: Session, actor: Principal, org_slug: str, declaration: Declaration, *, confirm: bool = False
) -> ConstituencyView:
    """Replace the organisation's declared constituency; entries it repeats keep their confirmation.

    Only the organisation itself or a platform admin declares. With `confirm` (the operator's trust
    YAML, or a platform admin), the entries are confirmed at once.
    """
    org = _org(session, actor, org_slug)
    if not (actor.is_admin or actor.org_id == org.id):
        raise Forbidden("Only the organisation itself (or a platform admin) declares its constituency.")
    if confirm and not actor.is_admin:
        raise Forbidden("Only a platform admin declares a constituency already confirmed.")
    now = _now_us()
    old = _entries(session, org.id)
    before = _state(old)
    keep = set(declaration.entries)
    have = {(e.kind, e.value): e for e in old}
    for key, e in have.items():
        if key not in keep:
            session.delete(e)
    for kind, value in declaration.entries:
        entry = have.get((kind, value)) or ConstituencyEntry(
            organisation_id=org.id,
            kind=kind,
            value=value,
            declared_at_us=now,
            declared_by=actor.account_id or None,
        )
        if (kind, value) not in have:
            session.add(entry)
        if confirm and entry.confirmed_at_us is None:
            entry.confirmed_at_us, entry.confirmed_by = now, actor.account_id or None
            entry.confirmed_by_org = actor.org_id
    session.flush()
    after = _entries(session, org.id)
    audit(
        session,
        actor,
        "constituency.declare",
        target=f"constituency {org.slug}",
        target_org_id=org.id,
        before=before,
        after=_state(after),
    )
    return _view(session, org)


def confirm(
    session: Session, actor: Principal, org_slug: str, *, entries: Iterable[str] | None = None
) -> ConstituencyView:
    """Confirm the organisation's waiting entries (all, or those named as `kind:value` or `value`).

    A platform admin, or a coordinator of a group the organisation is a member of; never the
    organisation itself. A coordinator of other groups only gets the unknown organisation's 404.
    """
    org = _org(session, actor, org_slug)
    if not _is_confirmer(session, actor, org):
        if actor.org_id == org.id:
            raise Forbidden(
                "An organisation does not confirm its own constituency: a platform admin or a coordinator "
                "of one of its groups does."
            )
        raise NotFound(f"There is no organisation '{org_slug[:64]}'.")
    if actor.org_id == org.id and not actor.is_admin:
        raise Forbidden(
            "An organisation does not confirm its own constituency: a platform admin or a coordinator of "
            "another of its members' organisations does."
        )
    old = _entries(session, org.id)
    before = _state(old)
    wanted = None if entries is None else {str(x).strip().lower() for x in entries}
    now = _now_us()
    if wanted is not None:
        known = {f"{e.kind}:{e.value}" for e in old} | {e.value for e in old}
        unknown = sorted(w for w in wanted if w.lstrip(".") not in known)
        if unknown:
            raise Unprocessable(f"'{unknown[0][:64]}' is not a declared entry of '{org.slug}'.")
    n = 0
    for e in old:
        if e.confirmed_at_us is not None:
            continue
        if wanted is not None and not ({f"{e.kind}:{e.value}", e.value, f".{e.value}"} & wanted):
            continue
        e.confirmed_at_us, e.confirmed_by, e.confirmed_by_org = now, actor.account_id or None, actor.org_id
        n += 1
    session.flush()
    audit(
        session,
        actor,
        "constituency.confirm",
        target=f"constituency {org.slug}",
        target_org_id=org.id,
        before=before,
        after=_state(old),
    )
    return _view(session, org)


def apply_config_constituency(session: Session, org_slug: str, cfg: Any) -> ConstituencyView:
    """The trust YAML's `constituency:` of an organisation: the operator declares it, so it is confirmed
    at once (a ConfigError-free 422 names a bad entry)."""
    from hub.trust.manage import OPERATOR

    decl = parse_declaration(networks=cfg.networks, asns=cfg.asns, domains=cfg.domains)
    return declare(session, OPERATOR, org_slug, decl, confirm=True)


# ---------------------------------------------------------------- rules: what matches


@dataclass(frozen=True)
class Rule:
    """One confirmed entry as matching uses it: a network (ASNs expanded) or a domain suffix."""

    org_id: int
    label: str  # "network 41.90.0.0/16", "asn AS36866 (41.90.0.0/16)", "domain example.ke", "cctld .ke"
    network: str | None = None  # canonical CIDR text
    suffix: str | None = None


def confirmed_rules(session: Session, *, org_ids: Iterable[int] | None = None) -> Iterator[Rule]:
    """The confirmed entries of active organisations (all, or those given), ASNs expanded to prefixes."""
    stmt = (
        select(ConstituencyEntry.organisation_id, ConstituencyEntry.kind, ConstituencyEntry.value)
        .join(Organisation, Organisation.id == ConstituencyEntry.organisation_id)
        .where(ConstituencyEntry.confirmed_at_us.is_not(None), Organisation.active.is_(True))
    )
    if org_ids is not None:
        stmt = stmt.where(ConstituencyEntry.organisation_id.in_(sorted(set(org_ids))))
    asns: dict[int, list[int]] = {}
    for org_id, kind, value in session.connection().execute(stmt):
        if kind == "network":
            yield Rule(org_id, f"network {value}", network=value)
        elif kind == "domain":
            yield Rule(org_id, f"domain {value}", suffix=value)
        elif kind == "cctld":
            yield Rule(org_id, f"cctld .{value}", suffix=value)
        elif kind == "asn":
            asns.setdefault(int(value), []).append(org_id)
    if asns:
        numbers = sorted(asns)
        for i in range(0, len(numbers), 500):
            for asn, prefix in session.connection().execute(
                select(AsnPrefix.asn, AsnPrefix.prefix).where(AsnPrefix.asn.in_(numbers[i : i + 500]))
            ):
                for org_id in asns[asn]:
                    yield Rule(org_id, f"asn AS{asn} ({prefix})", network=prefix)


# ---------------------------------------------------------------- the operator's ASN data


def read_asn_data(path: Path) -> Iterator[tuple[int, str]]:
    """(asn, prefix) pairs of a pyasn IPASN file or of RIR extended delegated statistics."""
    holders: dict[str, list[int]] = {}
    ranges: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith((";", "#")):
                continue
            if "|" in line:
                parts = line.split("|")
                # registry|cc|type|start|value|date|status[|opaque-id]; version and summary lines are shorter
                if len(parts) < 8 or parts[2] not in ("asn", "ipv4", "ipv6") or parts[1] == "*":
                    continue
                if parts[6] not in ("allocated", "assigned"):
                    continue
                if parts[2] == "asn":
                    first, count = int(parts[3]), int(parts[4])
                    holders.setdefault(parts[7], []).extend(range(first, first + min(count, 65536)))
                else:
                    ranges.append((parts[7], _delegated_prefixes(parts[2], parts[3], parts[4])))
                continue
            fields = line.split()
            if len(fields) != 2:
                raise ValueError(f"{path}:{n}: expected 'prefix<TAB>asn' or a delegated-statistics line")
            try:
                net = ipaddress.ip_network(fields[0], strict=False)
                asn = parse_asn(fields[1])
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: {exc}") from None
            yield asn, str(net)
    for opaque, prefixes in ranges:
        for asn in holders.get(opaque, ()):
            for p in prefixes.split(","):
                yield asn, p


def _delegated_prefixes(kind: str, start: str, value: str) -> str:
    """The CIDR prefixes of a delegated-statistics range (IPv4: start and address count; IPv6: prefix)."""
    if kind == "ipv6":
        return str(ipaddress.ip_network(f"{start}/{int(value)}", strict=False))
    first = ipaddress.IPv4Address(start)
    last = ipaddress.IPv4Address(int(first) + int(value) - 1)
    return ",".join(str(n) for n in ipaddress.summarize_address_range(first, last))


def load_asn_data(session: Session, paths: Iterable[Path]) -> int:
    """Replace the ASN prefix map with the files'; returns how many (asn, prefix) pairs they hold."""
    pairs = sorted({pair for path in paths for pair in read_asn_data(path)})
    session.execute(delete(AsnPrefix))
    for i in range(0, len(pairs), 5000):
        session.execute(
            insert(AsnPrefix),
            [{"asn": a, "prefix": p} for a, p in pairs[i : i + 5000]],
        )
    session.flush()
    return len(pairs)
