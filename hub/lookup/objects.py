"""One object's page: its latest visible version, versions, collections, and who may see it and why."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.lookup import reads
from hub.lookup.benign import benign_list
from hub.lookup.values import lifecycle, values_of
from hub.policy.explain import explain_read
from hub.policy.rules import Reader, Role, may_read, read_clearance
from hub.policy.tlp import Tlp
from hub.policy.words import Phrase
from hub.store import reads as door
from hub.store import values as value_index
from hub.store.markings import marking_index, referenced
from hub.trust import access
from hub.trust.models import Membership, Organisation
from hub.trust.service import Principal
from hub.vocab.time import format_us
from hub.vocab.values import value_key

__all__ = ["Audience", "ObjectView", "Placement", "ReaderDecision", "VersionInfo", "object_view"]

MAX_VERSIONS = 200  # per collection; the newest are kept


@dataclass(frozen=True)
class VersionInfo:
    """One version the member may read, in one collection."""

    collection_id: str
    version: str
    date_added: str
    publisher: str
    tlp: Tlp
    private: bool


@dataclass(frozen=True)
class Placement:
    """A collection the member may read that holds the object, with its latest version there."""

    group: str
    group_name: str
    collection_id: str
    collection: str  # alias
    title: str
    kind: str  # group | named
    clearance: Tlp  # the member's clearance reading this collection
    version: str


@dataclass(frozen=True)
class ReaderDecision:
    """May one organisation of the member's own trust group see the object there, and why."""

    organisation: str  # slug
    name: str
    role: str | None
    clearance: Tlp | None  # its read clearance in this collection; None when it may not read it
    allowed: bool
    explanation: str


@dataclass(frozen=True)
class Audience:
    """Who may see the object in one collection: each organisation of the group the member may know of."""

    group: str
    collection_id: str
    collection: str
    note: str
    decisions: list[ReaderDecision]


@dataclass(frozen=True)
class ObjectView:
    """The object as the member receives it (redacted like TAXII), with what the page shows about it."""

    id: str
    type: str
    object: dict[str, Any]
    body: bytes  # the JSON the member receives: the stored bytes, or TAXII's redacted copy
    redacted: bool  # optional content marked above the member's clearance was removed
    tlp: Tlp
    private: bool
    group: str
    collection_id: str
    collection: str
    version: str
    date_added: str
    publisher: str
    publisher_slug: str
    author: str | None  # the created_by_ref identity's name, when the member may see it
    author_ref: str | None
    versions: list[VersionInfo]
    collections: list[Placement]
    audience: list[Audience]
    # each value the object carries, with the distinct publishers the member sees reporting it in the
    # collections it may read (hub.store.values.reporters)
    reporters: tuple[tuple[str, int], ...] = ()

    @property
    def flagged(self) -> list[str]:
        """The known-benign lists holding the values this object would put on device lists."""
        found = (benign_list(v) for v in values_of(self.object, simple_only=True))
        return sorted({name for name in found if name is not None})

    @property
    def state(self) -> str | None:
        """ "revoked" or "expired" (hub.lookup.values.lifecycle): left out of device lists."""
        return lifecycle(self.object)


@dataclass(frozen=True)
class _Latest:
    acc: access.CollectionAccess
    row: Any
    got: reads.Redacted


