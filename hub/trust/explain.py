"""`policy explain`: may an organisation see, or a group receive, a stored object, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.lookup.values import listing_reasons
from hub.policy.explain import explain_read, explain_redistribute
from hub.policy.rules import Destination, Reader, may_read
from hub.policy.tlp import Tlp
from hub.policy.words import Phrase
from hub.store.markings import marking_index, referenced
from hub.store.reads import COLUMNS, Filters, visible_versions
from hub.trust.access import collection_policy, group_policy
from hub.trust.benign import guard_for
from hub.trust.manage import visible_org_ids
from hub.trust.models import Collection, CollectionRecipient, Membership, Organisation, TrustGroup
from hub.trust.service import Principal


class ExplainError(ValueError):
    """The question names something that does not exist (or that the asker may not ask about)."""


# the same words for a name that does not exist and one the asker may not know of (the name not echoed,
# so the two answers are the same bytes)
NO_SUCH_READER = Phrase("reader: there is no organisation of that name you may ask about")
NO_SUCH_GROUP = Phrase("to: there is no trust group of that name you may ask about")


def _asker_scope(session: Session, principal: Principal | None) -> tuple[set[int] | None, set[int] | None]:
    """The organisations and groups a caller may name in a question (None, None: anything)."""
    if principal is None or principal.is_admin:
        return None, None
    return visible_org_ids(session, principal), set(principal.memberships)


@dataclass(frozen=True)
class Answer:
    """One explanation: for the object's latest version in one collection."""

    group: str
    collection: str
    version: str
    text: str


def explain(
    session: Session,
    *,
    object_id: str,
    reader: str | None = None,
    to_group: str | None = None,
    to_peer_community: str | None = None,
    export: bool = False,
    within_groups: set[int] | None = None,
    asker: Reader | None = None,
    asker_roles: dict[int, tuple[str, int]] | None = None,
    caller: Principal | None = None,
) -> list[Answer]:
    """Explain for each collection holding `object_id` (restricted to `within_groups` when given).

    A `caller` (None: the operator) names as `reader` or `to` only organisations and groups it may know
    of; any other is answered exactly as one that does not exist.
    """
    known_orgs, known_groups = _asker_scope(session, caller)
    asked = [reader is not None, to_group is not None, to_peer_community is not None, export]
    if sum(asked) != 1:
        raise ExplainError(
            Phrase("ask about exactly one of: a reader organisation, a destination group, a peer, export")
        )
    versions = visible_versions(
        session, reader=None, collections=None, columns=COLUMNS,
        filters=Filters(ids=(object_id,), versions=("all",)), order="newest",
    )  # fmt: skip
    places: dict[str, tuple[Collection, TrustGroup]] = {}
    if versions:
        places_stmt = (
            select(Collection, TrustGroup)
            .join(TrustGroup, Collection.group_id == TrustGroup.id)
            .where(Collection.id.in_({v.collection_id for v in versions}))
        )
        if within_groups is not None:
            places_stmt = places_stmt.where(TrustGroup.id.in_(within_groups))
        places = {coll.id: (coll, group) for coll, group in session.execute(places_stmt)}
    latest: dict[str, tuple[Any, Collection, TrustGroup]] = {}
    # per collection (in id order), its newest version the asker may see
    for ov in sorted(versions, key=lambda v: v.collection_id):
        if ov.collection_id not in places:
            continue
        coll, group = places[ov.collection_id]
        if asker is not None and not _asker_sees(session, asker, asker_roles or {}, ov, coll, group):
            continue  # an asker learns nothing about objects it may not see itself
        latest.setdefault(coll.id, (ov, coll, group))
    if not latest:
        raise ExplainError(
            Phrase("no object {object} is stored in a collection you may ask about", object=object_id)
        )
    reader_org = None
    if reader is not None:
        reader_org = session.scalar(select(Organisation).where(Organisation.slug == reader))
        if reader_org is None or (known_orgs is not None and reader_org.id not in known_orgs):
            raise ExplainError(NO_SUCH_READER)
    dest_group = None
    if to_group is not None:
        dest_group = session.scalar(select(TrustGroup).where(TrustGroup.slug == to_group))
        if dest_group is None or (known_groups is not None and dest_group.id not in known_groups):
            raise ExplainError(NO_SUCH_GROUP)
    answers = []
    for ov, coll, group in latest.values():
        obj = orjson.loads(ov.body)
        markings = marking_index(session, collection_id=coll.id, refs=referenced([obj]))
        recipients = frozenset(
            session.scalars(
                select(CollectionRecipient.organisation_id).where(
                    CollectionRecipient.collection_id == coll.id
                )
            )
        )
        cpol = collection_policy(coll, group, recipients)
        if reader_org is not None:
            m = session.scalar(
                select(Membership).where(
                    Membership.group_id == group.id, Membership.organisation_id == reader_org.id
                )
            )
            role: Literal["coordinator", "contributor", "reader"] | None = m.role if m else None  # type: ignore[assignment]
            who = Reader(
                org_id=reader_org.id,
                role=role,
                clearance=Tlp(m.clearance) if m else Tlp.CLEAR,
                name=reader_org.slug,
            )
            text = explain_read(
                reader=who, collection=cpol, obj=obj, markings=markings, producer_org_id=ov.producer_id
            )
        else:
            if dest_group is not None:
                dest = Destination(kind="group", name=dest_group.slug, community=dest_group.community)
            elif to_peer_community is not None:
                dest = Destination(
                    kind="peer",
                    name=Phrase("peer hub ({community})", community=to_peer_community),
                    community=to_peer_community,
                )
            else:
                dest = Destination(kind="export", name=Phrase("export"))
            text = explain_redistribute(
                obj=obj, markings=markings, source_group=group_policy(group), destination=dest
            )
        answers.append(
            Answer(
                group=group.slug,
                collection=coll.alias,
                version=ov.version,
                text=Phrase.joined(
                    " ", [_provenance(session, ov, obj), text, *_listing(session, group, obj)]
                ),
            )
        )
    return answers


