"""The single ingest path: validate -> policy.accept -> store, returning a TAXII status."""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.orm import Session

from hub import metrics
from hub.lookup.benign import DEFAULT_GUARD, Guard
from hub.lookup.values import door_problem
from hub.policy.rules import (
    CollectionPolicy,
    Destination,
    Submitter,
    accept,
    may_redistribute,
    visible_level,
)
from hub.policy.tlp import MarkingIndex, Tlp
from hub.stix import SCO_TYPES, InvalidObject, check_and_serialise, format_us
from hub.store import objects as store
from hub.store.audit import record
from hub.store.markings import referenced, stored_definitions
from hub.store.models import PRIVATE_TLP, Status
from hub.trust import access


@dataclass(frozen=True)
class Submission:
    """Where objects go and who sends them (plain values, so sync jobs and imports use it too)."""

    collection: CollectionPolicy
    submitter: Submitter
    group_id: int
    account_id: int | None = None
    # the clearance the submitter reads this collection with (policy.read_clearance): what it may see
    # decides which answers would reveal hidden objects; CLEAR, the default, hides the most
    clearance: Tlp = Tlp.CLEAR

    @property
    def collection_id(self) -> str:
        return self.collection.id

    @property
    def org_id(self) -> int:
        return self.submitter.org_id


@dataclass
class Outcome:
    """What became of an envelope: TAXII status entries and counts."""

    status_id: str
    request_timestamp: str
    successes: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    inserted: set[tuple[str, int]] = field(default_factory=set)  # (id, version µs) stored by this call

    @property
    def created(self) -> int:
        """New versions actually stored (re-posts of a stored version are not)."""
        return len(self.inserted)

    def resource(self) -> dict[str, Any]:
        """The TAXII 2.1 status resource (section 4.3.1)."""
        return status_resource(self.status_id, self.request_timestamp, self.successes, self.failures)


def status_resource(
    status_id: str, request_timestamp: str, successes: list[dict[str, Any]], failures: list[dict[str, Any]]
) -> dict[str, Any]:
    """A complete status resource whose lists always match its counts.

    TAXII 2.1 section 4.3.1 forbids empty lists, so a list with no entries is left out (counts stay).
    """
    body: dict[str, Any] = {
        "id": status_id,
        "status": "complete",
        "request_timestamp": request_timestamp,
        "total_count": len(successes) + len(failures),
        "success_count": len(successes),
        "failure_count": len(failures),
        "pending_count": 0,
    }
    if successes:
        body["successes"] = successes
    if failures:
        body["failures"] = failures
    return body


def pack_details(successes: list[dict[str, Any]], failures: list[dict[str, Any]]) -> bytes:
    """A status's entry lists, compressed: an envelope's thousand entries shrink about tenfold."""
    return zlib.compress(orjson.dumps({"successes": successes, "failures": failures}), 1)


def unpack_details(blob: bytes) -> dict[str, list[dict[str, Any]]]:
    """The entry lists stored by `pack_details`."""
    details: dict[str, list[dict[str, Any]]] = orjson.loads(zlib.decompress(blob))
    return details


def now_us() -> int:
    """The current time in microseconds since the epoch."""
    return time.time_ns() // 1000


# ---------------------------------------------------------------- validation (no database)


@dataclass(slots=True)
class Candidate:
    """An object that passed validation, with what storage needs of it."""

    obj: dict[str, Any]
    sid: str
    stype: str
    spec: str
    version: str | None
    version_us: int | None
    body: bytes


@dataclass
class Prepared:
    """An envelope after validation: its candidates and the failures so far."""

    started: int
    candidates: list[Candidate] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    # ids of marking definitions this envelope carries but that were refused: they classify nothing,
    # and the objects referencing them are refused too (their sender meant a level we did not accept)
    refused_definitions: set[str] = field(default_factory=set)

    def refuse(self, obj: Any, message: str) -> None:
        """Record a failure for `obj`."""
        self.failures.append(_failure(obj, message))
        if (
            isinstance(obj, dict)
            and obj.get("type") == "marking-definition"
            and isinstance(obj.get("id"), str)
        ):
            self.refused_definitions.add(obj["id"])


