"""The single ingest path: validate -> policy.accept -> store, returning a TAXII status."""

from __future__ import annotations

import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.orm import Session

from hub import metrics
from hub.policy.rules import CollectionPolicy, Submitter, accept
from hub.stix import InvalidObject, check_object, format_us
from hub.store import objects as store
from hub.store.audit import record
from hub.store.markings import marking_index, referenced
from hub.store.models import Status


@dataclass(frozen=True)
class Submission:
    """Where objects go and who sends them (plain values, so sync jobs and imports use it too)."""

    collection: CollectionPolicy
    submitter: Submitter
    group_id: int
    account_id: int | None = None

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
    """A complete status resource whose lists always match its counts."""
    return {
        "id": status_id,
        "status": "complete",
        "request_timestamp": request_timestamp,
        "total_count": len(successes) + len(failures),
        "success_count": len(successes),
        "successes": successes,
        "failure_count": len(failures),
        "failures": failures,
        "pending_count": 0,
        "pendings": [],
    }


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


def add_objects(
    session: Session, *, submission: Submission, objects: list[Any], keep_status: bool = True
) -> Outcome:
    """Validate each object, ask the policy layer, store the accepted ones in one insert.

    A bad or refused object becomes a failure with a reason; it never stops the rest of the envelope
    and never touches what is already stored.
    """
    started = now_us()
    outcome = Outcome(status_id=str(uuid.uuid4()), request_timestamp=format_us(started))
    given = {
        o["id"]: o
        for o in objects
        if isinstance(o, dict) and o.get("type") == "marking-definition" and isinstance(o.get("id"), str)
    }
    markings = marking_index(
        session, collection_id=submission.collection_id, refs=referenced(objects), given=given
    )
    accepted: list[tuple[dict[str, Any], str, str, str, str | None, int | None, int, int | None]] = []
    for obj in objects:
        try:
            sid, stype, spec, version, version_us = check_object(obj)
        except InvalidObject as exc:
            outcome.failures.append(_failure(obj, str(exc)))
            metrics.refused("invalid")
            continue
        conflict = markings.conflicts.get(sid) if stype == "marking-definition" else None
        if conflict is not None:
            outcome.failures.append(_failure(obj, f"marking refused: {conflict.reason}"))
            metrics.refused("marking")
            continue
        decision = accept(obj, submission.collection, submission.submitter, markings=markings)
        if not decision.allowed or decision.levels is None:
            outcome.failures.append(_failure(obj, decision.reason))
            metrics.refused("policy")
            continue
        level, redact_level = decision.levels
        accepted.append(
            (
                obj,
                sid,
                stype,
                spec,
                version,
                version_us,
                int(level),
                None if redact_level is None else int(redact_level),
            )
        )

    # objects with neither `modified` nor `created` take their first date added as their version
    unversioned = [a[1] for a in accepted if a[5] is None]
    known = (
        store.existing_versions(session, collection_id=submission.collection_id, ids=unversioned)
        if unversioned
        else {}
    )
    last = store.last_date_added(session, collection_id=submission.collection_id) or 0
    base = max(started, last + 1)
    rows: list[dict[str, Any]] = []
    for i, (obj, sid, stype, spec, version, version_us, tlp, redact_tlp) in enumerate(accepted):
        # one microsecond apart, so that a page boundary never splits objects sharing a date added
        added = base + i
        if version_us is None:
            version, version_us = known.get(sid) or (format_us(added), added)
            known.setdefault(sid, (version, version_us))
        rows.append(
            {
                "collection_id": submission.collection_id,
                "stix_id": sid,
                "type": stype,
                "spec_version": spec,
                "version": version,
                "version_us": version_us,
                "date_added_us": added,
                "tlp": tlp,
                "redact_tlp": redact_tlp,
                "producer_id": submission.org_id,
                "body": orjson.dumps(obj),
            }
        )
    outcome.inserted = store.insert_versions(session, rows)
    metrics.stored(outcome.created)
    for row in rows:
        new = (row["stix_id"], row["version_us"]) in outcome.inserted
        outcome.successes.append(
            {
                "id": row["stix_id"],
                "version": row["version"],
                "message": "stored" if new else "already stored",
            }
        )
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
    record(
        session,
        action="push",
        organisation_id=submission.org_id,
        account_id=submission.account_id,
        group_id=submission.group_id,
        collection_id=submission.collection_id,
        count=outcome.created,
        detail=f"{len(rows) - outcome.created} already stored, {len(outcome.failures)} refused",
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
    session.flush()
    return outcome


def _failure(obj: Any, message: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"message": message}
    if isinstance(obj, dict):
        if isinstance(obj.get("id"), str):
            entry["id"] = obj["id"]
        v = obj.get("modified") or obj.get("created")
        if isinstance(v, str):
            entry["version"] = v
    entry.setdefault("id", "")
    return entry
