"""Imports: a connector's objects into a collection through the single ingest path, batch by batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Normalised, Rejected
from hub.db import begin_write
from hub.ingest import Submission, add_prepared, prepare
from hub.lookup.benign import DEFAULT_GUARD
from hub.policy.rules import Reader, Submitter, read_clearance
from hub.policy.tlp import Tlp
from hub.store.objects import stored_ids
from hub.trust.access import collection_policy
from hub.trust.benign import guard_for
from hub.trust.models import Collection, CollectionRecipient, Membership, Organisation, TrustGroup

BATCH = 1000


class ImportTargetError(ValueError):
    """The import's target cannot be used (unknown group, collection or organisation, no right to write)."""


@dataclass(frozen=True)
class Target:
    """Where an import goes and as whom."""

    group: str
    collection: str  # alias or id
    org: str


@dataclass
class ImportReport:
    """What an import did: records read, objects stored new, new versions, unchanged, refused."""

    read: int = 0
    normalised: int = 0
    rejected: int = 0
    skipped: int = 0
    created: int = 0
    new_versions: int = 0
    unchanged: int = 0
    refused: int = 0
    reasons: list[str] = field(default_factory=list)
    cursor: str | None = None
    dry_run: bool = False
    sample: list[dict[str, Any]] = field(default_factory=list)

    def note(self, reason: str, keep: int = 20) -> None:
        if len(self.reasons) < keep:
            self.reasons.append(reason)

    def lines(self) -> list[str]:
        """The summary as a person reads it."""
        verb = "would store" if self.dry_run else "stored"
        out = [
            f"records read: {self.read}",
            f"objects normalised: {self.normalised}",
            f"{verb} new: {self.created}",
            f"{verb} as new versions: {self.new_versions}",
            f"unchanged (already stored): {self.unchanged}",
            f"rejected by the connector: {self.rejected} (skipped on purpose: {self.skipped})",
            f"refused by validation or policy: {self.refused}",
        ]
        if self.cursor:
            out.append(f"next incremental pull: --added-after {self.cursor}")
        if self.reasons:
            out.append("first reasons:")
            out.extend(f"  {r}" for r in self.reasons)
        return out


def resolve_submission(session: Session, target: Target) -> tuple[Submission, Organisation]:
    """The ingest submission for a target, checking that the organisation may write there."""
    group = session.scalar(select(TrustGroup).where(TrustGroup.slug == target.group))
    if group is None:
        raise ImportTargetError(f"no trust group {target.group!r}")
    coll = session.scalar(
        select(Collection).where(
            Collection.group_id == group.id,
            (Collection.alias == target.collection) | (Collection.id == target.collection),
        )
    )
    if coll is None:
        raise ImportTargetError(f"no collection {target.collection!r} in trust group {target.group!r}")
    if coll.archived_at is not None:
        raise ImportTargetError(f"the collection {coll.alias!r} of {target.group!r} is archived (read-only)")
    org = session.scalar(select(Organisation).where(Organisation.slug == target.org))
    if org is None:
        raise ImportTargetError(f"no organisation {target.org!r}")
    if not org.active:
        raise ImportTargetError(f"the organisation {target.org!r} is deactivated")
    member = session.scalar(
        select(Membership).where(Membership.group_id == group.id, Membership.organisation_id == org.id)
    )
    if member is None:
        raise ImportTargetError(f"{target.org} is not a member of trust group {target.group}")
    recipients = frozenset(
        session.scalars(
            select(CollectionRecipient.organisation_id).where(CollectionRecipient.collection_id == coll.id)
        )
    )
    policy = collection_policy(coll, group, recipients)
    submitter = Submitter(org_id=org.id, identity_id=org.identity_id, role=member.role, name=org.slug)  # type: ignore[arg-type]
    reader = Reader(org_id=org.id, role=member.role, clearance=Tlp(member.clearance), name=org.slug)  # type: ignore[arg-type]
    clearance = read_clearance(reader, policy) or Tlp.CLEAR
    return Submission(collection=policy, submitter=submitter, group_id=group.id, clearance=clearance), org


def producer_of(sm: sessionmaker[Session], org_slug: str) -> tuple[str, str]:
    """The STIX identity id and name connectors stamp as `created_by_ref` for an organisation."""
    with sm() as session:
        org = session.scalar(select(Organisation).where(Organisation.slug == org_slug))
        if org is None:
            raise ImportTargetError(f"no organisation {org_slug!r}")
        return org.identity_id, org.name


Screen = Callable[[dict[str, Any]], tuple[dict[str, Any] | None, str]]


def _batches(
    results: Iterable[Normalised | Rejected], report: ImportReport, size: int, screen: Screen | None = None
) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    last_ref = None
    for r in results:
        if r.record_ref != last_ref:
            report.read += 1
            last_ref = r.record_ref
        if isinstance(r, Rejected):
            if r.skipped:
                report.skipped += 1
            else:
                report.rejected += 1
            raw = f" [{r.raw_excerpt[:120]}]" if r.raw_excerpt else ""
            report.note(f"{r.record_ref}: {'skipped' if r.skipped else 'rejected'}: {r.reason}{raw}")
            continue
        report.normalised += 1
        obj = r.obj
        if screen is not None:
            kept, reason = screen(obj)
            if kept is None:
                report.refused += 1
                report.note(f"{obj.get('id') or r.record_ref}: refused: {reason}")
                continue
            obj = kept
        batch.append(obj)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_import(
    sm: sessionmaker[Session],
    *,
    target: Target,
    results: Iterable[Normalised | Rejected],
    dry_run: bool = False,
    batch_size: int = BATCH,
    progress: Callable[[int], None] | None = None,
    sample: int = 0,
    screen: Screen | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Ingest a connector's results, one transaction per batch, so a failure never loses earlier batches.

    A dry run validates and asks the policy layer exactly as a real import does, then rolls back.
    `screen(obj) -> (obj to import or None, reason)` sees each normalised object before ingest (a sync
    pull applies the upstream relationship there); a refusal counts as refused, with its reason. Pass
    `report` to keep the counts of what was done when the import raises part-way.
    """
    report = report or ImportReport(dry_run=dry_run)
    report.dry_run = dry_run
    with sm() as session:
        # fail before reading the feed when the target is wrong; the group's value checks otherwise
        first, _org = resolve_submission(session, target)
        group = session.get(TrustGroup, first.group_id)
        guard = guard_for(session, group) if group is not None else DEFAULT_GUARD
    for objs in _batches(results, report, batch_size, screen):
        prepared = prepare(objs, guard)  # validation holds no write lock
        with sm() as session:
            tx = session.begin()
            try:
                begin_write(session)
                submission, _org = resolve_submission(session, target)
                ids = list({o["id"] for o in objs if isinstance(o.get("id"), str)})
                known = stored_ids(session, collection_id=submission.collection_id, ids=ids)
                outcome = add_prepared(session, submission=submission, prepared=prepared, keep_status=False)
                for sid, _ver in outcome.inserted:
                    if sid in known:
                        report.new_versions += 1
                    else:
                        report.created += 1
                        known.add(sid)
                report.unchanged += len(outcome.successes) - len(outcome.inserted)
                report.refused += len(outcome.failures)
                for f in outcome.failures:
                    report.note(f"{f.get('id') or 'object'}: refused: {f['message']}")
                if len(report.sample) < sample:
                    report.sample.extend(objs[: sample - len(report.sample)])
            except BaseException:
                tx.rollback()
                raise
            if dry_run:
                tx.rollback()
            else:
                tx.commit()
        if progress:
            progress(len(objs))
    return report