def prepare(objects: list[Any], guard: Guard = DEFAULT_GUARD) -> Prepared:
    """Validate each object of an envelope. Pure CPU, no database: run it before the write transaction,
    so that costly validation (patterns) never holds a write lock. `guard` holds the receiving group's
    IP prefix minimums and, when it refuses known-benign values, its lists (hub.trust.benign)."""
    prepared = Prepared(started=now_us())
    benign = guard.listed if guard.mode == "refuse" else None
    for obj in objects:
        try:
            sid, stype, spec, version, version_us, body = check_and_serialise(obj)
        except InvalidObject as exc:
            prepared.refuse(obj, str(exc))
            continue
        except (orjson.JSONEncodeError, TypeError) as exc:
            prepared.refuse(obj, f"the object cannot be stored as JSON: {exc}")
            continue
        refused_value = door_problem(obj, guard.limits, benign)
        if refused_value is not None:
            prepared.refuse(obj, refused_value)
            continue
        prepared.candidates.append(Candidate(obj, sid, stype, spec, version, version_us, body))
    return prepared


# ---------------------------------------------------------------- storage (one write transaction)


@dataclass(slots=True)
class _Row:
    """A version to insert: shared (private=False) or readable by its publisher only."""

    cand: Candidate
    tlp: int
    redact_tlp: int | None
    private: bool = False


@dataclass
class _Judged:
    rows: list[_Row] = field(default_factory=list)
    # already in the shared record and visible to the submitter: (id, version) answered "already stored"
    present: list[tuple[str, str]] = field(default_factory=list)
    # ids (lowercased) nobody owned until this envelope claimed them: no version of them is stored
    fresh: frozenset[str] = frozenset()


def add_objects(
    session: Session, *, submission: Submission, objects: list[Any], keep_status: bool = True
) -> Outcome:
    """Validate, judge and store an envelope (`prepare` + `add_prepared`)."""
    return add_prepared(session, submission=submission, prepared=prepare(objects), keep_status=keep_status)


def add_prepared(
    session: Session, *, submission: Submission, prepared: Prepared, keep_status: bool = True
) -> Outcome:
    """Judge each validated object (policy, provenance), store the accepted ones in one insert.

    A bad or refused object becomes a failure with a reason; it never stops the rest of the envelope
    and never touches what is already stored. Where the only truthful refusal would reveal an object
    the submitter may not see (a hidden object's id, a hidden marking definition), the object is stored
    as a private version instead: only its publisher ever reads it, and the answer is the one an
    absent object gets (hub/policy/README.md, "Nothing hidden shows").
    """
    outcome = Outcome(status_id=str(uuid.uuid4()), request_timestamp=format_us(prepared.started))
    outcome.failures.extend(prepared.failures)
    judged = _Judged()
    ctx = _Context(session, submission)
    refused = set(prepared.refused_definitions)
    index = ctx.definitions(prepared.candidates, judged, outcome, refused)
    accepted = [c for c in prepared.candidates if c.stype != "marking-definition"]
    owned: list[tuple[Candidate, tuple[Tlp, Tlp | None]]] = []
    for cand in accepted:
        bad = referenced([cand.obj]) & refused if refused else None
        if bad:
            outcome.failures.append(
                _failure(
                    cand.obj,
                    f"marking refused: it references {min(bad)}, a marking definition this envelope "
                    "carries that was refused",
                )
            )
            continue
        decision = accept(
            cand.obj,
            submission.collection,
            submission.submitter,
            markings=index,
            member_identities=ctx.identities,
        )
        if decision.allowed and decision.levels is not None:
            owned.append((cand, decision.levels))
            continue
        private_levels = ctx.levels_without_hidden(cand, index)
        if private_levels is not None:
            judged.rows.append(_Row(cand, PRIVATE_TLP, None, private=True))
        else:
            outcome.failures.append(_failure(cand.obj, decision.reason))
    ctx.provenance(owned, judged, outcome)
    _store(session, submission, judged, outcome, prepared.started)
    _count(outcome, invalid=len(prepared.failures))
    _record(session, submission, outcome, keep_status)
    session.flush()
    return outcome


