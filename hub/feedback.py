"""Feedback to the originator: members' sightings, false positives and notes on objects they may read.

A report is STIX 2.1, so every TAXII client and misp-stix reads it: a `sighting` (`sighting_of_ref`
the object), a false positive as an `opinion` `strongly-disagree` on it (misp-stix's convention for
MISP's false-positive sighting), or a `note`. Any member that may read an object may report on it,
into the collection that holds it: over TAXII (a reader, or a member that may not write there, posts
these and only these), from the console, the CLI and the lookup API (`report`). A report on an object
the reporter cannot read gets the answer an absent id gets.

Who reads a report is the group's `feedback_visibility`:

- `publisher` (default): the reporter, the object's publisher and the group's coordinators read it
  (the version row's `audience`, applied by the read door); every other member gets it as an absent
  object and sees counts only;
- `everyone-anonymous`: the same rows, but every member also sees each report's kind, count and dates
  on the object page and in the lookup API, without the reporter;
- `everyone`: a report is an ordinary object of the collection (TAXII, reporters named).

Counts ("seen by 3 organisations, reported false positive by 1", `summaries`) are read through the read
door (`hub.store.reads.report_rows`): only reports the reader may read but for their audience, on
objects it may read. False-positive reports from `false_positive_threshold` distinct organisations hold
the object out of device lists until its publisher confirms it (it stays listed; only later reports
count towards a new hold) or revokes it (`decide`). A sighting extends an indicator's lifetime: its
device-list validity counts from the last sighting (valid_until - valid_from after it).

Across hubs, what may leave is the read door's (`hub.store.reads._leaving`): a push or an export
carries a report only with the object it names and only without an audience; a two-way pull feed
posts the reports on what it brought in back to its upstream hub (`hub.sync.feedback`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import ingest
from hub.errors import BadRequest, Forbidden, NotFound
from hub.lookup.benign import DEFAULT_GUARD, Guard
from hub.policy.granular import storage_levels
from hub.policy.rules import Submitter
from hub.policy.tlp import MarkingConflict, Tlp, marking_ids
from hub.provenance import Judged, Row
from hub.stix import InvalidObject, timestamp_us
from hub.store import feedback as rows
from hub.store import objects as store
from hub.store import reads as door
from hub.store.audit import record
from hub.store.markings import marking_index, referenced
from hub.store.models import PRIVATE_TLP
from hub.store.statuses import failure_entry
from hub.trust import access
from hub.trust.models import Organisation, TrustGroup
from hub.trust.service import Principal
from hub.vocab.time import format_us

POLICIES = ("publisher", "everyone-anonymous", "everyone")
Kind = Literal["sighting", "false-positive", "note"]
KINDS: tuple[str, ...] = ("sighting", "false-positive", "note")
MAX_REFS = 20
MAX_TEXT = 10_000
DEFAULT_THRESHOLD = 2

ONLY_REPORTS = (
    "you may add only feedback to this collection: a sighting, an opinion or a note on an object of "
    "this collection you may read"
)


def absent(ref: str) -> str:
    """The one answer for a report on an object that is absent or hidden from the reporter."""
    return f"There is no object '{ref[:300]}' in this collection that you may report on."


def check_policy(value: str) -> str:
    """A group's feedback_visibility, or a 422-like error naming the choices."""
    if value not in POLICIES:
        raise BadRequest(f"feedback_visibility must be one of {', '.join(POLICIES)}, not {value[:30]!r}")
    return value


def check_threshold(value: int) -> int:
    if not 1 <= value <= 1000:
        raise BadRequest(f"false_positive_threshold must be between 1 and 1000, not {value}")
    return value


def kind_of(obj: dict[str, Any]) -> str:
    """What a report says: a sighting, a false positive (an opinion strongly-disagree), another
    opinion, or a note."""
    t = obj.get("type")
    if t == "opinion":
        return "false-positive" if obj.get("opinion") == "strongly-disagree" else "opinion"
    return str(t)


