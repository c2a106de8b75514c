"""What the leak property tests (TAXII, lookup, console) generate alike: members and their levels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.db import begin_write
from hub.trust.models import Collection, Organisation
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config

# TLP levels by name; None is an object without a marking (the group's default applies)
LEVELS = ["clear", "green", "amber", "amber+strict", "red", None]

# 2-4 organisations, each a (role, clearance); a role of None is an organisation outside the group
orgs_st = st.lists(
    st.tuples(st.sampled_from(["coordinator", "contributor", "reader", None]), st.sampled_from(LEVELS[:5])),
    min_size=2,
    max_size=4,
)


def leak_settings(max_examples: int) -> settings:
    """Hypothesis settings of a leak test: no deadline, fixtures shared across examples."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@dataclass(frozen=True)
class GeneratedGroup:
    """A trust group built from generated members: its keys, organisation and collection ids."""

    named_ok: bool  # the first organisation is a member, so the group has its named collection
    recips: list[str]  # the named collection's recipients
    keys: dict[str, str]
    org_ids: dict[str, int]
    colls: dict[str, str]  # alias -> collection id


def generated_group(
    sm: Any,
    slugs: list[str],
    group: str,
    orgs: list[tuple[str | None, str]],
    recipients: set[int],
    *,
    default: str = "green",
    **group_settings: Any,
) -> GeneratedGroup:
    """Load one group whose members are `orgs` (role or None for an outsider, clearance), with a shared
    collection and, when the first organisation is a member, a collection it owns naming `recipients`."""
    members = [{"org": s, "role": r, "clearance": c} for s, (r, c) in zip(slugs, orgs, strict=True) if r]
    named_ok = orgs[0][0] is not None
    recips = [slugs[i] for i in recipients if i < len(slugs) and orgs[i][0] is not None]
    collections: list[dict[str, Any]] = [{"alias": "shared", "title": "Shared"}]
    if named_ok:
        collections.append(
            {"alias": "named", "title": "Named", "kind": "named", "owner": slugs[0], "recipients": recips}
        )
    cfg = {
        "organisations": [{"slug": s, "name": s.upper(), "accounts": [{"name": "k"}]} for s in slugs],
        "groups": [{"slug": group, "name": group, "default_tlp": default, "max_tlp": "amber+strict",
                    **group_settings, "members": members, "collections": collections}],
    }  # fmt: skip
    with sm() as s, s.begin():
        begin_write(s)
        issued = apply_config(s, TrustConfig.model_validate(cfg))
        org_ids = {o.slug: o.id for o in s.scalars(select(Organisation).where(Organisation.slug.in_(slugs)))}
        colls = {c.alias: c.id for c in s.scalars(select(Collection)) if c.group.slug == group}
    return GeneratedGroup(named_ok, recips, {k.organisation: k.key for k in issued}, org_ids, colls)