class _Context:
    """What judging one envelope needs from the database, each read once and only when needed."""

    def __init__(self, session: Session, submission: Submission) -> None:
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
        self, cands: list[Candidate], judged: _Judged, outcome: Outcome, refused: set[str]
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
                    judged.rows.append(_Row(cand, PRIVATE_TLP, None, private=True))
                    self.visible_definitions.setdefault(cand.sid, cand.obj)
                elif known == cand.obj:
                    judged.present.append((cand.sid, cand.version or ""))
                else:
                    refused.add(cand.sid)
                    outcome.failures.append(
                        _failure(
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
                outcome.failures.append(_failure(cand.obj, f"marking refused: {conflict.reason}"))
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
                outcome.failures.append(_failure(cand.obj, decision.reason))
                continue
            canonical[cand.sid] = cand.obj
            self.visible_definitions[cand.sid] = cand.obj
            level, redact_level = decision.levels
            judged.rows.append(_Row(cand, int(level), None if redact_level is None else int(redact_level)))
        return MarkingIndex(canonical)

    def levels_without_hidden(self, cand: Candidate, index: MarkingIndex) -> tuple[Tlp, Tlp | None] | None:
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
        self, owned: list[tuple[Candidate, tuple[Tlp, Tlp | None]]], judged: _Judged, outcome: Outcome
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
            row = _Row(cand, int(level), None if redact_level is None else int(redact_level))
            key = cand.sid.lower()
            if cand.stype in SCO_TYPES or key not in foreign:
                judged.rows.append(row)
                continue
            if key in self.identities:
                outcome.failures.append(
                    _failure(
                        cand.obj,
                        f"{cand.sid} is the hub's record of a member organisation: only that organisation "
                        "publishes its identity",
                    )
                )
                continue
            self._foreign(cand, row, owners[key][1], record.get(key, []), judged, outcome)

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
        cand: Candidate,
        row: _Row,
        origin: str,
        versions: list[store.StoredVersion],
        judged: _Judged,
        outcome: Outcome,
    ) -> None:
        """An object another organisation owns: a relay of a version it may see, or nothing shared."""
        seen = [v for v in versions if self._visible(v)]
        if not seen:
            # answering anything but "stored" would say that a hidden object exists
            judged.rows.append(_Row(cand, PRIVATE_TLP, None, private=True))
            return
        same = [
            v
            for v in seen
            if v.stix_id == cand.sid and v.version_us == cand.version_us and orjson.loads(v.body) == cand.obj
        ]
        if not same:
            outcome.failures.append(
                _failure(
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
                judged.rows.append(_Row(cand, PRIVATE_TLP, None, private=True))
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
            outcome.failures.append(
                _failure(
                    cand.obj,
                    f"originator control: {cand.sid} was first shared by another organisation in another "
                    f"collection, and at its TLP there only its publisher may bring it into group "
                    f"{target.slug}",
                )
            )


def _store(session: Session, sub: Submission, judged: _Judged, outcome: Outcome, started: int) -> None:
    """Assign dates added under the collection's write lock and insert the rows."""
    rows = judged.rows
    # Lowest level first and private rows last: every reader (other than the publisher, who sees all)
    # sees a prefix of an envelope's dates, so their spacing never counts objects hidden from it.
    rows.sort(key=lambda r: (r.private, r.tlp))
    unversioned = [r.cand.sid for r in rows if r.cand.version_us is None]
    known = (
        store.own_versions(session, collection_id=sub.collection_id, org_id=sub.org_id, ids=unversioned)
        if unversioned
        else {}
    )
    store.lock_collection(session, collection_id=sub.collection_id)
    last = store.last_date_added(session, collection_id=sub.collection_id) or 0
    base = max(now_us(), started, last + 1)
    values: list[store.NewVersion] = []
    for i, r in enumerate(rows):
        added = base + i
        c = r.cand
        version, version_us = c.version, c.version_us
        if version_us is None:
            # an SCO's version is the date its publisher first added this content (TAXII 2.1 3.4.1)
            prior = known.get(c.sid)
            if prior is not None and (prior[2] == c.body or orjson.loads(prior[2]) == c.obj):
                version, version_us = prior[0], prior[1]
            else:
                version, version_us = format_us(added), added
                known[c.sid] = (version, version_us, c.body)
        values.append(
            store.NewVersion(
                sub.collection_id,
                c.sid,
                c.stype,
                c.spec,
                version or "",  # set with version_us: an object's own, or the SCO's date above
                version_us,
                added,
                r.tlp,
                r.redact_tlp,
                sub.org_id,
                sub.org_id if r.private else 0,
                c.body,
            )
        )
    outcome.inserted = store.insert_versions(session, values, fresh=judged.fresh)
    present = [v for v in values if (v.stix_id, v.version_us) not in outcome.inserted]
    stored = (
        store.stored_bodies(
            session,
            collection_id=sub.collection_id,
            keys=[(v.stix_id, v.version_us, v.private_to) for v in present],
        )
        if present
        else {}
    )
    for v in values:
        if (v.stix_id, v.version_us) in outcome.inserted:
            message = "stored"
        else:
            body = stored.get((v.stix_id, v.version_us, v.private_to))
            if body is not None and body != v.body and orjson.loads(body) != orjson.loads(v.body):
                # the caller's own version (only its publisher writes a version), changed in place
                outcome.failures.append(
                    _failure(
                        orjson.loads(v.body),
                        f"version {v.version} of {v.stix_id} is already stored with other content: "
                        "a changed object needs a later 'modified' (STIX 2.1 section 3.6)",
                    )
                )
                continue
            message = "already stored"
        outcome.successes.append({"id": v.stix_id, "version": v.version, "message": message})
    for sid, version in judged.present:
        outcome.successes.append({"id": sid, "version": version, "message": "already stored"})


def _count(outcome: Outcome, *, invalid: int) -> None:
    """Metrics: versions stored, and objects refused by kind (invalid, marking, policy)."""
    metrics.stored(outcome.created)
    for f in outcome.failures[invalid:]:
        metrics.refused("marking" if f["message"].startswith("marking refused") else "policy")
    for _ in range(invalid):
        metrics.refused("invalid")


def _record(session: Session, submission: Submission, outcome: Outcome, keep_status: bool) -> None:
    if keep_status:
        session.add(
            Status(
                id=outcome.status_id,
                collection_id=submission.collection_id,
                group_id=submission.group_id,
                organisation_id=submission.org_id,
                request_timestamp=outcome.request_timestamp,
                status="complete",
                total_count=len(outcome.successes) + len(outcome.failures),
                success_count=len(outcome.successes),
                failure_count=len(outcome.failures),
                pending_count=0,
                details=pack_details(outcome.successes, outcome.failures),
            )
        )
    stored_before = len(outcome.successes) - outcome.created
    record(
        session,
        action="push",
        organisation_id=submission.org_id,
        account_id=submission.account_id,
        group_id=submission.group_id,
        collection_id=submission.collection_id,
        count=outcome.created,
        detail=f"{stored_before} already stored, {len(outcome.failures)} refused",
    )
    if outcome.failures:
        reasons = sorted({f["message"] for f in outcome.failures})[:5]
        record(
            session,
            action="push-refused",
            organisation_id=submission.org_id,
            account_id=submission.account_id,
            group_id=submission.group_id,
            collection_id=submission.collection_id,
            count=len(outcome.failures),
            detail="; ".join(reasons)[:2000],
        )


MAX_ENTRY_TEXT = 500  # characters of a status entry's message or id: junk entries stay small


def _failure(obj: Any, message: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"message": message[:MAX_ENTRY_TEXT]}
    if isinstance(obj, dict):
        if isinstance(obj.get("id"), str):
            entry["id"] = obj["id"][:MAX_ENTRY_TEXT]
        v = obj.get("modified") or obj.get("created")
        if isinstance(v, str):
            entry["version"] = v[:40]
    entry.setdefault("id", "")
    return entry