def refs_of(obj: dict[str, Any]) -> list[str] | str:
    """The objects a report refers to (the first is the one it reports on), or why it is no report."""
    t = obj.get("type")
    if t == "sighting":
        ref = obj.get("sighting_of_ref")
        return [ref] if isinstance(ref, str) else "a sighting needs sighting_of_ref"
    refs = obj.get("object_refs")
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
        return f"{'an' if t == 'opinion' else 'a'} {t} needs object_refs: the objects it is about"
    if len(refs) > MAX_REFS:
        return f"a report refers to at most {MAX_REFS} objects"
    return list(dict.fromkeys(refs))


def _seen(obj: dict[str, Any]) -> tuple[int, int | None, int | None]:
    """A sighting's count, first_seen and last_seen (µs); 1, None, None for other reports."""
    if obj.get("type") != "sighting":
        return 1, None, None
    count = obj.get("count", 1)
    count = (
        count if isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= 999_999_999 else 1
    )
    first = last = None
    try:
        if "first_seen" in obj:
            first = timestamp_us(obj["first_seen"], "first_seen")
        if "last_seen" in obj:
            last = timestamp_us(obj["last_seen"], "last_seen")
    except InvalidObject:
        pass
    return count, first, last


# ---------------------------------------------------------------- taking reports in


@dataclass
class _Taken:
    report: rows.NewReport
    target_producer: int


@dataclass
class ReportsOutcome:
    """What became of an envelope of reports: the TAXII status, and the objects newly held."""

    outcome: ingest.Outcome
    held: list[str] = field(default_factory=list)


def add_reports(
    session: Session,
    *,
    acc: access.CollectionAccess,
    who: Principal,
    objects: list[Any],
    guard: Guard = DEFAULT_GUARD,
    keep_status: bool = True,
) -> ReportsOutcome:
    """Judge and store an envelope of reports from a member that may read `acc`'s collection.

    Each object is judged alone: only sightings, opinions and notes on objects of this collection the
    reporter may read (otherwise the absent-object answer), authored by the reporter (or unattributed),
    within the collection's TLP ceiling. The caller runs this in a write transaction."""
    prepared = ingest.prepare(objects, guard)
    group = acc.group
    policy = group.feedback_visibility if group.feedback_visibility in POLICIES else "publisher"
    reader = door.Reader(
        org_id=who.org_id, clearance=int(acc.clearance), coordinator=acc.role == "coordinator"
    )
    outcome = ingest.Outcome(status_id=str(uuid.uuid4()), request_timestamp=format_us(prepared.started))
    outcome.failures.extend(prepared.failures)
    judged: Judged[ingest.Candidate] = Judged()
    taken: dict[tuple[str, int], _Taken] = {}
    markings = marking_index(
        session, collection_id=acc.collection.id, refs=referenced(c.obj for c in prepared.candidates)
    )
    report_ids = sorted({c.sid.lower() for c in prepared.candidates if c.stype in door.REPORT_TYPES})
    owners = store.owners(session, ids=report_ids) if report_ids else {}
    for cand in prepared.candidates:
        obj = cand.obj
        if cand.stype not in door.REPORT_TYPES:
            outcome.failures.append(failure_entry(obj, f"{cand.sid} refused: {ONLY_REPORTS}"))
            continue
        refs = refs_of(obj)
        if isinstance(refs, str):
            outcome.failures.append(failure_entry(obj, refs))
            continue
        targets = [
            door.readable_object(session, reader=reader, collection_id=acc.collection.id, object_id=r)
            for r in refs
        ]
        missing = [r for r, t in zip(refs, targets, strict=True) if t is None]
        if missing:
            outcome.failures.append(failure_entry(obj, absent(missing[0])))
            continue
        target = targets[0]
        if target is None:  # pragma: no cover - every ref was found above
            continue
        author = obj.get("created_by_ref")
        if author is not None and (not isinstance(author, str) or author.lower() != who.identity_id):
            outcome.failures.append(
                failure_entry(
                    obj,
                    f"created_by_ref must be your organisation's identity ({who.identity_id}) or absent: "
                    "a report speaks for its reporter",
                )
            )
            continue
        try:
            level, redact_level = storage_levels(obj, markings=markings, default=Tlp(group.default_tlp))
        except MarkingConflict as exc:
            outcome.failures.append(failure_entry(obj, f"marking refused: {exc.reason}"))
            continue
        ceiling = acc.policy.ceiling
        if level > ceiling or (redact_level is not None and redact_level > ceiling):
            outcome.failures.append(
                failure_entry(
                    obj,
                    f"its TLP {max(level, redact_level or level).label} is above this "
                    f"collection's ceiling {ceiling.label}",
                )
            )
            continue
        owner = owners.get(cand.sid.lower())
        if owner is not None and owner[0] != who.org_id:
            # another organisation's report id: answering anything but "stored" would reveal it
            judged.rows.append(Row(cand, PRIVATE_TLP, None, private=True))
            continue
        count, first, last = _seen(obj)
        judged.rows.append(Row(cand, int(level), None if redact_level is None else int(redact_level)))
        if cand.version_us is not None:
            taken[(cand.sid, cand.version_us)] = _Taken(
                rows.NewReport(
                    acc.collection.id,
                    cand.sid,
                    cand.version_us,
                    target.stix_id,
                    kind_of(obj),
                    who.org_id,
                    count,
                    first,
                    last,
                ),
                target.producer_id,
            )
    fresh = [c.cand.sid.lower() for c in judged.rows if not c.private and c.cand.sid.lower() not in owners]
    if fresh:
        store.claim_owners(
            session, ids=sorted(set(fresh)), org_id=who.org_id, collection_id=acc.collection.id
        )
    sub = submission(acc, who)
    ingest._store(session, sub, judged, outcome, prepared.started)
    result = ReportsOutcome(outcome)
    stored = [t for key, t in taken.items() if key in outcome.inserted]
    for t in stored:
        audience = 0 if policy == "everyone" else t.target_producer
        rows.index_reports(session, [t.report], audience=audience)
    _effects(session, acc, who, [t.report for t in stored], result)
    ingest._count(outcome, invalid=len(prepared.failures))
    ingest._record(session, sub, outcome, keep_status)
    if stored:
        record(
            session, action="feedback", organisation_id=who.org_id, account_id=who.account_id,
            group_id=acc.group.id, collection_id=acc.collection.id, count=len(stored),
            detail=", ".join(sorted({f"{t.report.kind} on {t.report.object_id}" for t in stored}))[:2000],
        )  # fmt: skip
    session.flush()
    return result


