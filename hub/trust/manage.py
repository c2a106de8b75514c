"""Administration use cases shared by the admin API and the CLI: organisations, groups, members.

Authorisation lives here, once: the platform admin may do everything; a group's coordinators manage that
group only; everyone manages its own organisation's keys (hub.trust.keys). Anything of a group the caller
is not a member of is "not found", never "forbidden", so nothing hints that it exists. Every change is an
audit event with who, what, before and after. Functions flush; the caller owns the transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.errors import Conflict, Forbidden, NotFound, Unprocessable
from hub.policy.tlp import Tlp
from hub.policy.words import Phrase
from hub.store.audit import record
from hub.trust.models import Membership, Organisation, TrustGroup
from hub.trust.schemas import ROLES, SLUG
from hub.trust.service import Principal
from hub.vocab.ids import identity_id

# the CLI's operator commands act on the database directly, as the platform
OPERATOR = Principal(account_id=0, org_id=0, org_slug="(operator)", identity_id="", is_admin=True)

_UNSET: Any = object()


def tlp_name(level: int) -> str:
    """The level as the admin API writes it: clear, green, amber, amber+strict, red."""
    return Tlp(level).word


def parse_tlp(value: str, what: str) -> int:
    """A TLP name as an integer level; 422 naming the field otherwise."""
    try:
        return int(Tlp.parse(value))
    except ValueError as exc:
        raise Unprocessable(f"{what}: {exc}") from None


def audit(
    session: Session,
    actor: Principal,
    action: str,
    *,
    target: str,
    group_id: int | None = None,
    target_org_id: int | None = None,
    collection_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record an admin change: who (actor), what (action, target), where, and the state before and after."""
    record(
        session,
        action=action,
        organisation_id=actor.org_id or None,
        account_id=actor.account_id or None,
        group_id=group_id,
        collection_id=collection_id,
        # the operator on the command line and an invitation's redemption act without an account
        detail="" if actor.org_id else actor.org_slug,
        target=target[:255],
        target_org_id=target_org_id,
        before=json.dumps(before, sort_keys=True) if before is not None else None,
        after=json.dumps(after, sort_keys=True) if after is not None else None,
    )


# ---------------------------------------------------------------- who may do what


def coordinated_groups(actor: Principal) -> set[int]:
    """The ids of the groups the caller coordinates."""
    return {gid for gid, m in actor.memberships.items() if m.role == "coordinator"}


def require_admin(actor: Principal, what: str) -> None:
    """403 unless the caller is a platform admin."""
    if not actor.is_admin:
        raise Forbidden(f"Only a platform admin may {what}.")


def find_group(session: Session, actor: Principal, slug: str, *, manage: bool = True) -> TrustGroup:
    """A trust group the caller may see (404 otherwise) and, with `manage`, coordinates (403 otherwise)."""
    group = session.scalar(select(TrustGroup).where(TrustGroup.slug == slug))
    if group is None or not (actor.is_admin or group.id in actor.memberships):
        raise NotFound(f"There is no trust group '{slug}'.")
    if manage and not actor.is_admin and actor.memberships[group.id].role != "coordinator":
        raise Forbidden(
            f"Only the coordinators of '{slug}' manage it; your role there is "
            f"{actor.memberships[group.id].role}."
        )
    return group


def _visible_org_ids(session: Session, actor: Principal) -> set[int] | None:
    """Organisations the caller may know of: its own and the members of the groups it coordinates."""
    if actor.is_admin:
        return None
    ids = {actor.org_id}
    groups = coordinated_groups(actor)
    if groups:
        ids |= set(session.scalars(select(Membership.organisation_id).where(Membership.group_id.in_(groups))))
    return ids


def visible_org_ids(session: Session, actor: Principal) -> set[int]:
    """The organisations a (non-admin) caller may know of: its own and the members of the groups it
    coordinates."""
    return _visible_org_ids(session, actor) or {actor.org_id}


def find_organisation(session: Session, actor: Principal, slug: str) -> Organisation:
    """An organisation the caller may know of (404 otherwise)."""
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    visible = _visible_org_ids(session, actor)
    if org is None or (visible is not None and org.id not in visible):
        raise NotFound(f"There is no organisation '{slug}'.")
    return org


# ---------------------------------------------------------------- organisations


