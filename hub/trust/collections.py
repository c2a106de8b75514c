"""Collection use cases of the admin API, the CLI and `hub config apply`: create, rename, archive.

Authorisation and audit work as in hub.trust.manage. What a member shares stays the member's to widen:
only the owner of a named-recipient collection adds recipients (a coordinator may remove them or archive
the collection), the owner reads its collection and the audit events about it, and a collection holding
TLP:AMBER pulled from another hub gains no recipients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import Conflict, Forbidden, NotFound, Unprocessable
from hub.policy.tlp import Tlp
from hub.store.reads import Filters, visible_versions
from hub.trust.feed_models import TAXII_FORMATS, Feed
from hub.trust.manage import OPERATOR, audit, find_group
from hub.trust.models import Collection, CollectionRecipient, Membership, Organisation, TrustGroup
from hub.trust.schemas import SLUG
from hub.trust.service import Principal, new_collection_id


@dataclass(frozen=True)
class CollectionInfo:
    """A collection with the slugs of its owner and recipients."""

    collection: Collection
    owner: str | None
    recipients: list[str]


def _info(session: Session, coll: Collection) -> CollectionInfo:
    owner = session.get(Organisation, coll.owner_id).slug if coll.owner_id else None  # type: ignore[union-attr]
    recipients = list(
        session.scalars(
            select(Organisation.slug)
            .join(CollectionRecipient, CollectionRecipient.organisation_id == Organisation.id)
            .where(CollectionRecipient.collection_id == coll.id)
            .order_by(Organisation.slug)
        )
    )
    return CollectionInfo(coll, owner, recipients)


def collection_state(info: CollectionInfo) -> dict[str, Any]:
    """A collection as the audit log records it."""
    c = info.collection
    return {
        "alias": c.alias,
        "title": c.title,
        "description": c.description,
        "kind": c.kind,
        "owner": info.owner,
        "recipients": info.recipients,
        "archived": c.archived_at is not None,
    }


def list_group_collections(session: Session, actor: Principal, group_slug: str) -> list[CollectionInfo]:
    """Every collection of a group the caller coordinates (named-recipient ones included), by alias."""
    g = find_group(session, actor, group_slug)
    colls = session.scalars(select(Collection).where(Collection.group_id == g.id).order_by(Collection.alias))
    return [_info(session, c) for c in colls]


def owned_collections(session: Session, actor: Principal, group_slug: str) -> list[CollectionInfo]:
    """The named-recipient collections of a group (the caller is a member of) that the caller owns."""
    g = find_group(session, actor, group_slug, manage=False)
    colls = session.scalars(
        select(Collection)
        .where(Collection.group_id == g.id, Collection.kind == "named", Collection.owner_id == actor.org_id)
        .order_by(Collection.alias)
    )
    return [_info(session, c) for c in colls]


def get_collection(session: Session, actor: Principal, group_slug: str, ref: str) -> CollectionInfo:
    """A collection of a group the caller coordinates, or a named-recipient one it owns, by id or alias."""
    g = find_group(session, actor, group_slug, manage=False)
    coll = session.scalar(
        select(Collection).where(Collection.group_id == g.id, Collection.alias == ref[:64])
    ) or session.get(Collection, ref[:64])
    if not _coordinates(actor, g) and (coll is None or coll.group_id != g.id or not _owns(actor, coll)):
        find_group(session, actor, group_slug)  # the coordinators' 403, as for any other collection
    if coll is None or coll.group_id != g.id:
        raise NotFound(f"There is no collection '{ref[:64]}' in '{group_slug}'.")
    return _info(session, coll)


def _coordinates(actor: Principal, group: TrustGroup) -> bool:
    m = actor.memberships.get(group.id)
    return actor.is_admin or (m is not None and m.role == "coordinator")


def _owns(actor: Principal, coll: Collection) -> bool:
    return coll.kind == "named" and coll.owner_id is not None and coll.owner_id == actor.org_id


def _may_add_recipients(actor: Principal, coll: Collection) -> bool:
    """Only the owner widens what it shares (the operator's command line and configuration also may)."""
    return _owns(actor, coll) or actor is OPERATOR


def holds_upstream_amber(session: Session, coll: Collection, group_slug: str) -> bool:
    """Whether a TAXII pull from another hub fills this collection and it holds TLP:AMBER or above.

    hub.sync.upstream lets AMBER from another hub only into a named-recipient collection owned by the
    feed's publisher with no other recipient: TLP:AMBER from outside allows that organisation (and its
    clients), not whoever it names later.
    """
    if coll.kind != "named":
        return False
    pulled = session.scalar(
        select(Feed.id)
        .where(
            Feed.direction == "pull",
            Feed.format.in_(TAXII_FORMATS),
            Feed.group_slug == group_slug,
            Feed.collection.in_([coll.alias, coll.id]),
        )
        .limit(1)
    )
    if pulled is None:
        return False
    return (
        visible_versions(
            session,
            reader=None,
            collections=[coll.id],
            columns=("seq",),
            filters=Filters(tlp_min=int(Tlp.AMBER), versions=("all",)),
            order=None,
            limit=1,
        )
        != []
    )


def _member_ids(session: Session, group: TrustGroup, slugs: list[str], what: str) -> list[int]:
    ids = []
    for slug in slugs:
        oid = session.scalar(
            select(Organisation.id)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(Organisation.slug == slug, Membership.group_id == group.id)
        )
        if oid is None:
            raise Unprocessable(f"{what}: '{slug}' is not a member of '{group.slug}'")
        ids.append(oid)
    return ids


def create_collection(
    session: Session,
    actor: Principal,
    group_slug: str,
    *,
    alias: str,
    title: str | None = None,
    description: str = "",
    kind: str = "group",
    owner: str | None = None,
    recipients: list[str] | None = None,
) -> CollectionInfo:
    """Create a group collection, or a named-recipient one (an owner member and recipient members)."""
    g = find_group(session, actor, group_slug)
    recipients = recipients or []
    if not SLUG.match(alias):
        raise Unprocessable(f"alias {alias!r} is not a slug: lowercase letters, digits and '-', at most 64")
    if kind not in ("group", "named"):
        raise Unprocessable(f"kind {kind!r}: use group or named")
    if kind == "named" and not owner:
        raise Unprocessable("a named-recipient collection needs an owner organisation")
    if kind == "group" and (owner or recipients):
        raise Unprocessable("owner and recipients belong to named-recipient collections (kind: named)")
    owner_id = _member_ids(session, g, [owner], "owner")[0] if owner else None
    recipient_ids = _member_ids(session, g, sorted(set(recipients)), "recipients")
    if session.scalar(select(Collection.id).where(Collection.group_id == g.id, Collection.alias == alias)):
        raise Conflict(f"'{group_slug}' already has a collection '{alias}'.")
    if recipient_ids and not (actor is OPERATOR or owner_id == actor.org_id):
        raise Forbidden(
            f"Only the owner '{owner}' names the recipients of its collection: create it without "
            "recipients and the owner adds them."
        )
    cid = new_collection_id()  # a random version 4 UUID, as TAXII 2.1's identifier type asks
    coll = Collection(id=cid, group_id=g.id, alias=alias, title=title or alias, description=description,
                      kind=kind, owner_id=owner_id)  # fmt: skip
    session.add(coll)
    session.flush()
    for oid in recipient_ids:
        session.add(CollectionRecipient(collection_id=cid, organisation_id=oid))
    session.flush()
    info = _info(session, coll)
    audit(session, actor, "collection.create", target=f"collection {group_slug}/{alias}", group_id=g.id,
          collection_id=cid, target_org_id=owner_id, after=collection_state(info))  # fmt: skip
    return info


def update_collection(
    session: Session,
    actor: Principal,
    group_slug: str,
    ref: str,
    *,
    alias: str | None = None,
    title: str | None = None,
    description: str | None = None,
    recipients: list[str] | None = None,
) -> CollectionInfo:
    """Rename a collection, change its description or (named-recipient) its recipients."""
    info = get_collection(session, actor, group_slug, ref)
    coll = info.collection
    if coll.archived_at is not None:
        raise Conflict(f"The collection '{coll.alias}' is archived; it cannot be changed.")
    if not _coordinates(actor, coll.group) and (alias, title, description) != (None, None, None):
        raise Forbidden(
            f"The owner of a named-recipient collection changes its recipients; its alias, title and "
            f"description are for the coordinators of '{group_slug}'."
        )
    before = collection_state(info)
    if alias is not None and alias != coll.alias:
        if not SLUG.match(alias):
            raise Unprocessable(
                f"alias {alias!r} is not a slug: lowercase letters, digits and '-', at most 64"
            )
        if session.scalar(
            select(Collection.id).where(Collection.group_id == coll.group_id, Collection.alias == alias)
        ):
            raise Conflict(f"'{group_slug}' already has a collection '{alias}'.")
        coll.alias = alias
    if title is not None:
        coll.title = title
    if description is not None:
        coll.description = description
    if recipients is not None:
        if coll.kind != "named":
            raise Unprocessable(
                "recipients belong to named-recipient collections; this is a group collection"
            )
        want = set(_member_ids(session, coll.group, sorted(set(recipients)), "recipients"))
        added = want - {r.organisation_id for r in coll.recipients}
        if added and not _may_add_recipients(actor, coll):
            raise Forbidden(
                f"Only the owner of '{coll.alias}' adds recipients: what a member shares is the member's "
                "to widen. A coordinator may remove recipients or archive the collection."
            )
        if added and holds_upstream_amber(session, coll, group_slug):
            raise Conflict(
                f"'{coll.alias}' holds TLP:AMBER or above pulled from another hub, which may go only to "
                "its owner: it gains no recipients. Share such objects through a new collection."
            )
        for r in list(coll.recipients):
            if r.organisation_id not in want:
                coll.recipients.remove(r)
        have = {r.organisation_id for r in coll.recipients}
        for oid in want - have:
            coll.recipients.append(CollectionRecipient(collection_id=coll.id, organisation_id=oid))
    session.flush()
    after = _info(session, coll)
    if collection_state(after) != before:
        audit(session, actor, "collection.update", target=f"collection {group_slug}/{coll.alias}",
              group_id=coll.group_id, collection_id=coll.id, target_org_id=coll.owner_id, before=before,
              after=collection_state(after))  # fmt: skip
    return after


def archive_collection(session: Session, actor: Principal, group_slug: str, ref: str) -> CollectionInfo:
    """Archive a collection: read-only from now on (no adds, no deletes); nothing stored is removed."""
    find_group(session, actor, group_slug)  # the group's coordinators (an owner asks them)
    info = get_collection(session, actor, group_slug, ref)
    coll = info.collection
    if coll.archived_at is not None:
        raise Conflict(f"The collection '{coll.alias}' is already archived.")
    before = collection_state(info)
    coll.archived_at = datetime.now(UTC)
    session.flush()
    after = _info(session, coll)
    audit(session, actor, "collection.archive", target=f"collection {group_slug}/{coll.alias}",
          group_id=coll.group_id, collection_id=coll.id, target_org_id=coll.owner_id, before=before,
          after=collection_state(after))  # fmt: skip
    return after