def submission(acc: access.CollectionAccess, who: Principal) -> ingest.Submission:
    return ingest.Submission(
        collection=acc.policy,
        submitter=Submitter(org_id=who.org_id, identity_id=who.identity_id, role=acc.role, name=who.org_slug),  # type: ignore[arg-type]
        group_id=acc.group.id,
        account_id=who.account_id,
        clearance=acc.clearance,
    )


def _effects(
    session: Session,
    acc: access.CollectionAccess,
    who: Principal,
    reports: Sequence[rows.NewReport],
    result: ReportsOutcome,
) -> None:
    """A sighting extends its indicator's life; false positives from enough organisations hold it."""
    now = time.time_ns() // 1000
    threshold = acc.group.false_positive_threshold or DEFAULT_THRESHOLD
    for r in reports:
        if r.kind == "sighting":
            seen = r.last_seen_us or r.first_seen_us or now
            rows.extend_lifetime(
                session, collection_id=r.collection_id, object_id=r.object_id, seen_us=min(seen, now)
            )
    for object_id in sorted({r.object_id for r in reports if r.kind == "false-positive"}):
        h = rows.hold(session, collection_id=acc.collection.id, object_id=object_id)
        if h is not None and h.held:
            continue
        since = h.since_us if h is not None else 0
        n = rows.false_positive_reporters(
            session, collection_id=acc.collection.id, object_id=object_id, since_us=since
        )
        if n < threshold:
            continue
        rows.set_hold(session, collection_id=acc.collection.id, object_id=object_id, held=True, now_us=now)
        result.held.append(object_id)
        publisher = door.readable_object(
            session, reader=door.Reader(org_id=who.org_id, clearance=int(acc.clearance)),
            collection_id=acc.collection.id, object_id=object_id,
        )  # fmt: skip
        # the publisher's notice (its audit log, the console and the lookup API show holds on its objects)
        record(
            session, action="feedback-hold",
            organisation_id=publisher.producer_id if publisher is not None else who.org_id,
            account_id=None, group_id=acc.group.id, collection_id=acc.collection.id, count=n,
            detail=f"{object_id} held out of device lists: {n} organisations reported it a false positive; "
            "confirm or revoke it",
        )  # fmt: skip