def org_state(org: Organisation) -> dict[str, Any]:
    """An organisation as the audit log records it."""
    return {
        "slug": org.slug,
        "name": org.name,
        "country": org.country,
        "contact": org.contact,
        "active": org.active,
    }


def list_organisations(session: Session, actor: Principal, *, pending: bool = False) -> list[Organisation]:
    """The organisations the caller may know of, by slug; with `pending`, only those awaiting approval."""
    stmt = select(Organisation).order_by(Organisation.slug)
    visible = _visible_org_ids(session, actor)
    if visible is not None:
        stmt = stmt.where(Organisation.id.in_(visible))
    if pending:
        stmt = stmt.where(Organisation.pending_approval.is_(True))
    return list(session.scalars(stmt))


def approve_organisation(session: Session, actor: Principal, slug: str) -> Organisation:
    """Approve an organisation made by redeeming an invitation (platform admin): its keys work from now."""
    require_admin(actor, "approve new organisations")
    org = find_organisation(session, actor, slug)
    if not org.pending_approval:
        raise Conflict(f"'{slug}' is not awaiting approval.")
    before = {**org_state(org), "pending_approval": True}
    org.pending_approval, org.active = False, True
    session.flush()
    audit(session, actor, "organisation.approve", target=f"organisation {slug}", target_org_id=org.id,
          before=before, after={**org_state(org), "pending_approval": False})  # fmt: skip
    return org


def create_organisation(
    session: Session,
    actor: Principal,
    *,
    slug: str,
    name: str,
    country: str | None = None,
    contact: str | None = None,
) -> Organisation:
    """Create an organisation (platform admin; coordinators invite instead)."""
    require_admin(actor, "create organisations directly (coordinators invite them)")
    return _new_organisation(session, actor, slug=slug, name=name, country=country, contact=contact)


def _new_organisation(
    session: Session,
    actor: Principal,
    *,
    slug: str,
    name: str,
    country: str | None,
    contact: str | None,
    introduced_by: int | None = None,
    pending_approval: bool = False,
) -> Organisation:
    if not SLUG.match(slug):
        raise Unprocessable(f"{slug!r} is not a slug: lowercase letters, digits and '-', at most 64")
    if session.scalar(select(Organisation.id).where(Organisation.slug == slug)) is not None:
        raise Conflict(f"An organisation '{slug}' already exists.")
    org = Organisation(
        slug=slug, name=name, country=country, contact=contact, identity_id=identity_id(slug),
        active=not pending_approval, pending_approval=pending_approval, introduced_by_org_id=introduced_by,
    )  # fmt: skip
    session.add(org)
    session.flush()  # flush so org.id is available to the audit event
    audit(session, actor, "organisation.create", target=f"organisation {slug}", target_org_id=org.id,
          after=org_state(org))  # fmt: skip
    return org


def update_organisation(
    session: Session,
    actor: Principal,
    slug: str,
    *,
    name: str | None = None,
    country: str | None = _UNSET,
    contact: str | None = _UNSET,
    active: bool | None = None,
) -> Organisation:
    """Change an organisation's name, country or contact (itself or a platform admin); re/deactivate it."""
    org = find_organisation(session, actor, slug)
    if not actor.is_admin and org.id != actor.org_id:
        raise Forbidden(f"Only '{slug}' itself or a platform admin may change its record.")
    if active is not None and active != org.active:
        require_admin(actor, "activate or deactivate organisations")
        if org.id == actor.org_id and not active:
            raise Forbidden("A platform admin cannot deactivate its own organisation.")
    before = org_state(org)
    if name is not None:
        org.name = name
    if country is not _UNSET:
        org.country = country
    if contact is not _UNSET:
        org.contact = contact
    if active is not None:
        org.active = active
        if active:
            org.pending_approval = False  # activating an organisation awaiting approval approves it
    session.flush()
    if org_state(org) != before:
        action = "organisation.update"
        if before["active"] != org.active:
            action = "organisation.activate" if org.active else "organisation.deactivate"
        audit(session, actor, action, target=f"organisation {slug}", target_org_id=org.id, before=before,
              after=org_state(org))  # fmt: skip
    return org


def deactivate_organisation(session: Session, actor: Principal, slug: str) -> Organisation:
    """Deactivate an organisation: its keys fail on the next request; what it published stays."""
    return update_organisation(session, actor, slug, active=False)


