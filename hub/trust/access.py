"""Authorisation: what a principal may do with a trust group's API root and its collections."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import Forbidden, NotFound
from hub.policy.tlp import Tlp
from hub.trust.models import Collection, CollectionRecipient, TrustGroup
from hub.trust.service import Principal

WRITE_ROLES = frozenset({"coordinator", "contributor"})


@dataclass(frozen=True)
class CollectionAccess:
    """A collection as the caller sees it: what it may do and the clearance its reads use."""

    collection: Collection
    group: TrustGroup
    role: str  # the caller's role in the group
    can_read: bool
    can_write: bool
    clearance: int
    recipient_ids: frozenset[int]

    @property
    def is_named(self) -> bool:
        return self.collection.kind == "named"


def group_for(session: Session, principal: Principal, slug: str) -> TrustGroup:
    """The trust group behind an API root, if the caller is a member (403 otherwise, 404 if unknown)."""
    group = session.scalar(select(TrustGroup).where(TrustGroup.slug == slug))
    if group is None:
        raise NotFound(f"There is no API root '{slug}' on this hub.")
    if group.id not in principal.memberships:
        raise Forbidden(f"Your organisation is not a member of the trust group '{slug}'.")
    return group


def collection_access(session: Session, principal: Principal, group: TrustGroup, coll: Collection,
                      recipients: frozenset[int]) -> CollectionAccess | None:
    """What the caller may do in a collection; None when it may not even know it exists."""
    member = principal.memberships[group.id]
    if coll.kind == "named":
        is_owner = coll.owner_id == principal.org_id
        if not is_owner and principal.org_id not in recipients:
            return None
        # naming the recipients is what TLP:RED asks for: inside a named-recipient collection its
        # owner and recipients are cleared up to RED
        return CollectionAccess(coll, group, member.role, True, is_owner, int(Tlp.RED), recipients)
    writable = member.role in WRITE_ROLES
    return CollectionAccess(coll, group, member.role, True, writable, member.clearance, recipients)


def list_collections(session: Session, principal: Principal, group: TrustGroup) -> list[CollectionAccess]:
    """The collections of a group the caller may know of, in a stable order."""
    colls = list(session.scalars(select(Collection).where(Collection.group_id == group.id).order_by(Collection.alias)))
    recips = _recipients(session, [c.id for c in colls if c.kind == "named"])
    out = []
    for c in colls:
        acc = collection_access(session, principal, group, c, recips.get(c.id, frozenset()))
        if acc is not None:
            out.append(acc)
    return out


def authorize(session: Session, principal: Principal, group_slug: str, collection_id: str, action: str) -> CollectionAccess:
    """Decide 403/404 for a collection action ('read' or 'write'); return the access on success."""
    group = group_for(session, principal, group_slug)
    coll = session.get(Collection, collection_id)
    if coll is None or coll.group_id != group.id:
        raise NotFound(f"There is no collection '{collection_id}' in API root '{group_slug}'.")
    recips = _recipients(session, [coll.id]).get(coll.id, frozenset()) if coll.kind == "named" else frozenset()
    acc = collection_access(session, principal, group, coll, recips)
    if acc is None:
        # a named-recipient collection is not revealed to organisations it does not name
        raise NotFound(f"There is no collection '{collection_id}' in API root '{group_slug}'.")
    if action == "write" and not acc.can_write:
        why = ("only its owner adds objects to a named-recipient collection" if acc.is_named
               else f"your role in '{group_slug}' is {acc.role}, which may read but not add objects")
        raise Forbidden(f"You may not add objects to this collection: {why}.")
    if action == "read" and not acc.can_read:
        raise Forbidden("You may not read this collection.")
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
