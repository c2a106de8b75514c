"""The upstream relationship of a pull from another hub: the redistribution rule on the way in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.ingest import Submission
from hub.policy.granular import redact
from hub.policy.rules import Destination, GroupPolicy, may_redistribute, redistribution_ceiling
from hub.policy.tlp import MarkingConflict, MarkingIndex, Tlp, effective_tlp, marking_ids


def upstream_screen(
    submission: Submission,
    *,
    source: str,
    org: str | None,
    peer_community: str | None,
    public: bool,
    upstream_default_tlp: str | None,
    tlp_version: int = 2,
) -> Callable[[dict[str, Any]], tuple[dict[str, Any] | None, str]]:
    """The redistribution rule applied to what a TAXII pull brings from another hub.

    The upstream is a source group of the community it declares (`peer_community`), or of none
    (`public: true`); our collection is the destination. An object the upstream serves unmarked gets
    an explicit marking of `upstream_default_tlp` first (the receiving group's default, possibly lower,
    never applies). CLEAR comes in anywhere, GREEN into groups of the upstream's community, AMBER and
    above only into a named-recipient collection owned by `org` (the publisher) with no other
    recipient (TLP:AMBER allows an organisation and its clients, not a multi-organisation group).
    Granular content above what may come in is redacted, as on the way out.
    """
    default = Tlp.parse(upstream_default_tlp or "amber")
    default_ref = marking_ids(default, 1 if tlp_version == 1 else 2)
    upstream = GroupPolicy(slug=f"upstream {source}", community=None if public else peer_community)
    policy = submission.collection
    dest = Destination(kind="group", name=policy.group.slug, community=policy.group.community)
    restricted = (
        policy.kind == "named" and policy.owner_org_id == submission.org_id and not policy.recipient_org_ids
    )
    ceiling = Tlp.RED if restricted else redistribution_ceiling(upstream, dest)
    definitions: dict[str, dict[str, Any]] = {}
    index = MarkingIndex()

    def screen(obj: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        nonlocal index
        if obj.get("type") == "marking-definition":
            if isinstance(obj.get("id"), str):
                definitions[obj["id"]] = obj
                index = MarkingIndex(definitions)
            return obj, ""
        refs = obj.get("object_marking_refs")
        try:
            marked = isinstance(refs, list) and any(index.level(r) is not None for r in refs)
        except MarkingConflict:
            return obj, ""  # ingest refuses it, with the reason
        if not marked:
            obj = {**obj, "object_marking_refs": [*(refs if isinstance(refs, list) else []), default_ref]}
        level = effective_tlp(obj, markings=index, default=default)
        if level > ceiling:
            if level >= Tlp.AMBER:
                why = (
                    f"{level.label} from another hub comes only into a collection restricted to "
                    f"{org} (named-recipient, no other recipient), not {policy.display}"
                )
            else:
                why = may_redistribute(level, upstream, dest).reason
            return None, why + ("" if marked else f" (unmarked upstream: {default.label})")
        redacted = redact(obj, ceiling, index)
        if redacted is None:
            return None, f"a required property is marked above {ceiling.label}, what may come in"
        return redacted, ""

    return screen
