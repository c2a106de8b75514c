"""The coordinators' admin API (JSON): policy explanations inside their own groups."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import BadRequest, Forbidden, NotFound
from hub.policy.rules import Reader
from hub.policy.tlp import Tlp
from hub.trust.explain import ExplainError, explain
from hub.trust.models import TrustGroup
from hub.trust.service import Principal
from hub.web.deps import db_session
from hub.web.deps import reader as with_read_scope

router = APIRouter(prefix="/admin/api")


@router.get("/groups/{group}/policy/explain")
def get_policy_explain(
    group: str,
    object_id: str = Query(..., alias="object", max_length=300),
    reader: str | None = Query(None, max_length=64),
    to: str | None = Query(None, max_length=64, description="destination trust group"),
    export: bool = False,
    who: Principal = Depends(with_read_scope),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """May `reader` see, or group `to` receive, an object stored in this group, and why.

    Open to the group's coordinators (and platform admins): a coordinator asks about its own group only.
    """
    with session.begin():
        g = session.scalar(select(TrustGroup).where(TrustGroup.slug == group))
        if g is None or not (who.is_admin or g.id in who.memberships):
            # a group the caller is not a member of is not revealed
            raise NotFound(f"There is no trust group '{group}'.")
        member = who.memberships.get(g.id)
        if not who.is_admin and (member is None or member.role != "coordinator"):
            raise Forbidden(f"Only coordinators of '{group}' may ask the policy layer about it.")
        try:
            answers = explain(
                session,
                object_id=object_id,
                reader=reader,
                to_group=to,
                export=export,
                within_groups={g.id},
                # a coordinator learns nothing of objects its own clearance hides; admins see all
                asker=None if who.is_admin else Reader(org_id=who.org_id, role=None, clearance=Tlp.CLEAR),
                asker_roles={gid: (m.role, m.clearance) for gid, m in who.memberships.items()},
                caller=who,
            )
        except ExplainError as exc:
            raise BadRequest(str(exc)) from None
    return {"answers": [a.__dict__ for a in answers]}
