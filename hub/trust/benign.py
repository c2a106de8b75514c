"""Per-group device-list settings and the group's own known-benign list.

A group's coordinators (and the platform admin) set the broadest IP networks the group's values may be
(never broader than the hard floors of hub.lookup.values.Limits) and whether ingest refuses a value on
an active known-benign list or flags it, and keep the group's own list (a CIRT's own infrastructure, its
national resolvers). Only they see or change the list: anyone else gets the answer an absent group gets.
Each change is an audit event. Functions flush; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import Conflict, NotFound, Unprocessable
from hub.lookup.benign import BENIGN_MODES, BenignIndex, BenignMode, Guard
from hub.lookup.values import DEFAULT_LIMITS, Limits, Value, parse_query, problem
from hub.trust import manage
from hub.trust.models import BenignEntry, TrustGroup
from hub.trust.service import Principal

# the broadest prefixes a group may set: the hard floors of hub.lookup.values.Limits
FLOOR_V4, FLOOR_V6 = Limits(0, 0).prefix(4), Limits(0, 0).prefix(6)
MAX_ENTRIES = 10_000


def own_list_name(group: TrustGroup) -> str:
    """The name a group's own list goes by in statuses, pages and explanations."""
    return f"{group.slug} own list"


def limits_of(group: TrustGroup) -> Limits:
    """The group's IP prefix minimums (the hub's defaults where it set none)."""
    return Limits(
        group.min_ipv4_prefix if group.min_ipv4_prefix is not None else DEFAULT_LIMITS.min_prefix_v4,
        group.min_ipv6_prefix if group.min_ipv6_prefix is not None else DEFAULT_LIMITS.min_prefix_v6,
    )


def guard_for(session: Session, group: TrustGroup, *, ingest_only: bool = False) -> Guard:
    """What the group's ingest and device lists apply: its limits, mode and own list.

    `ingest_only`: for a TAXII POST, which consults the lists only to refuse; in `flag` mode the group's
    own list is neither read nor indexed on every request (device lists and feed runs still use it).
    """
    mode: BenignMode = "refuse" if group.benign_mode == "refuse" else "flag"
    values = (
        []
        if ingest_only and mode == "flag"
        else list(session.scalars(select(BenignEntry.value).where(BenignEntry.group_id == group.id)))
    )
    own = None
    if values:
        own = BenignIndex()
        own.add(own_list_name(group), values)
        own.finish()
    limits = limits_of(group)
    tag = hashlib.sha256(
        "|".join([str(limits.prefix(4)), str(limits.prefix(6)), mode, *sorted(values)]).encode()
    ).hexdigest()[:16]
    return Guard(limits=limits, mode=mode, own=own, tag=tag)


def check_prefix(value: int | None, version: int) -> int | None:
    """A group's prefix minimum, or 422 naming the range it may take."""
    if value is None:
        return None
    floor, top = (FLOOR_V4, 32) if version == 4 else (FLOOR_V6, 128)
    if not floor <= value <= top:
        raise Unprocessable(
            f"min_ipv{version}_prefix must be between {floor} and {top} (a device list never takes an "
            f"IPv{version} network broader than /{floor}), not {value}"
        )
    return value


def check_mode(value: str) -> BenignMode:
    """A known-benign mode, or 422 naming the choices."""
    for mode in BENIGN_MODES:
        if value == mode:
            return mode
    raise Unprocessable(f"benign_mode must be one of {', '.join(BENIGN_MODES)}, not {value[:20]!r}")


# ---------------------------------------------------------------- the group's own list


@dataclass(frozen=True)
class Entry:
    value: str
    kind: str
    note: str
    created_at: datetime