def object_view(session: Session, principal: Principal, object_id: str) -> ObjectView | None:
    """The latest version of `object_id` `principal` may read, in any collection it may read.

    None when the object is absent and when it is hidden: the two are not told apart.
    """
    if not object_id or len(object_id) > 300:
        return None
    accesses = reads.readable(session, principal)
    latest = _latest(session, principal, object_id, accesses)
    if not latest:
        return None
    # the newest version wins; among equal versions (copies of an observable), the last added
    best = max(latest, key=lambda x: (x.row.version_us, x.row.date_added_us, x.row.seq))
    row, acc, obj = best.row, best.acc, best.got.obj
    names = reads.organisation_names(session, [x.row.producer_id for x in latest])
    versions = _versions(session, principal, object_id, [x.acc for x in latest])
    names |= reads.organisation_names(session, [v[1] for v in versions])
    tlp = reads.display_tlp(
        session, tlp=row.tlp, obj=obj, collection_id=acc.collection.id, default=acc.group.default_tlp
    )
    author_ref = obj.get("created_by_ref") if isinstance(obj.get("created_by_ref"), str) else None
    seen: set[str] = set()
    placements = []
    for x in sorted(latest, key=lambda x: (x.acc.group.slug, x.acc.collection.alias)):
        if x.acc.collection.id in seen:
            continue
        seen.add(x.acc.collection.id)
        placements.append(
            Placement(
                group=x.acc.group.slug, group_name=x.acc.group.name, collection_id=x.acc.collection.id,
                collection=x.acc.collection.alias, title=x.acc.collection.title, kind=x.acc.collection.kind,
                clearance=x.acc.clearance, version=x.row.version,
            )
        )  # fmt: skip
    return ObjectView(
        id=row.stix_id,
        type=row.type,
        object=obj,
        body=best.got.body,
        redacted=best.got.redacted,
        tlp=tlp,
        private=row.private_to != 0,
        group=acc.group.slug,
        collection_id=acc.collection.id,
        collection=acc.collection.alias,
        version=row.version,
        date_added=format_us(row.date_added_us),
        publisher=names.get(row.producer_id, ("", ""))[1],
        publisher_slug=names.get(row.producer_id, ("", ""))[0],
        author=_author(session, principal, author_ref, row.producer_id, accesses) if author_ref else None,
        author_ref=author_ref,
        versions=[
            VersionInfo(
                collection_id=cid,
                version=ver,
                date_added=format_us(added),
                publisher=names.get(producer, ("", ""))[1],
                tlp=vtlp,
                private=private,
            )
            for cid, producer, ver, added, vtlp, private in versions
        ],
        collections=placements,
        audience=[_audience(session, principal, x) for x in _one_per_collection(latest)],
        reporters=_reporters(session, principal, obj, accesses),
    )


def _reporters(
    session: Session, principal: Principal, obj: dict[str, Any], accesses: list[access.CollectionAccess]
) -> tuple[tuple[str, int], ...]:
    """Each value of `obj` with the distinct publishers `principal` sees reporting it (hub.store.values)."""
    values = values_of(obj)
    found = {v.value: value_key(v.kind, v.value) for v in values}
    if not found:
        return ()
    scopes = [
        value_index.Scope(principal.org_id, int(c), tuple(a.collection.id for a in accs))
        for c, accs in reads.by_clearance(accesses).items()
    ]
    counts = value_index.reporters(
        session, scopes, found.values(), now_us=time.time_ns() // 1000, kinds={v.kind for v in values}
    )
    return tuple((value, counts.get(key, 0)) for value, key in found.items())


def _latest(
    session: Session, principal: Principal, object_id: str, accesses: list[access.CollectionAccess]
) -> list[_Latest]:
    """The latest visible version of the id in each readable collection (one per publisher for SCOs)."""
    out: list[_Latest] = []
    for clearance, accs in reads.by_clearance(accesses).items():
        by_id = {a.collection.id: a for a in accs}
        rows = door.visible_versions(
            session, reader=door.Reader(principal.org_id, clearance), collections=list(by_id),
            columns=("seq", "collection_id", "stix_id", "type", "version", "version_us", "date_added_us",
                     "tlp", "redact_tlp", "producer_id", "private_to", "body"),
            filters=door.Filters(ids=(object_id,)), order="seq",
        )  # fmt: skip
        received = reads.as_received(session, rows, clearance_of=dict.fromkeys(by_id, clearance))
        for r in rows:
            got = received[r.seq]
            if got is not None:  # withheld: a required property is marked above the clearance
                out.append(_Latest(by_id[r.collection_id], r, got))
    return out


def _one_per_collection(latest: list[_Latest]) -> list[_Latest]:
    chosen: dict[str, _Latest] = {}
    for x in sorted(latest, key=lambda x: (x.row.version_us, x.row.date_added_us)):
        chosen[x.acc.collection.id] = x
    return sorted(chosen.values(), key=lambda x: (x.acc.group.slug, x.acc.collection.alias))