def _provenance(session: Session, ov: Any, obj: dict[str, object]) -> str:
    """Who published this version in the hub, and who authored it."""
    publisher = session.get(Organisation, ov.producer_id)
    author = obj.get("created_by_ref")
    member = (
        session.scalar(select(Organisation.slug).where(Organisation.identity_id == author.lower()))
        if isinstance(author, str)
        else None
    )
    if not isinstance(author, str):
        by = Phrase("states no author (no created_by_ref)")
    elif member is not None:
        by = Phrase("is authored by member {member} ({author})", member=member, author=author)
    else:
        by = Phrase("is authored by {author}, an identity outside the hub", author=author)
    who = publisher.slug if publisher else Phrase("an unknown organisation")
    return Phrase("Published in the hub by {publisher}; it {by}.", publisher=who, by=by)


def _asker_sees(
    session: Session,
    asker: Reader,
    roles: dict[int, tuple[str, int]],
    ov: Any,
    coll: Collection,
    group: TrustGroup,
) -> bool:
    role, clearance = roles.get(group.id, (None, 0))
    recipients = frozenset(
        session.scalars(
            select(CollectionRecipient.organisation_id).where(CollectionRecipient.collection_id == coll.id)
        )
    )
    who = Reader(org_id=asker.org_id, role=role, clearance=Tlp(clearance), name=asker.name)  # type: ignore[arg-type]
    return may_read(who, collection_policy(coll, group, recipients), Tlp(ov.tlp), ov.producer_id).allowed


def _listing(session: Session, group: TrustGroup, obj: dict[str, Any]) -> list[str]:
    """Which of the object's values go on the group's device lists, by the group's own minimums and
    known-benign lists."""
    guard = guard_for(session, group)
    return listing_reasons(obj, guard.limits, benign=guard.listed)