# ---------------------------------------------------------------- reports from the console, CLI and API


def build_report(
    kind: str,
    *,
    object_id: str,
    identity_id: str,
    count: int = 1,
    first_seen: str | None = None,
    last_seen: str | None = None,
    text: str = "",
    tlp: Tlp | None = None,
) -> dict[str, Any]:
    """The STIX 2.1 object of a report made through the console, the CLI or the lookup API."""
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}, not {kind[:30]!r}")
    if len(text) > MAX_TEXT:
        raise BadRequest(f"text is longer than {MAX_TEXT} characters")
    now = format_us(time.time_ns() // 1000)
    obj: dict[str, Any] = {
        "type": {"sighting": "sighting", "false-positive": "opinion", "note": "note"}[kind],
        "spec_version": "2.1",
        "created": now,
        "modified": now,
        "created_by_ref": identity_id,
    }
    obj["id"] = f"{obj['type']}--{uuid.uuid4()}"
    if kind == "sighting":
        if not 0 <= count <= 999_999_999:
            raise BadRequest("count must be between 0 and 999999999")
        obj.update(sighting_of_ref=object_id, count=count, where_sighted_refs=[identity_id])
        for name, value in (("first_seen", first_seen), ("last_seen", last_seen)):
            if value:
                try:
                    obj[name] = format_us(timestamp_us(value, name))
                except InvalidObject as exc:
                    raise BadRequest(str(exc)) from None
        obj.setdefault("first_seen", obj.get("last_seen", now))
        obj.setdefault("last_seen", max(obj["first_seen"], now) if not last_seen else obj["first_seen"])
        if obj["last_seen"] < obj["first_seen"]:
            raise BadRequest("last_seen is before first_seen")
        if text:
            obj["description"] = text
    elif kind == "false-positive":
        obj.update(opinion="strongly-disagree", object_refs=[object_id], explanation=text or "False positive")
    else:
        if not text.strip():
            raise BadRequest("a note needs text")
        obj.update(content=text, object_refs=[object_id])
    if tlp is not None:
        obj["object_marking_refs"] = [marking_ids(tlp)]
    return obj


@dataclass(frozen=True)
class Placed:
    """Where a member reports on an object: a collection it may read that holds it."""

    acc: access.CollectionAccess
    object_id: str
    tlp: Tlp = Tlp.CLEAR  # the object's level there


def place(session: Session, who: Principal, object_id: str, collection_id: str | None = None) -> Placed:
    """The collection holding `object_id` where `who` may read it (the given one, else the first);
    NotFound, the absent-object answer, otherwise."""
    from hub.lookup import reads as lookup_reads

    if not object_id or len(object_id) > 300:
        raise NotFound(absent(object_id))
    for acc in lookup_reads.readable(session, who):
        if collection_id is not None and acc.collection.id != collection_id:
            continue
        reader = door.Reader(
            org_id=who.org_id, clearance=int(acc.clearance), coordinator=acc.role == "coordinator"
        )
        row = door.readable_object(
            session, reader=reader, collection_id=acc.collection.id, object_id=object_id
        )
        if row is not None:
            return Placed(acc, object_id, Tlp(min(row.tlp, Tlp.AMBER_STRICT)))
    raise NotFound(absent(object_id))


def report(
    session: Session,
    who: Principal,
    object_id: str,
    kind: str,
    *,
    collection_id: str | None = None,
    count: int = 1,
    first_seen: str | None = None,
    last_seen: str | None = None,
    text: str = "",
    tlp: str | None = None,
) -> tuple[Placed, ReportsOutcome]:
    """One report by `who` on an object it may read (the console's buttons, the CLI, the lookup API),
    marked `tlp` (default: the object's own TLP). Runs in the caller's write transaction."""
    placed = place(session, who, object_id, collection_id)
    level = placed.tlp  # by default a report is marked as the object it is about
    if tlp:
        try:
            level = Tlp.parse(tlp)
        except ValueError:
            raise BadRequest(f"tlp must be clear, green, amber or amber+strict, not {tlp[:20]!r}") from None
    obj = build_report(
        kind, object_id=object_id, identity_id=who.identity_id, count=count, first_seen=first_seen,
        last_seen=last_seen, text=text, tlp=level,
    )  # fmt: skip
    result = add_reports(session, acc=placed.acc, who=who, objects=[obj])
    if result.outcome.failures:
        raise BadRequest(result.outcome.failures[0]["message"])
    return placed, result


def decide(
    session: Session, who: Principal, object_id: str, action: str, *, collection_id: str | None = None
) -> Placed:
    """The publisher's answer to a hold: `confirm` (it stays listed; only reports added from now on
    count towards a new hold) or `revoke` (a new version with revoked: true). Runs in the caller's
    write transaction."""
    if action not in ("confirm", "revoke"):
        raise BadRequest(f"action must be confirm or revoke, not {action[:20]!r}")
    placed = place(session, who, object_id, collection_id)
    acc = placed.acc
    reader = door.Reader(org_id=who.org_id, clearance=int(acc.clearance))
    row = door.readable_object(session, reader=reader, collection_id=acc.collection.id, object_id=object_id)
    if row is None:  # pragma: no cover - place() found it in this transaction
        raise NotFound(absent(object_id))
    if row.producer_id != who.org_id:
        raise Forbidden("Only the object's publisher confirms or revokes it.")
    now = time.time_ns() // 1000
    if action == "revoke":
        obj = orjson.loads(row.body)
        if obj.get("revoked") is not True:
            modified = max(now, timestamp_us(obj.get("modified", row.version), "modified") + 1000)
            obj["revoked"] = True
            obj["modified"] = format_us(modified - modified % 1000)
            if not acc.can_write:
                raise Forbidden(
                    "You may no longer add versions to this collection, so you cannot revoke here."
                )
            out = ingest.add_objects(session, submission=submission(acc, who), objects=[obj])
            if out.failures:
                raise BadRequest(out.failures[0]["message"])
    rows.set_hold(session, collection_id=acc.collection.id, object_id=row.stix_id, held=False, now_us=now)
    record(
        session, action=f"feedback-{action}", organisation_id=who.org_id, account_id=who.account_id,
        group_id=acc.group.id, collection_id=acc.collection.id, count=1, detail=row.stix_id,
    )  # fmt: skip
    return placed


# ---------------------------------------------------------------- what a reader learns


@dataclass(frozen=True)
class ReportView:
    """One report a reader may see in detail: in full (`id`, `reporter`) or anonymised (None)."""

    kind: str
    count: int
    first_seen: str | None
    last_seen: str | None
    date_added: str
    reporter: str | None  # the reporting organisation's slug, when the policy or the row lets it show
    id: str | None  # the report's STIX id, when the reader may read the report itself


@dataclass
class Summary:
    """What one reader learns of the feedback on one object."""

    sightings: int = 0  # distinct organisations that reported a sighting
    sighting_count: int = 0  # the sum of their counts
    false_positives: int = 0  # distinct organisations that reported a false positive
    notes: int = 0
    last_seen: str | None = None
    held: bool = False  # held out of device lists by false-positive reports
    reports: list[ReportView] = field(default_factory=list)

    def text(self) -> str:
        """ "seen by 3 organisations, reported false positive by 1" (empty when nothing was reported)."""
        parts = []
        if self.sightings:
            parts.append(f"seen by {self.sightings} organisation{'s' if self.sightings != 1 else ''}")
        if self.false_positives:
            parts.append(f"reported false positive by {self.false_positives}")
        if self.notes:
            parts.append(f"{self.notes} note{'s' if self.notes != 1 else ''}")
        return ", ".join(parts)


def summaries(
    session: Session, who: Principal, accesses: Sequence[access.CollectionAccess], object_ids: Sequence[str]
) -> dict[str, Summary]:
    """Per object id, what `who` learns of its feedback in the collections `accesses` (read through
    the read door: reports it may read but for their audience, on objects it may read there)."""
    out: dict[str, Summary] = {}
    if not object_ids or not accesses:
        return out
    # one index-only look first: which of these collections hold a report row or a hold on these
    # objects at all (most searches and downloads find none, and then read no report through the door)
    with_reports, held = rows.feedback_present(
        session, collection_ids=sorted({a.collection.id for a in accesses}), object_ids=object_ids
    )
    # the reports through the read door: one query per (clearance, role) over all its collections, not
    # one per collection (the door's latest-version rule and the report's target are per collection,
    # so reading them together is reading each), then taken per access in the same order as before
    grouped: dict[tuple[int, bool], list[str]] = {}
    for acc in accesses:
        if acc.collection.id in with_reports:
            grouped.setdefault((int(acc.clearance), acc.role == "coordinator"), []).append(acc.collection.id)
    found_by: dict[tuple[int, bool], dict[str, list[Any]]] = {}
    for (clearance, coordinator), ids in grouped.items():
        reader = door.Reader(org_id=who.org_id, clearance=clearance, coordinator=coordinator)
        bucket: dict[str, list[Any]] = {}
        for r in door.report_rows(
            session, reader=reader, collections=sorted(set(ids)), object_ids=object_ids
        ):
            bucket.setdefault(r.collection_id, []).append(r)
        found_by[(clearance, coordinator)] = bucket
    policies = _policies(session, {a.group.id for a in accesses}) if found_by else {}
    orgs: dict[int, str] = {}
    per: dict[str, dict[str, set[int]]] = {}
    for acc in accesses:
        coordinator = acc.role == "coordinator"
        found = found_by.get((int(acc.clearance), coordinator), {}).get(acc.collection.id, [])
        policy = policies.get(acc.group.id, "publisher")
        for r in found:
            s = out.setdefault(r.object_id, Summary())
            by_kind = per.setdefault(r.object_id, {})
            by_kind.setdefault(r.kind, set()).add(r.reporter_id)
            if r.kind == "sighting":
                s.sighting_count += r.count
                seen = r.last_seen_us or r.first_seen_us
                if seen is not None and (s.last_seen is None or format_us(seen) > s.last_seen):
                    s.last_seen = format_us(seen)
            readable = coordinator or r.audience in (0, who.org_id) or r.producer_id == who.org_id
            if not readable and policy != "everyone-anonymous":
                continue
            orgs.setdefault(r.reporter_id, "")
            s.reports.append(
                ReportView(
                    kind=r.kind,
                    count=r.count,
                    first_seen=format_us(r.first_seen_us) if r.first_seen_us is not None else None,
                    last_seen=format_us(r.last_seen_us) if r.last_seen_us is not None else None,
                    date_added=format_us(r.date_added_us),
                    reporter=str(r.reporter_id) if readable else None,
                    id=r.stix_id if readable else None,
                )
            )
    names: dict[int, str] = {}
    if orgs:
        stmt = select(Organisation.id, Organisation.slug).where(Organisation.id.in_(list(orgs)))
        names = {r.id: r.slug for r in session.execute(stmt)}
    for acc in accesses:  # a hold counts only where the reader reads the object itself
        reader = door.Reader(org_id=who.org_id, clearance=int(acc.clearance))
        for oid in sorted(o for c, o in held if c == acc.collection.id):
            if door.readable_object(session, reader=reader, collection_id=acc.collection.id, object_id=oid):
                out.setdefault(oid, Summary()).held = True
    for oid, s in out.items():
        kinds = per.get(oid, {})
        s.sightings = len(kinds.get("sighting", ()))
        s.false_positives = len(kinds.get("false-positive", ()))
        s.notes = len(kinds.get("note", ()))
        s.reports = [
            ReportView(
                v.kind,
                v.count,
                v.first_seen,
                v.last_seen,
                v.date_added,
                names.get(int(v.reporter)) if v.reporter is not None else None,
                v.id,
            )
            for v in s.reports
        ]
    return out


def _policies(session: Session, group_ids: set[int]) -> dict[int, str]:
    stmt = select(TrustGroup.id, TrustGroup.feedback_visibility).where(TrustGroup.id.in_(list(group_ids)))
    return {r.id: r.feedback_visibility for r in session.execute(stmt)}


def summary_for(session: Session, who: Principal, object_id: str) -> Summary:
    """What `who` learns of the feedback on one object, in every collection it may read."""
    from hub.lookup import reads as lookup_reads

    return summaries(session, who, lookup_reads.readable(session, who), [object_id]).get(object_id, Summary())


def held_for_publisher(session: Session, who: Principal) -> list[tuple[str, str]]:
    """(collection id, object id) of `who`'s own objects held out of device lists: its notices."""
    return rows.held_of(session, org_id=who.org_id)
