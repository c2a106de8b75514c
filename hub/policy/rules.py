"""The TLP rules: accept, may_read, may_redistribute, each answering with a Decision and its reason."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from hub.policy.granular import storage_levels
from hub.policy.tlp import MarkingConflict, Tlp, effective_tlp
from hub.policy.words import Phrase

__all__ = [
    "WRITER_ROLES",
    "CollectionPolicy",
    "Decision",
    "Destination",
    "GroupPolicy",
    "Reader",
    "Role",
    "Submitter",
    "accept",
    "effective_tlp",
    "may_read",
    "may_redistribute",
    "read_clearance",
    "redistribution_ceiling",
    "visible_level",
]

Role = Literal["coordinator", "contributor", "reader"]

# Roles that may write into a group collection (DESIGN: Membership).
WRITER_ROLES: Final[frozenset[str]] = frozenset({"coordinator", "contributor"})


@dataclass(frozen=True, slots=True)
class Decision:
    """A yes or no with the reason a person reads; truthy when allowed.

    `levels` is set by `accept` when it allowed the object: the (tlp, redact_tlp) to store, so ingest
    does not read the markings twice.
    """

    allowed: bool
    reason: str
    levels: tuple[Tlp, Tlp | None] | None = None

    def __bool__(self) -> bool:
        return self.allowed


def _allow(reason: str, levels: tuple[Tlp, Tlp | None] | None = None) -> Decision:
    return Decision(True, reason, levels)


def _deny(reason: str) -> Decision:
    return Decision(False, reason)


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    """A trust group as the rules see it; `community` names the set of groups GREEN may flow between."""

    slug: str
    default_tlp: Tlp = Tlp.AMBER
    max_tlp: Tlp = Tlp.AMBER_STRICT
    community: str | None = None


@dataclass(frozen=True, slots=True)
class CollectionPolicy:
    """A collection: a group collection (members by role) or a named-recipient one (owner + recipients)."""

    id: str
    kind: Literal["group", "named"]
    group: GroupPolicy
    owner_org_id: int | None = None
    recipient_org_ids: frozenset[int] = frozenset()
    title: str | None = None

    @property
    def ceiling(self) -> Tlp:
        """The highest TLP accepted: RED in a named-recipient collection, else the group's max_tlp."""
        return Tlp.RED if self.kind == "named" else self.group.max_tlp

    @property
    def display(self) -> str:
        """How reasons name the collection."""
        return Phrase("collection {name}", name=self.title or self.id)


