"""Collection use cases of the admin API, the CLI and `hub config apply`: create, rename, archive.

Authorisation and audit work as in hub.trust.manage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import Conflict, NotFound, Unprocessable
from hub.trust.manage import audit, find_group
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


def get_collection(session: Session, actor: Principal, group_slug: str, ref: str) -> CollectionInfo:
    """A collection of a group the caller coordinates, by id or alias."""
    g = find_group(session, actor, group_slug)
    coll = session.scalar(
        select(Collection).where(Collection.group_id == g.id, Collection.alias == ref[:64])
    ) or session.get(Collection, ref[:64])
    if coll is None or coll.group_id != g.id:
        raise NotFound(f"There is no collection '{ref[:64]}' in '{group_slug}'.")
    return _info(session, coll)


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
          collection_id=cid, after=collection_state(info))  # fmt: skip
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
              group_id=coll.group_id, collection_id=coll.id, before=before,
              after=collection_state(after))  # fmt: skip
    return after


def archive_collection(session: Session, actor: Principal, group_slug: str, ref: str) -> CollectionInfo:
    """Archive a collection: read-only from now on (no adds, no deletes); nothing stored is removed."""
    info = get_collection(session, actor, group_slug, ref)
    coll = info.collection
    if coll.archived_at is not None:
        raise Conflict(f"The collection '{coll.alias}' is already archived.")
    before = collection_state(info)
    coll.archived_at = datetime.now(UTC)
    session.flush()
    after = _info(session, coll)
    audit(session, actor, "collection.archive", target=f"collection {group_slug}/{coll.alias}",
          group_id=coll.group_id, collection_id=coll.id, before=before,
          after=collection_state(after))  # fmt: skip
    return after
