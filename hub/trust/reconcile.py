"""Configuration as code: the plan that brings the database to a trust YAML, and its application.

The file is authoritative for what it declares: its organisations, its groups, and the memberships and
collections of those groups. Members of a declared group that the file leaves out are removed;
collections it leaves out are archived (never deleted). Organisations and groups the file does not
mention (made through the admin API, say) are left as they are. Applying twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.trust.collections import _info, archive_collection, collection_state
from hub.trust.manage import (
    OPERATOR,
    audit,
    group_state,
    member_state,
    org_state,
    remove_member,
    tlp_name,
)
from hub.trust.models import Collection, Membership, Organisation, TrustGroup
from hub.trust.schemas import IssuedKey, TrustConfig
from hub.trust.service import apply_config


@dataclass(frozen=True)
class Change:
    """One step of a plan: create, change, remove or archive something, with its state before and after."""

    op: str  # create | change | remove | archive
    what: str  # e.g. "membership cert-b@africa"
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    def line(self) -> str:
        """The step as a plan prints it."""
        sign = {"create": "+", "change": "~", "remove": "-", "archive": "-"}[self.op]
        if self.op == "change" and self.before and self.after:
            diff = ", ".join(
                f"{k}: {self.before.get(k)!r} -> {self.after.get(k)!r}"
                for k in self.after
                if self.before.get(k) != self.after.get(k)
            )
            return f"{sign} {self.op} {self.what} ({diff})"
        return f"{sign} {self.op} {self.what}"


@dataclass
class Plan:
    """The changes that bring the database to the file, and what the file leaves alone."""

    changes: list[Change] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)


def _org_want(oc: Any) -> dict[str, Any]:
    return {"slug": oc.slug, "name": oc.name, "country": oc.country, "contact": oc.contact}


def _org_have(org: Organisation) -> dict[str, Any]:
    # `active` is the admin API's: a file neither deactivates nor reactivates an organisation
    return {k: v for k, v in org_state(org).items() if k != "active"}


def _coll_have(session: Session, coll: Collection) -> dict[str, Any]:
    # an archived collection stays archived; the file changes its other properties only
    return {k: v for k, v in collection_state(_info(session, coll)).items() if k != "archived"}


def plan(session: Session, cfg: TrustConfig) -> Plan:
    """What applying `cfg` would change, without changing anything."""
    out = Plan()
    declared_orgs = {o.slug for o in cfg.organisations}
    for oc in cfg.organisations:
        org = session.scalar(select(Organisation).where(Organisation.slug == oc.slug))
        want = _org_want(oc)
        if org is None:
            out.changes.append(Change("create", f"organisation {oc.slug}", after=want))
        elif _org_have(org) != want:
            out.changes.append(Change("change", f"organisation {oc.slug}", before=_org_have(org), after=want))
    for slug in session.scalars(select(Organisation.slug).order_by(Organisation.slug)):
        if slug not in declared_orgs:
            out.left_alone.append(f"organisation {slug}")
    declared_groups = {g.slug for g in cfg.groups}
    for gc in cfg.groups:
        group = session.scalar(select(TrustGroup).where(TrustGroup.slug == gc.slug))
        want_g = {"slug": gc.slug, "name": gc.name, "description": gc.description, "community": gc.community,
                  "default_tlp": tlp_name(gc.default_tlp), "max_tlp": tlp_name(gc.max_tlp),
                  "min_ipv4_prefix": gc.min_ipv4_prefix, "min_ipv6_prefix": gc.min_ipv6_prefix,
                  "benign_mode": gc.benign_mode, "feedback_visibility": gc.feedback_visibility,
                  "false_positive_threshold": gc.false_positive_threshold}  # fmt: skip
        if group is None:
            out.changes.append(Change("create", f"group {gc.slug}", after=want_g))
        elif group_state(group) != want_g:
            out.changes.append(Change("change", f"group {gc.slug}", before=group_state(group), after=want_g))
        have_m: dict[str, Membership] = {}
        if group is not None:
            for m, slug in session.execute(
                select(Membership, Organisation.slug)
                .join(Organisation, Membership.organisation_id == Organisation.id)
                .where(Membership.group_id == group.id)
            ):
                have_m[slug] = m
        for mc in gc.members:
            want_m = {"role": mc.role, "clearance": tlp_name(mc.clearance)}
            what = f"membership {mc.org}@{gc.slug}"
            if mc.org not in have_m:
                out.changes.append(Change("create", what, after=want_m))
            elif member_state(have_m[mc.org]) != want_m:
                out.changes.append(Change("change", what, before=member_state(have_m[mc.org]), after=want_m))
        for slug in sorted(set(have_m) - {m.org for m in gc.members}):
            out.changes.append(
                Change("remove", f"membership {slug}@{gc.slug}", before=member_state(have_m[slug]))
            )
        have_c = (
            {c.alias: c for c in session.scalars(select(Collection).where(Collection.group_id == group.id))}
            if group is not None
            else {}
        )
        for cc in gc.collections:
            want_c = {
                "alias": cc.alias,
                "title": cc.title or cc.alias,
                "description": cc.description,
                "kind": cc.kind,
                "owner": cc.owner,
                "recipients": sorted(set(cc.recipients)),
            }
            what = f"collection {gc.slug}/{cc.alias}"
            coll = have_c.get(cc.alias)
            if coll is None and group is not None:
                coll = session.get(Collection, str(cc.id)) if cc.id else None
            if coll is None:
                out.changes.append(Change("create", what, after=want_c))
                continue
            state = _coll_have(session, coll)
            if state != want_c:
                out.changes.append(Change("change", what, before=state, after=want_c))
        for alias in sorted(set(have_c) - {c.alias for c in gc.collections}):
            coll = have_c[alias]
            if coll.archived_at is None:
                before = collection_state(_info(session, coll))
                out.changes.append(Change("archive", f"collection {gc.slug}/{alias}", before=before))
    for slug in session.scalars(select(TrustGroup.slug).order_by(TrustGroup.slug)):
        if slug not in declared_groups:
            out.left_alone.append(f"group {slug}")
    return out


def missing_only(the_plan: Plan) -> Plan:
    """The creations of a plan alone: what `hub trust load` does without --update."""
    return Plan([c for c in the_plan.changes if c.op == "create"], the_plan.left_alone)


def apply(session: Session, cfg: TrustConfig, the_plan: Plan, *, update: bool = True) -> list[IssuedKey]:
    """Carry out a plan made on this session's data: create and change, remove, archive; audit each step.

    With `update` False only what is missing is created (pass `missing_only(plan)`): nothing existing
    changes. Returns the API keys issued to accounts that had none (shown once by the caller).
    """
    if not update and any(c.op != "create" for c in the_plan.changes):
        raise ValueError("a plan applied without update holds creations only (see missing_only)")
    issued = apply_config(session, cfg, update=update)
    for k in issued:
        org_id = session.scalar(select(Organisation.id).where(Organisation.slug == k.organisation))
        audit(session, OPERATOR, "key.issue", target=f"key of {k.organisation}/{k.account} (config)",
              target_org_id=org_id, after={"account": k.account, "label": k.label})  # fmt: skip
    for ch in the_plan.changes:
        kind, _, name = ch.what.partition(" ")
        if ch.op == "remove" and kind == "membership":
            org_slug, _, group_slug = name.partition("@")
            remove_member(session, OPERATOR, group_slug, org_slug)  # audits itself
        elif ch.op == "archive":
            group_slug, _, alias = name.partition("/")
            archive_collection(session, OPERATOR, group_slug, alias)  # audits itself
        else:
            group_id = None
            if kind in ("group", "membership", "collection"):
                gslug = name.split("@")[-1] if kind == "membership" else name.split("/")[0]
                group_id = session.scalar(select(TrustGroup.id).where(TrustGroup.slug == gslug))
            audit(session, OPERATOR, f"config.{ch.op}", target=ch.what, group_id=group_id, before=ch.before,
                  after=ch.after)  # fmt: skip
    session.flush()
    return issued