def _group(session: Session, actor: Principal, slug: str) -> TrustGroup:
    """The group, when the caller coordinates it (or is the platform admin); 404 otherwise, as for an
    absent group: a member who does not coordinate learns nothing of the list."""
    group = session.scalar(select(TrustGroup).where(TrustGroup.slug == slug))
    member = actor.memberships.get(group.id) if group is not None else None
    if group is None or not (actor.is_admin or (member is not None and member.role == "coordinator")):
        raise NotFound(f"There is no trust group '{slug[:64]}'.")
    return group


def parse_entry(raw: str) -> Value:
    """A value for a benign list, read as a search is (refanged, normalised) and checked as a device
    list line is; 422 saying what is wrong otherwise."""
    takes = "a known-benign list takes an IP address or network, a domain name, a URL or a hash"
    try:
        q = parse_query(raw)
    except ValueError:
        raise Unprocessable(f"{raw.strip()[:100]!r} is no such value: {takes}.") from None
    if q.kind == "email":
        raise Unprocessable(f"{q.text[:100]!r} is an email address: {takes}.")
    stype = {"ip": "ipv6-addr" if ":" in q.text else "ipv4-addr", "domain": "domain-name", "url": "url"}
    v = Value(q.kind, stype.get(q.kind, "file"), q.text, q.algorithm)
    why = problem(v, Limits(0, 0))  # any network the floors allow: a listed network is exempted, not blocked
    if why is not None:
        raise Unprocessable(f"{why}.")
    return v


def _entry(e: BenignEntry) -> Entry:
    return Entry(e.value, e.kind, e.note, e.created_at)


def list_entries(session: Session, actor: Principal, slug: str) -> tuple[TrustGroup, list[Entry]]:
    """The group's own list, by value."""
    group = _group(session, actor, slug)
    rows = session.scalars(
        select(BenignEntry).where(BenignEntry.group_id == group.id).order_by(BenignEntry.value)
    )
    return group, [_entry(e) for e in rows]


def _state(e: BenignEntry) -> dict[str, Any]:
    return {"value": e.value, "kind": e.kind, "note": e.note}


def add_entry(session: Session, actor: Principal, slug: str, value: str, note: str = "") -> Entry:
    """Add a value to the group's own list (409 if it is there already)."""
    group = _group(session, actor, slug)
    v = parse_entry(value)
    if len(note) > 255 or any(c in note for c in "\r\n\x00"):
        raise Unprocessable("note: one line of at most 255 characters")
    found = session.scalar(
        select(BenignEntry).where(BenignEntry.group_id == group.id, BenignEntry.value == v.value)
    )
    if found is not None:
        raise Conflict(f"{v.value!r} is already on the list of '{slug}'.")
    n = session.query(BenignEntry).filter(BenignEntry.group_id == group.id).count()
    if n >= MAX_ENTRIES:
        raise Conflict(f"The list of '{slug}' holds {MAX_ENTRIES} values, the most it may.")
    e = BenignEntry(
        group_id=group.id, value=v.value, kind=v.kind, note=note, created_at=datetime.now(UTC),
        created_by=actor.account_id or None,
    )  # fmt: skip
    session.add(e)
    session.flush()
    manage.audit(session, actor, "benign.add", target=f"group {slug} benign {v.value}", group_id=group.id,
                 after=_state(e))  # fmt: skip
    return _entry(e)


def remove_entry(session: Session, actor: Principal, slug: str, value: str) -> None:
    """Take a value off the group's own list (404 if it is not there)."""
    group = _group(session, actor, slug)
    try:
        wanted = parse_entry(value).value
    except Unprocessable:
        wanted = value
    e = session.scalar(
        select(BenignEntry).where(BenignEntry.group_id == group.id, BenignEntry.value == wanted)
    )
    if e is None:
        raise NotFound(f"{value[:100]!r} is not on the list of '{slug}'.")
    before = _state(e)
    session.delete(e)
    session.flush()
    manage.audit(session, actor, "benign.remove", target=f"group {slug} benign {wanted}", group_id=group.id,
                 before=before)  # fmt: skip