def _versions(
    session: Session, principal: Principal, object_id: str, accesses: list[access.CollectionAccess]
) -> list[tuple[str, int, str, int, Tlp, bool]]:
    """Every visible version of the id in the collections holding it (TAXII's versions: `all`)."""
    out: list[tuple[str, int, str, int, Tlp, bool]] = []
    unique = {a.collection.id: a for a in accesses}
    for clearance, accs in reads.by_clearance(unique.values()).items():
        rows = door.visible_versions(
            session, reader=door.Reader(principal.org_id, clearance),
            collections=[a.collection.id for a in accs],
            columns=("collection_id", "producer_id", "version", "date_added_us", "tlp", "private_to"),
            filters=door.Filters(ids=(object_id,), versions=("all",)), order="newest",
            limit=MAX_VERSIONS * len(accs),
        )  # fmt: skip
        for cid, producer, ver, added, tlp, private_to in rows:
            level = Tlp(min(tlp, Tlp.RED))
            out.append((cid, producer, ver, added, level, private_to != 0))
    out.sort(key=lambda v: v[3], reverse=True)
    return out


def _author(
    session: Session,
    principal: Principal,
    ref: str,
    producer_id: int,
    accesses: list[access.CollectionAccess],
) -> str | None:
    """The name of the identity `ref`: the hub's record of the publisher, or an identity object the
    member may read itself; None when neither (an author the member cannot see stays a bare id)."""
    org = session.scalar(select(Organisation).where(Organisation.identity_id == ref.lower()))
    if org is not None:
        return org.name if org.id == producer_id or org.id == principal.org_id else None
    for clearance, accs in reads.by_clearance(accesses).items():
        by_id = {a.collection.id: a for a in accs}
        rows = door.visible_versions(
            session, reader=door.Reader(principal.org_id, clearance), collections=list(by_id),
            columns=("seq", "collection_id", "redact_tlp", "body"),
            filters=door.Filters(ids=(ref,), types=("identity",)), order="newest", limit=1,
        )  # fmt: skip
        for got in reads.as_received(session, rows, clearance_of=dict.fromkeys(by_id, clearance)).values():
            if got is not None and isinstance(got.obj.get("name"), str):
                return str(got.obj["name"])
    return None


def _audience(session: Session, principal: Principal, latest: _Latest) -> Audience:
    """For each organisation of the collection's group the member may know of: may it see this, and why.

    Explained on the object as the member receives it (redacted), so the answer names no property the
    member does not see. A named-recipient collection's recipients are shown only to its owner; a
    recipient sees its own answer and the owner's. In a group collection a member that does not
    coordinate the group sees its own answer and the publisher's only.
    """
    acc, row, obj = latest.acc, latest.row, latest.got.obj
    coll = acc.collection
    note = ""
    members: list[tuple[Organisation, Membership]] = [
        (o, m)
        for o, m in session.execute(
            select(Organisation, Membership)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(Membership.group_id == acc.group.id)
            .order_by(Organisation.slug)
        )
    ]
    if row.private_to != 0:
        members = [(o, m) for o, m in members if o.id == principal.org_id]
        note = Phrase("This is a private version: only its publisher reads it.")
    elif coll.kind == "named" and coll.owner_id != principal.org_id:
        members = [(o, m) for o, m in members if o.id in (principal.org_id, coll.owner_id)]
        note = Phrase("A named-recipient collection: its owner chooses who reads it.")
    elif not principal.is_admin and acc.role != "coordinator":
        # a group's members, roles and clearances are its coordinators' to know (the admin API's rule)
        members = [(o, m) for o, m in members if o.id in (principal.org_id, row.producer_id)]
        note = Phrase(
            "Only your organisation and the publisher are shown; the group's coordinators see every member."
        )
    markings = marking_index(session, collection_id=coll.id, refs=referenced([obj]))
    level = Tlp(min(row.tlp, Tlp.RED))
    decisions = []
    for org, m in members:
        reader = Reader(org_id=org.id, role=cast(Role, m.role), clearance=Tlp(m.clearance), name=org.slug)
        if row.private_to != 0:
            text: str
            allowed, text = (
                org.id == row.producer_id,
                Phrase("A private version: only its publisher reads it."),
            )
            clearance = None
        else:
            allowed = may_read(reader, acc.policy, level, row.producer_id).allowed
            text = explain_read(
                reader=reader,
                collection=acc.policy,
                obj=obj,
                markings=markings,
                producer_org_id=row.producer_id,
            )
            clearance = read_clearance(reader, acc.policy)
        decisions.append(ReaderDecision(org.slug, org.name, m.role, clearance, allowed, text))
    return Audience(acc.group.slug, coll.id, coll.alias, note, decisions)
