"""Provenance: who may add each object of an envelope, and where, judged against the shared record.

The policy layer's `accept` judges an object on its own (TLP, markings, the submitter's role). What it
cannot know is what the hub already holds: a marking definition is immutable once accepted in a
collection; an id belongs to the organisation that first published it (STIX 2.1 section 3.6), so
another may only relay a version it can see, and originator control decides whether a relay may enter
another group; and where the only truthful refusal would reveal an object the submitter may not see,
the object is kept as a private version instead (hub/policy/README.md, "Nothing hidden shows").
`hub.ingest` calls `Judgement` for each envelope and stores the rows it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import orjson
from sqlalchemy.orm import Session

from hub.policy.rules import CollectionPolicy, Destination, Submitter, accept, may_redistribute, visible_level
from hub.policy.tlp import MarkingIndex, Tlp
from hub.store import objects as store
from hub.store.markings import referenced, stored_definitions
from hub.store.models import PRIVATE_TLP
from hub.store.statuses import failure_entry
from hub.trust import access
from hub.vocab.stix import SCO_TYPES


class Candidate(Protocol):
    """What the judgement reads of a validated object (`hub.ingest.Candidate`)."""

    @property
    def obj(self) -> dict[str, Any]: ...
    @property
    def sid(self) -> str: ...
    @property
    def stype(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def version_us(self) -> int | None: ...


class Submitting(Protocol):
    """Where objects go and who sends them (`hub.ingest.Submission`)."""

    @property
    def collection(self) -> CollectionPolicy: ...
    @property
    def submitter(self) -> Submitter: ...
    @property
    def clearance(self) -> Tlp: ...
    @property
    def collection_id(self) -> str: ...
    @property
    def org_id(self) -> int: ...


C = TypeVar("C", bound=Candidate)


@dataclass(slots=True)
class Row(Generic[C]):
    """A version to insert: shared (private=False) or readable by its publisher only."""

    cand: C
    tlp: int
    redact_tlp: int | None
    private: bool = False


@dataclass
class Judged(Generic[C]):
    rows: list[Row[C]] = field(default_factory=list)
    # already in the shared record and visible to the submitter: (id, version) answered "already stored"
    present: list[tuple[str, str]] = field(default_factory=list)
    # ids (lowercased) nobody owned until this envelope claimed them: no version of them is stored
    fresh: frozenset[str] = frozenset()


class Judgement(Generic[C]):
    """The judgement of one envelope's objects beyond the policy's `accept`: immutable marking
    definitions, who owns each id (STIX 2.1 section 3.6), originator control on relays, and the private
    version where any other answer would reveal a hidden object. What it needs from the database is
    read once, and only when needed."""

    def __init__(self, session: Session, submission: Submitting) -> None:
        self.session = session
        self.sub = submission
        self.org = submission.org_id
        self.identities = access.member_identities(session)
        self.hidden_definitions: set[str] = set()
        self.visible_definitions: dict[str, Mapping[str, Any]] = {}

    def sees(self, tlp: int, producer: int) -> bool:
        """May the submitter read a row of this collection (the policy's visibility rule)?"""
        return visible_level(
            reader_org_id=self.org, clearance=self.sub.clearance, level=tlp, producer_org_id=producer
        )

    def definitions(
        self, cands: list[C], judged: Judged[C], failures: list[dict[str, Any]], refused: set[str]
    ) -> MarkingIndex:
        """Judge the envelope's marking definitions; the index of those that classify its objects.

        Marking definitions are immutable: the first accepted body of an id in a collection is final.
        Only accepted definitions (stored or accepted now) and the built-in TLP ones classify.
        """
        defs = [c for c in cands if c.stype == "marking-definition"]
        refs = referenced(c.obj for c in cands) | {c.sid for c in defs}
        stored = stored_definitions(self.session, collection_id=self.sub.collection_id, ids=refs)
        canonical: dict[str, Mapping[str, Any]] = {k: v.body for k, v in stored.items()}
        for sid, sd in stored.items():
            if self.sees(sd.tlp, sd.producer_id):
                self.visible_definitions[sid] = sd.body
            else:
                self.hidden_definitions.add(sid)
        builtin = MarkingIndex(canonical)
        for cand in defs:
            known = canonical.get(cand.sid)
            if known is not None:
                if cand.sid in self.hidden_definitions:
                    judged.rows.append(Row(cand, PRIVATE_TLP, None, private=True))
                    self.visible_definitions.setdefault(cand.sid, cand.obj)
                elif known == cand.obj:
                    judged.present.append((cand.sid, cand.version or ""))
                else:
                    refused.add(cand.sid)
                    failures.append(
                        failure_entry(
                            cand.obj,
                            f"marking refused: {cand.sid} is already defined in this collection with other "
                            "content; a marking definition is never versioned (STIX 2.1 section 7.2.1), "
                            "so publish a new one under a new id",
                        )
                    )
                continue
            conflict = MarkingIndex([cand.obj]).conflicts.get(cand.sid)
            if conflict is not None:
                refused.add(cand.sid)
                failures.append(failure_entry(cand.obj, f"marking refused: {conflict.reason}"))
                continue
            decision = accept(
                cand.obj,
                self.sub.collection,
                self.sub.submitter,
                markings=builtin,
                member_identities=self.identities,
            )
            if not decision.allowed or decision.levels is None:
                refused.add(cand.sid)
                failures.append(failure_entry(cand.obj, decision.reason))
                continue
            canonical[cand.sid] = cand.obj
            self.visible_definitions[cand.sid] = cand.obj
            level, redact_level = decision.levels
            judged.rows.append(Row(cand, int(level), None if redact_level is None else int(redact_level)))
        return MarkingIndex(canonical)

    def levels_without_hidden(self, cand: C, index: MarkingIndex) -> tuple[Tlp, Tlp | None] | None:
        """For a refused object that references hidden definitions: its levels as the submitter can
        know them, when they would be accepted (the refusal would reveal the hidden definition)."""
        if not self.hidden_definitions or not (referenced([cand.obj]) & self.hidden_definitions):
            return None
        decision = accept(
            cand.obj,
            self.sub.collection,
            self.sub.submitter,
            markings=MarkingIndex(self.visible_definitions),
            member_identities=self.identities,
        )
        return decision.levels if decision.allowed else None

    def provenance(
        self, owned: list[tuple[C, tuple[Tlp, Tlp | None]]], judged: Judged[C], failures: list[dict[str, Any]]
    ) -> None:
        """Ownership and originator control: who may add each accepted object, and where.

        Ids are owned case-insensitively (RFC 4122 UUIDs compare so): `indicator--ABC…` is the same
        object as `indicator--abc…` to a consumer, so it is the same object here too.
        """
        ids = sorted({c.sid.lower() for c, _ in owned if c.stype not in SCO_TYPES})
        owners: dict[str, tuple[int, str]] = {}
        for ident in set(ids) & self.identities.keys():
            owners[ident] = (self.identities[ident], self.sub.collection_id)
        # claim first: for new objects (the common case) that is the only statement; ids owned
        # already, or claimed a moment ago by a concurrent writer, are then looked up
        claimable = [i for i in ids if i not in owners]
        if store.claim_owners(
            self.session, ids=claimable, org_id=self.org, collection_id=self.sub.collection_id
        ):
            owners.update(dict.fromkeys(claimable, (self.org, self.sub.collection_id)))
            judged.fresh = frozenset(claimable)
        else:  # some were owned already: every owner, the ones just claimed included, is looked up
            owners.update(store.owners(self.session, ids=claimable))
        foreign = {i for i in ids if i in owners and owners[i][0] != self.org}
        spellings = {c.sid for c, _ in owned if c.sid.lower() in foreign} | foreign
        record = self._shared_record(sorted(spellings)) if foreign else {}
        for cand, (level, redact_level) in owned:
            row = Row(cand, int(level), None if redact_level is None else int(redact_level))
            key = cand.sid.lower()
            if cand.stype in SCO_TYPES or key not in foreign:
                judged.rows.append(row)
                continue
            if key in self.identities:
                failures.append(
                    failure_entry(
                        cand.obj,
                        f"{cand.sid} is the hub's record of a member organisation: only that organisation "
                        "publishes its identity",
                    )
                )
                continue
            self._foreign(cand, row, owners[key][1], record.get(key, []), judged, failures)

    def _shared_record(self, ids: list[str]) -> dict[str, list[store.StoredVersion]]:
        versions = store.shared_versions(self.session, ids=ids)
        self.clearances = access.read_clearances(
            self.session, org_id=self.org, collection_ids={v.collection_id for v in versions}
        )
        self.groups = access.collection_groups(
            self.session,
            collection_ids={v.collection_id for v in versions} | {self.sub.collection_id},
        )
        out: dict[str, list[store.StoredVersion]] = {}
        for v in versions:
            out.setdefault(v.stix_id.lower(), []).append(v)
        return out

    def _visible(self, v: store.StoredVersion) -> bool:
        clearance = self.clearances.get(v.collection_id)
        return v.producer_id == self.org or (clearance is not None and v.tlp <= clearance)

    def _foreign(
        self,
        cand: C,
        row: Row[C],
        origin: str,
        versions: list[store.StoredVersion],
        judged: Judged[C],
        failures: list[dict[str, Any]],
    ) -> None:
        """An object another organisation owns: a relay of a version it may see, or nothing shared."""
        seen = [v for v in versions if self._visible(v)]
        if not seen:
            # answering anything but "stored" would say that a hidden object exists
            judged.rows.append(Row(cand, PRIVATE_TLP, None, private=True))
            return
        same = [
            v
            for v in seen
            if v.stix_id == cand.sid and v.version_us == cand.version_us and orjson.loads(v.body) == cand.obj
        ]
        if not same:
            failures.append(
                failure_entry(
                    cand.obj,
                    f"{cand.sid} was first published in this hub by another organisation: only its "
                    "publisher adds versions of it (STIX 2.1 section 3.6)",
                )
            )
            return
        here = [
            v
            for v in versions
            if v.collection_id == self.sub.collection_id and v.version_us == cand.version_us
        ]
        if here:
            if any(self._visible(v) for v in here):
                judged.present.append((cand.sid, cand.version or ""))
            else:
                judged.rows.append(Row(cand, PRIVATE_TLP, None, private=True))
            return
        source = self.groups.get(origin)
        level = max((v.tlp for v in versions if v.collection_id == origin), default=None)
        if source is None or level is None:  # its first collection no longer holds it
            level = max(v.tlp for v in versions)
            source = self.groups[versions[0].collection_id]
        target = self.sub.collection.group
        decision = may_redistribute(
            Tlp(level), source, Destination(kind="group", name=target.slug, community=target.community)
        )
        if decision.allowed:
            judged.rows.append(row)
        else:
            failures.append(
                failure_entry(
                    cand.obj,
                    f"originator control: {cand.sid} was first shared by another organisation in another "
                    f"collection, and at its TLP there only its publisher may bring it into group "
                    f"{target.slug}",
                )
            )