@dataclass(frozen=True, slots=True)
class Submitter:
    """Who posts an object: the organisation, its STIX identity id, its role in the collection's group."""

    org_id: int
    identity_id: str
    role: Role | None
    name: str | None = None

    @property
    def display(self) -> str:
        """How reasons name the organisation."""
        return self.name or Phrase("organisation {number}", number=self.org_id)


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads: the organisation, its role in the collection's group (None: no member), its clearance."""

    org_id: int
    role: Role | None
    clearance: Tlp
    name: str | None = None

    @property
    def display(self) -> str:
        """How reasons name the organisation."""
        return self.name or Phrase("organisation {number}", number=self.org_id)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where an object would go: another group, a peer hub (with the community it serves), or an export."""

    kind: Literal["group", "peer", "export"]
    name: str
    community: str | None = None

    @property
    def display(self) -> str:
        """How reasons name the destination."""
        kind = {"group": "group", "peer": "peer hub", "export": "export"}[self.kind]
        # default names already say what they are ("export", "peer hub of <community>")
        if self.name.startswith(kind):
            return self.name
        if self.kind == "group":
            return Phrase("group {name}", name=self.name)
        if self.kind == "peer":
            return Phrase("peer hub {name}", name=self.name)
        return Phrase("export {name}", name=self.name)


def _ceiling_refusal(level: Tlp, collection: CollectionPolicy, what: str) -> str:
    if level is Tlp.RED:
        return f"{what} TLP:RED is accepted only in named-recipient collections"
    return f"{what} {level.label} is above group {collection.group.slug}'s ceiling {collection.ceiling.label}"


def accept(
    obj: Mapping[str, Any],
    collection: CollectionPolicy,
    submitter: Submitter,
    *,
    markings: Mapping[str, Mapping[str, Any]],
    member_identities: Container[str] = frozenset(),
) -> Decision:
    """DESIGN TLP rule 2 and the authorship rule: may `submitter` add `obj` to `collection`?

    Checks, in order: the submitter may write here (a contributor or coordinator of the group for a group
    collection; the owner organisation for a named-recipient one, whose recipients only read);
    `created_by_ref` (the author) is the submitter's own identity or an identity outside the hub (a
    vendor, an upstream feed), never another member organisation's (`member_identities`); every TLP on
    the object (its effective TLP, unmarked objects taking the group default, and every granular marking)
    is within the ceiling. Markings are checked last so a refusal names the most basic problem.
    Ownership and originator control need the stored record and are judged by `hub.ingest`.
    """
    if collection.kind == "named":
        if submitter.org_id != collection.owner_org_id:
            return _deny(
                f"{submitter.display} may not write to named-recipient {collection.display}: "
                "only its owner organisation adds objects there"
            )
    elif submitter.role not in WRITER_ROLES:
        role = "is not a member" if submitter.role is None else f"is a {submitter.role}"
        return _deny(
            f"{submitter.display} {role} of group {collection.group.slug}: "
            "only contributors and coordinators add objects"
        )
    created_by = obj.get("created_by_ref")
    # identifiers compare case-insensitively (RFC 4122); member identities are lowercase uuid5s
    author = created_by.lower() if isinstance(created_by, str) else None
    if author is not None and author != submitter.identity_id and author in member_identities:
        return _deny(
            f"created_by_ref {created_by} is another member organisation's identity, not "
            f"{submitter.display}'s ({submitter.identity_id}): a CIRT cannot publish as another"
        )
    try:
        levels = storage_levels(obj, markings=markings, default=collection.group.default_tlp)
        ceiling = collection.ceiling
        if levels[0] > ceiling:
            return _deny(_ceiling_refusal(levels[0], collection, "its TLP"))
        if levels[1] is not None and levels[1] > ceiling:
            return _deny(_ceiling_refusal(levels[1], collection, "a property marked"))
    except MarkingConflict as exc:
        return _deny(f"marking refused: {exc.reason}")
    # redact_tlp is None only when no optional property is marked above tlp, itself within the ceiling.
    # the accepted path runs per stored object: a plain string, the same words as `collection.display`
    return _allow(
        f"accepted at {levels[0].label} into collection {collection.title or collection.id}", levels
    )


def read_clearance(reader: Reader, collection: CollectionPolicy) -> Tlp | None:
    """The clearance `reader` reads `collection` with; None when it may not read the collection at all.

    Group collection: any member reads, with its membership clearance. Named-recipient collection: the
    owner and the named recipients read with RED, whatever their group clearance, because naming the
    recipients is exactly what TLP:RED asks of a source; nobody else reads it, members of the group
    included. The caller feeds this to `visible_clause` so SQL and Python apply the same clearance.
    """
    if collection.kind == "named":
        if reader.org_id == collection.owner_org_id or reader.org_id in collection.recipient_org_ids:
            return Tlp.RED
        return None
    if reader.role is None:
        return None
    return reader.clearance


def visible_level(*, reader_org_id: int, clearance: Tlp, level: int, producer_org_id: int | None) -> bool:
    """The object-level half of may_read, twin of `hub.policy.sql.visible_clause`."""
    return producer_org_id == reader_org_id or level <= clearance


def may_read(
    reader: Reader, collection: CollectionPolicy, obj_level: Tlp, producer_org_id: int | None
) -> Decision:
    """DESIGN TLP rule 3: may `reader` see an object of TLP `obj_level` produced by `producer_org_id`?

    First the collection (`read_clearance`), then the level: at or below the clearance, or the reader
    produced the object. A producer that lost access to the collection no longer reads it, own objects
    included: the collection decision comes first, as it does before the SQL query runs.
    """
    clearance = read_clearance(reader, collection)
    if clearance is None:
        if collection.kind == "named":
            return _deny(
                Phrase(
                    "{reader} is neither the owner nor a named recipient of {collection}",
                    reader=reader.display,
                    collection=collection.display,
                )
            )
        return _deny(
            Phrase(
                "{reader} is not a member of group {group}",
                reader=reader.display,
                group=collection.group.slug,
            )
        )
    if producer_org_id == reader.org_id:
        return _allow(Phrase("{reader} produced it and always sees its own objects", reader=reader.display))
    where = (
        Phrase("as a named recipient of {collection}", collection=collection.display)
        if collection.kind == "named"
        else Phrase("in group {group}", group=collection.group.slug)
    )
    values = {
        "level": obj_level.label,
        "reader": reader.display,
        "clearance": clearance.label,
        "where": where,
    }
    if obj_level <= clearance:
        return _allow(Phrase("its TLP is {level}, within {reader}'s clearance {clearance} {where}", **values))
    return _deny(Phrase("its TLP is {level}, above {reader}'s clearance {clearance} {where}", **values))


def redistribution_ceiling(source_group: GroupPolicy, destination: Destination) -> Tlp:
    """The highest TLP that may leave `source_group` for `destination`: GREEN in its community, else CLEAR.

    Also the clearance to `redact` an object with before it leaves, so granular content above what the
    destination may receive is removed.
    """
    if (
        destination.kind != "export"
        and source_group.community is not None
        and destination.community == source_group.community
    ):
        return Tlp.GREEN
    return Tlp.CLEAR


def may_redistribute(level: Tlp, source_group: GroupPolicy, destination: Destination) -> Decision:
    """DESIGN TLP rule 4: may an object of TLP `level` leave `source_group` for `destination`?

    CLEAR goes anywhere. GREEN goes to groups and peer hubs whose community is the source group's
    community (a group or peer without a community shares with nobody; an export is public, so GREEN is
    never exported). AMBER, AMBER+STRICT and RED never leave the collection they were shared into.
    """
    to = destination.display
    if level is Tlp.CLEAR:
        return _allow(Phrase("TLP:CLEAR may go anywhere, {destination} included", destination=to))
    if level is Tlp.GREEN:
        if destination.kind == "export":
            return _deny(
                Phrase("TLP:GREEN stays inside its community; {destination} would leave it", destination=to)
            )
        community = source_group.community
        if community is None:
            return _deny(
                Phrase(
                    "TLP:GREEN may not leave group {group}: it belongs to no community",
                    group=source_group.slug,
                )
            )
        if destination.community != community:
            return _deny(
                Phrase(
                    "TLP:GREEN flows only within community {community}; {destination} is in {theirs}",
                    community=community,
                    destination=to,
                    theirs=destination.community or Phrase("no community"),
                )
            )
        return _allow(
            Phrase(
                "TLP:GREEN may flow within community {community}, to {destination}",
                community=community,
                destination=to,
            )
        )
    return _deny(
        Phrase(
            "{level} never leaves the collection it was shared into, {destination} included",
            level=level.label,
            destination=to,
        )
    )
