"""Authorisation: what a principal may do with a trust group's API root and its collections."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, cast

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from hub.errors import Forbidden, NotFound
from hub.policy.rules import WRITER_ROLES, CollectionPolicy, GroupPolicy, Reader, Role, read_clearance
from hub.policy.tlp import Tlp
from hub.trust.models import Collection, CollectionRecipient, Membership, Organisation, TrustGroup
from hub.trust.service import Principal


@dataclass(frozen=True)
class CollectionAccess:
    """A collection as the caller sees it: what it may do and the clearance its reads use."""

    collection: Collection
    group: TrustGroup
    policy: CollectionPolicy
    role: str  # the caller's role in the group
    can_write: bool
    clearance: Tlp  # from the policy layer's read_clearance

    @property
    def is_named(self) -> bool:
        return self.collection.kind == "named"

    can_read = True  # a CollectionAccess exists only for collections the caller may read


def group_policy(group: TrustGroup) -> GroupPolicy:
    """The plain-value view of a trust group the policy layer takes."""
    return GroupPolicy(
        slug=group.slug,
        default_tlp=Tlp(group.default_tlp),
        max_tlp=Tlp(group.max_tlp),
        community=group.community,
    )


def collection_policy(coll: Collection, group: TrustGroup, recipients: frozenset[int]) -> CollectionPolicy:
    """The plain-value view of a collection the policy layer takes."""
    kind: Literal["group", "named"] = "named" if coll.kind == "named" else "group"
    return CollectionPolicy(
        id=coll.id,
        kind=kind,
        group=group_policy(group),
        owner_org_id=coll.owner_id,
        recipient_org_ids=recipients,
        title=coll.alias,
    )


def group_for(session: Session, principal: Principal, slug: str) -> TrustGroup:
    """The trust group behind an API root, if the caller is a member (403 otherwise, 404 if unknown)."""
    group = session.scalar(select(TrustGroup).where(TrustGroup.slug == slug))
    if group is None:
        raise NotFound(f"There is no API root '{slug}' on this hub.")
    if group.id in principal.suspended:
        raise Forbidden(f"This API key is suspended in '{slug}' by the group's coordinator.")
    if group.id not in principal.memberships:
        raise Forbidden(f"Your organisation is not a member of the trust group '{slug}'.")
    return group


def collection_access(
    principal: Principal, group: TrustGroup, coll: Collection, recipients: frozenset[int]
) -> CollectionAccess | None:
    """What the caller may do in a collection; None when it may not read (or know of) it."""
    member = principal.memberships[group.id]
    policy = collection_policy(coll, group, recipients)
    reader = Reader(
        org_id=principal.org_id,
        role=cast(Role, member.role),
        clearance=Tlp(member.clearance),
        name=principal.org_slug,
    )
    clearance = read_clearance(reader, policy)
    if clearance is None:
        return None
    can_write = coll.owner_id == principal.org_id if policy.kind == "named" else member.role in WRITER_ROLES
    can_write = can_write and coll.archived_at is None
    return CollectionAccess(coll, group, policy, member.role, can_write, clearance)


def list_collections(session: Session, principal: Principal, group: TrustGroup) -> list[CollectionAccess]:
    """The collections of a group the caller may know of, in a stable order."""
    return list_collections_of(session, principal, [group])


def list_collections_of(
    session: Session, principal: Principal, groups: list[TrustGroup]
) -> list[CollectionAccess]:
    """`list_collections` of each group in turn, read in two queries whatever the number of groups (a
    search or a lookup asks for every group of the caller on each request)."""
    if not groups:
        return []
    by_id = {g.id: g for g in groups}
    colls = list(
        session.scalars(
            select(Collection).where(Collection.group_id.in_(list(by_id))).order_by(Collection.alias)
        )
    )
    recips = _recipients(session, [c.id for c in colls if c.kind == "named"])
    of_group: dict[int, list[Collection]] = {}
    for c in colls:
        of_group.setdefault(c.group_id, []).append(c)
    out = []
    for g in groups:
        for c in of_group.get(g.id, []):
            acc = collection_access(principal, g, c, recips.get(c.id, frozenset()))
            if acc is not None:
                out.append(acc)
    return out


def readable_collections(
    session: Session, principal: Principal, *, group: str | None = None
) -> tuple[list[TrustGroup], list[CollectionAccess]]:
    """The caller's trust groups (all, or the one with slug `group`; by slug) and the collections it
    may read in them (`list_collections_of`), in one statement.

    A search or a lookup asks this on every request: the groups, their collections and the named
    collections' recipients used to be three statements, and on PostgreSQL each cost more in the
    driver and the ORM than in the server. Nothing is kept between requests: a membership or a
    recipient removed a moment ago is not read here."""
    member_of = list(principal.memberships)
    if not member_of:
        return [], []
    stmt = (
        select(TrustGroup, Collection, CollectionRecipient.organisation_id)
        .outerjoin(Collection, Collection.group_id == TrustGroup.id)
        .outerjoin(
            CollectionRecipient,
            and_(CollectionRecipient.collection_id == Collection.id, Collection.kind == "named"),
        )
        .where(TrustGroup.id.in_(member_of))
        .order_by(TrustGroup.slug, Collection.alias)
    )
    if group is not None:
        stmt = stmt.where(TrustGroup.slug == group)
    groups: dict[int, TrustGroup] = {}
    colls: dict[str, Collection] = {}
    recips: dict[str, set[int]] = {}
    for g, c, recipient in session.execute(stmt):
        groups.setdefault(g.id, g)
        if c is not None:
            colls.setdefault(c.id, c)
            if recipient is not None:
                recips.setdefault(c.id, set()).add(recipient)
    out = []
    for c in colls.values():  # by group slug, then alias: `list_collections_of`'s order
        acc = collection_access(principal, groups[c.group_id], c, frozenset(recips.get(c.id, ())))
        if acc is not None:
            out.append(acc)
    return list(groups.values()), out


def authorize(
    session: Session, principal: Principal, group_slug: str, collection_id: str, action: str
) -> CollectionAccess:
    """Decide 403/404 for a collection action ('read' or 'write'); return the access on success."""
    group = group_for(session, principal, group_slug)
    coll = session.get(Collection, collection_id[:64])
    if coll is None or coll.group_id != group.id:
        raise NotFound(f"There is no collection '{collection_id[:64]}' in API root '{group_slug}'.")
    recips = (
        _recipients(session, [coll.id]).get(coll.id, frozenset()) if coll.kind == "named" else frozenset()
    )
    acc = collection_access(principal, group, coll, recips)
    if acc is None:
        # a named-recipient collection is not revealed to organisations it does not name
        raise NotFound(f"There is no collection '{collection_id[:64]}' in API root '{group_slug}'.")
    if action == "write" and coll.archived_at is not None:
        raise Forbidden("This collection is archived: it is read-only, and nothing is added or deleted.")
    if action == "write" and not acc.can_write:
        why = (
            "only its owner adds objects to a named-recipient collection"
            if acc.is_named
            else f"your role in '{group_slug}' is {acc.role}, which may read but not add objects"
        )
        raise Forbidden(f"You may not add objects to this collection: {why}.")
    return acc


def _recipients(session: Session, ids: list[str]) -> dict[str, frozenset[int]]:
    if not ids:
        return {}
    out: dict[str, set[int]] = {}
    for cid, oid in session.execute(
        select(CollectionRecipient.collection_id, CollectionRecipient.organisation_id).where(
            CollectionRecipient.collection_id.in_(ids)
        )
    ):
        out.setdefault(cid, set()).add(oid)
    return {k: frozenset(v) for k, v in out.items()}


def member_identities(session: Session) -> dict[str, int]:
    """Every member organisation's STIX identity id, with the organisation: the hub's own record."""
    rows = session.execute(select(Organisation.identity_id, Organisation.id)).all()
    return {row[0]: row[1] for row in rows}


def read_clearances(session: Session, *, org_id: int, collection_ids: Iterable[str]) -> dict[str, Tlp | None]:
    """The clearance `org_id` reads each collection with (None: it may not read it): the policy's rule."""
    ids = sorted(set(collection_ids))
    if not ids:
        return {}
    colls = list(session.scalars(select(Collection).where(Collection.id.in_(ids))))
    groups = {
        g.id: g
        for g in session.scalars(select(TrustGroup).where(TrustGroup.id.in_({c.group_id for c in colls})))
    }
    roles = {
        m.group_id: m
        for m in session.scalars(
            select(Membership).where(
                Membership.organisation_id == org_id, Membership.group_id.in_(list(groups))
            )
        )
    }
    recips = _recipients(session, [c.id for c in colls if c.kind == "named"])
    out: dict[str, Tlp | None] = {}
    for c in colls:
        m = roles.get(c.group_id)
        reader = Reader(
            org_id=org_id,
            role=cast(Role, m.role) if m else None,
            clearance=Tlp(m.clearance) if m else Tlp.CLEAR,
        )
        out[c.id] = read_clearance(
            reader, collection_policy(c, groups[c.group_id], recips.get(c.id, frozenset()))
        )
    return out


def collection_groups(session: Session, *, collection_ids: Iterable[str]) -> dict[str, GroupPolicy]:
    """The trust group (as the policy layer sees it) of each collection."""
    ids = sorted(set(collection_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Collection.id, TrustGroup)
        .join(TrustGroup, TrustGroup.id == Collection.group_id)
        .where(Collection.id.in_(ids))
    )
    return {cid: group_policy(group) for cid, group in rows}