# ---------------------------------------------------------------- trust groups


FEEDBACK_POLICIES = ("publisher", "everyone-anonymous", "everyone")  # hub.feedback


def group_state(g: TrustGroup) -> dict[str, Any]:
    """A trust group as the audit log records it."""
    return {
        "slug": g.slug,
        "name": g.name,
        "description": g.description,
        "community": g.community,
        "default_tlp": tlp_name(g.default_tlp),
        "max_tlp": tlp_name(g.max_tlp),
        "min_ipv4_prefix": g.min_ipv4_prefix,
        "min_ipv6_prefix": g.min_ipv6_prefix,
        "benign_mode": g.benign_mode,
        "feedback_visibility": g.feedback_visibility or "publisher",
        "false_positive_threshold": g.false_positive_threshold or 2,
    }


def _check_levels(default_tlp: int, max_tlp: int) -> None:
    if default_tlp > max_tlp:
        raise Unprocessable(
            f"default_tlp {tlp_name(default_tlp)} is above max_tlp {tlp_name(max_tlp)}: "
            "unmarked objects could never be accepted"
        )
    if max_tlp >= Tlp.RED:
        raise Unprocessable("max_tlp cannot be red: TLP:RED goes only to named-recipient collections")


def list_groups(session: Session, actor: Principal) -> list[TrustGroup]:
    """The groups the caller is a member of (all of them for a platform admin), by slug."""
    stmt = select(TrustGroup).order_by(TrustGroup.slug)
    if not actor.is_admin:
        stmt = stmt.where(TrustGroup.id.in_(list(actor.memberships)))
    return list(session.scalars(stmt))


def create_group(
    session: Session,
    actor: Principal,
    *,
    slug: str,
    name: str,
    description: str = "",
    community: str | None = None,
    default_tlp: str = "amber",
    max_tlp: str = "amber+strict",
) -> TrustGroup:
    """Create a trust group (platform admin)."""
    require_admin(actor, "create trust groups")
    if not SLUG.match(slug):
        raise Unprocessable(f"{slug!r} is not a slug: lowercase letters, digits and '-', at most 64")
    d, m = parse_tlp(default_tlp, "default_tlp"), parse_tlp(max_tlp, "max_tlp")
    _check_levels(d, m)
    if session.scalar(select(TrustGroup.id).where(TrustGroup.slug == slug)) is not None:
        raise Conflict(f"A trust group '{slug}' already exists.")
    g = TrustGroup(slug=slug, name=name, description=description, community=community, default_tlp=d,
                   max_tlp=m)  # fmt: skip
    session.add(g)
    session.flush()
    audit(session, actor, "group.create", target=f"group {slug}", group_id=g.id, after=group_state(g))
    return g


def update_group(
    session: Session,
    actor: Principal,
    slug: str,
    *,
    name: str | None = None,
    description: str | None = None,
    community: str | None = _UNSET,
    default_tlp: str | None = None,
    max_tlp: str | None = None,
    min_ipv4_prefix: int | None = _UNSET,
    min_ipv6_prefix: int | None = _UNSET,
    benign_mode: str | None = None,
    feedback_visibility: str | None = None,
    false_positive_threshold: int | None = None,
) -> TrustGroup:
    """Change a group's settings (its coordinators; the community, which opens GREEN flows, admin only).

    The prefix minimums (None: the hub's defaults) are never broader than the hard floors, and the
    known-benign mode is `flag` or `refuse` (hub.trust.benign)."""
    from hub.trust import benign

    g = find_group(session, actor, slug)
    v4 = benign.check_prefix(min_ipv4_prefix, 4) if min_ipv4_prefix is not _UNSET else g.min_ipv4_prefix
    v6 = benign.check_prefix(min_ipv6_prefix, 6) if min_ipv6_prefix is not _UNSET else g.min_ipv6_prefix
    mode = benign.check_mode(benign_mode) if benign_mode is not None else g.benign_mode
    if community is not _UNSET and community != g.community:
        require_admin(actor, "change a group's community (it decides where TLP:GREEN may flow)")
    before = group_state(g)
    d = parse_tlp(default_tlp, "default_tlp") if default_tlp is not None else g.default_tlp
    m = parse_tlp(max_tlp, "max_tlp") if max_tlp is not None else g.max_tlp
    _check_levels(d, m)
    if name is not None:
        g.name = name
    if description is not None:
        g.description = description
    if community is not _UNSET:
        g.community = community
    g.default_tlp, g.max_tlp = d, m
    g.min_ipv4_prefix, g.min_ipv6_prefix, g.benign_mode = v4, v6, mode
    if feedback_visibility is not None:
        if feedback_visibility not in FEEDBACK_POLICIES:
            raise Unprocessable(
                f"feedback_visibility must be one of {', '.join(FEEDBACK_POLICIES)}, "
                f"not {feedback_visibility[:30]!r}"
            )
        g.feedback_visibility = feedback_visibility
    if false_positive_threshold is not None:
        if not 1 <= false_positive_threshold <= 1000:
            raise Unprocessable("false_positive_threshold must be between 1 and 1000")
        g.false_positive_threshold = false_positive_threshold
    session.flush()
    if group_state(g) != before:
        audit(session, actor, "group.update", target=f"group {slug}", group_id=g.id, before=before,
              after=group_state(g))  # fmt: skip
    return g


