"""The single ingest path: validate -> policy.accept -> store, returning a TAXII status."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.orm import Session

from hub import metrics
from hub.lookup.benign import DEFAULT_GUARD, Guard
from hub.lookup.values import door_problem
from hub.policy.rules import (
    CollectionPolicy,
    Submitter,
    accept,
)
from hub.policy.tlp import Tlp
from hub.provenance import Judged, Judgement, Row
from hub.stix import InvalidObject, check_and_serialise
from hub.store import objects as store
from hub.store import statuses
from hub.store.audit import record
from hub.store.markings import referenced
from hub.store.models import PRIVATE_TLP
from hub.store.statuses import failure_entry as _failure
from hub.vocab.time import format_us


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
        return statuses.status_resource(self.status_id, self.request_timestamp, self.successes, self.failures)


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
    judged: Judged[Candidate] = Judged()
    ctx: Judgement[Candidate] = Judgement(session, submission)
    refused = set(prepared.refused_definitions)
    index = ctx.definitions(prepared.candidates, judged, outcome.failures, refused)
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
            judged.rows.append(Row(cand, PRIVATE_TLP, None, private=True))
        else:
            outcome.failures.append(_failure(cand.obj, decision.reason))
    ctx.provenance(owned, judged, outcome.failures)
    _store(session, submission, judged, outcome, prepared.started)
    _count(outcome, invalid=len(prepared.failures))
    _record(session, submission, outcome, keep_status)
    session.flush()
    return outcome


def _store(
    session: Session, sub: Submission, judged: Judged[Candidate], outcome: Outcome, started: int
) -> None:
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
    parsed: dict[tuple[str, str, int, int], Any] = {}
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
        parsed[(sub.collection_id, c.sid, version_us, sub.org_id if r.private else 0)] = c.obj
    outcome.inserted = store.insert_versions(session, values, fresh=judged.fresh, objects=parsed)
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
        statuses.keep(
            session,
            status_id=outcome.status_id,
            collection_id=submission.collection_id,
            group_id=submission.group_id,
            org_id=submission.org_id,
            request_timestamp=outcome.request_timestamp,
            successes=outcome.successes,
            failures=outcome.failures,
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