# ---------------------------------------------------------------- memberships


@dataclass(frozen=True)
class Member:
    """A membership with the organisation it belongs to."""

    membership: Membership
    organisation: Organisation


def member_state(m: Membership) -> dict[str, Any]:
    """A membership as the audit log records it."""
    return {"role": m.role, "clearance": tlp_name(m.clearance)}


def check_role_and_clearance(group: TrustGroup, role: str | None, clearance: int | None) -> None:
    """422 for a role that does not exist or a clearance above the group's max_tlp."""
    if role is not None and role not in ROLES:
        raise Unprocessable(f"{role!r} is not a role: use {', '.join(ROLES)}")
    if clearance is not None and clearance > group.max_tlp:
        raise Unprocessable(
            Phrase(
                "clearance {clearance} is above the group's max_tlp {ceiling}",
                clearance=tlp_name(clearance),
                ceiling=tlp_name(group.max_tlp),
            )
        )


def list_members(session: Session, actor: Principal, group_slug: str) -> list[Member]:
    """The members of a group the caller coordinates, by organisation slug."""
    g = find_group(session, actor, group_slug)
    rows = session.execute(
        select(Membership, Organisation)
        .join(Organisation, Membership.organisation_id == Organisation.id)
        .where(Membership.group_id == g.id)
        .order_by(Organisation.slug)
    )
    return [Member(m, o) for m, o in rows]


def _membership(session: Session, group: TrustGroup, org: Organisation) -> Membership | None:
    return session.scalar(
        select(Membership).where(Membership.group_id == group.id, Membership.organisation_id == org.id)
    )


def get_member(session: Session, actor: Principal, group_slug: str, org_slug: str) -> Member:
    """One member of a group the caller coordinates (404 if the organisation is not a member)."""
    g = find_group(session, actor, group_slug)
    org = session.scalar(select(Organisation).where(Organisation.slug == org_slug))
    m = _membership(session, g, org) if org is not None else None
    if org is None or m is None:
        raise NotFound(f"'{org_slug}' is not a member of '{group_slug}'.")
    return Member(m, org)


def add_member(
    session: Session, actor: Principal, group_slug: str, *, org_slug: str, role: str, clearance: str
) -> Member:
    """Add an organisation the caller knows of to a group it coordinates (others are invited)."""
    g = find_group(session, actor, group_slug)
    try:
        org = find_organisation(session, actor, org_slug)
    except NotFound:
        # the same answer for an organisation that does not exist and one the caller may not know of
        raise Unprocessable(
            f"organisation: there is no organisation '{org_slug}' you may add; invite it instead"
        ) from None
    level = parse_tlp(clearance, "clearance")
    check_role_and_clearance(g, role, level)
    if _membership(session, g, org) is not None:
        raise Conflict(f"'{org_slug}' is already a member of '{group_slug}'.")
    _not_self(session, actor, org, group_slug)
    m = Membership(group_id=g.id, organisation_id=org.id, role=role, clearance=level,
                   added_by_org_id=None if actor.is_admin else actor.org_id)  # fmt: skip
    session.add(m)
    session.flush()
    audit(session, actor, "membership.add", target=f"membership {org_slug}@{group_slug}", group_id=g.id,
          target_org_id=org.id, after=member_state(m))  # fmt: skip
    return Member(m, org)


MAX_INTRODUCTION_DEPTH = 32  # a chain of introductions longer than this is cut (and refused below)


def introducers(session: Session, org_id: int, *, created_only: bool = False) -> set[int]:
    """The organisations that introduced `org_id`, transitively: the one whose coordinator invited it
    into the hub (redeeming created it) or, unless `created_only`, added or invited it into any group;
    then theirs, and so on."""
    seen: set[int] = set()
    frontier = {org_id}
    for _ in range(MAX_INTRODUCTION_DEPTH):
        if not frontier:
            break
        parents: set[int] = set(
            session.scalars(
                select(func.coalesce(Organisation.introduced_by_org_id, 0)).where(
                    Organisation.id.in_(frontier), Organisation.introduced_by_org_id.is_not(None)
                )
            )
        )
        if not created_only:
            parents |= set(
                session.scalars(
                    select(func.coalesce(Membership.added_by_org_id, 0)).where(
                        Membership.organisation_id.in_(frontier), Membership.added_by_org_id.is_not(None)
                    )
                )
            )
        frontier = parents - seen - {org_id}
        seen |= parents
    seen.discard(org_id)
    return seen


def _not_self(session: Session, actor: Principal, org: Organisation, group_slug: str) -> None:
    """A coordinator never changes its own membership, directly or through an organisation it introduced."""
    if actor.is_admin:
        return
    if org.id == actor.org_id:
        raise Forbidden(
            Phrase(
                "A coordinator cannot change its own organisation's membership of '{group}'; "
                "another coordinator or a platform admin can.",
                group=group_slug,
            )
        )
    if org.id in introducers(session, actor.org_id):
        raise Forbidden(
            Phrase(
                "'{actor}' was invited or added by '{org}' (directly or through organisations "
                "it introduced): it cannot change '{org}''s membership; another coordinator or a "
                "platform admin can.",
                actor=actor.org_slug,
                org=org.slug,
            )
        )
    if actor.org_id in introducers(session, org.id, created_only=True):
        # an organisation a coordinator's invitation created may be the coordinator itself under
        # another name: its role and clearance are for another coordinator or a platform admin
        raise Forbidden(
            Phrase(
                "'{org}' was created by redeeming an invitation of '{actor}': its membership is "
                "changed by another coordinator or a platform admin.",
                org=org.slug,
                actor=actor.org_slug,
            )
        )


def update_member(
    session: Session,
    actor: Principal,
    group_slug: str,
    org_slug: str,
    *,
    role: str | None = None,
    clearance: str | None = None,
) -> Member:
    """Change a member's role or clearance (never above max_tlp; never the caller's own membership)."""
    found = get_member(session, actor, group_slug, org_slug)
    m, org = found.membership, found.organisation
    _not_self(session, actor, org, group_slug)
    level = parse_tlp(clearance, "clearance") if clearance is not None else None
    check_role_and_clearance(m.group, role, level)
    before = member_state(m)
    if role is not None:
        m.role = role
    if level is not None:
        m.clearance = level
    session.flush()
    if member_state(m) != before:
        audit(session, actor, "membership.update", target=f"membership {org_slug}@{group_slug}",
              group_id=m.group_id, target_org_id=org.id, before=before, after=member_state(m))  # fmt: skip
    return found


def member_locks(
    session: Session, actor: Principal, group_slug: str, members: list[Member]
) -> dict[int, str]:
    """Per organisation id, why the caller may not change or remove that member (its own organisation, or
    one it introduced or that introduced it); members it may change are absent."""
    locks = {}
    for member in members:
        try:
            _not_self(session, actor, member.organisation, group_slug)
        except Forbidden as exc:
            locks[member.organisation.id] = exc.description
    return locks


def remove_member(session: Session, actor: Principal, group_slug: str, org_slug: str) -> None:
    """Remove a member: its next request to the group is refused; what it published stays."""
    found = get_member(session, actor, group_slug, org_slug)
    m, org = found.membership, found.organisation
    _not_self(session, actor, org, group_slug)
    before = member_state(m)
    gid = m.group_id
    session.delete(m)
    session.flush()
    audit(session, actor, "membership.remove", target=f"membership {org_slug}@{group_slug}", group_id=gid,
          target_org_id=org.id, before=before)  # fmt: skip
