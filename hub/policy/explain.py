"""Plain-words answers to "may X see or receive object Y, and why" (`hub policy explain`, the API)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.policy.granular import analyse, required_properties, storage_levels
from hub.policy.rules import (
    CollectionPolicy,
    Decision,
    Destination,
    GroupPolicy,
    Reader,
    may_read,
    may_redistribute,
    read_clearance,
    redistribution_ceiling,
)
from hub.policy.tlp import (
    OPENCTI_AMBER_STRICT_ID,
    TLP1_IDS,
    TLP2_IDS,
    MarkingConflict,
    MarkingIndex,
    Tlp,
    tlp_of_ref,
)
from hub.policy.words import N_, Phrase

__all__ = ["describe_marking", "explain_read", "explain_redistribute", "marking_lines"]

_TABLE_OF: Mapping[str, str] = {
    **dict.fromkeys(TLP1_IDS.values(), N_("the STIX 2.1 TLP 1.0 {level} marking")),
    OPENCTI_AMBER_STRICT_ID: N_("OpenCTI's {level} marking"),
    **dict.fromkeys(TLP2_IDS.values(), N_("the OASIS TLP 2.0 {level} marking")),
}


def describe_marking(ref: str, level: Tlp | None) -> str:
    """One marking ref in words: `marking-definition--f88d... (the STIX 2.1 TLP 1.0 TLP:AMBER marking)`."""
    if level is None:
        return Phrase(
            "{ref} (no TLP level: not a TLP marking or not known here; kept and passed on)", ref=ref
        )
    table = _TABLE_OF.get(ref)
    if table is not None:
        return Phrase("{ref} ({table})", ref=ref, table=Phrase(table, level=level.label))
    return Phrase("{ref} ({level}, read from its definition)", ref=ref, level=level.label)


def marking_lines(
    obj: Mapping[str, Any], markings: Mapping[str, Mapping[str, Any]], default: Tlp
) -> list[str]:
    """Where an object's TLP comes from, one line per object-level and granular TLP marking."""
    lines: list[str] = []
    refs = obj.get("object_marking_refs") or []
    levels = [(ref, tlp_of_ref(ref, markings)) for ref in refs]
    if not any(level is not None for _, level in levels):
        lines.append(
            Phrase("It carries no TLP marking, so the group default {level} applies.", level=default.label)
        )
    for ref, level in levels:
        lines.append(Phrase("Marked {marking}.", marking=describe_marking(ref, level)))
    required_props = required_properties(obj.get("type", ""))
    for entry in obj.get("granular_markings") or []:
        ref = entry.get("marking_ref")
        level = tlp_of_ref(ref, markings) if ref else None
        if level is None:
            continue
        for selector in entry.get("selectors", ()):
            values = {"selector": selector, "level": level.label, "ref": ref}
            if selector.split(".", 1)[0] in required_props:
                lines.append(Phrase("Its required property {selector} is marked {level} ({ref}).", **values))
            else:
                lines.append(Phrase("Its optional property {selector} is marked {level} ({ref}).", **values))
    return lines


def _removed_lines(
    obj: Mapping[str, Any], markings: Mapping[str, Mapping[str, Any]], clearance: Tlp, who: str
) -> list[str]:
    levels = analyse(obj, markings)
    if levels.optional is None or levels.optional <= clearance:
        return []
    required_props = required_properties(obj.get("type", ""))
    removed = [
        selector
        for entry in obj.get("granular_markings") or []
        if entry.get("marking_ref")
        and (level := tlp_of_ref(entry["marking_ref"], markings)) is not None
        and level > clearance
        for selector in entry.get("selectors", ())
        if selector.split(".", 1)[0] not in required_props
    ]
    return [
        Phrase(
            "Marked above {level}, so removed from what {who} gets: {properties}.",
            level=clearance.label,
            who=who,
            properties=", ".join(removed),
        )
    ]


def _answer(head: Phrase, decision: Decision, details: list[str]) -> str:
    return Phrase.joined("\n", [Phrase("{head}: {reason}.", head=head, reason=decision.reason), *details])


def explain_read(
    *,
    reader: Reader,
    collection: CollectionPolicy,
    obj: Mapping[str, Any],
    markings: Mapping[str, Mapping[str, Any]],
    producer_org_id: int | None,
) -> str:
    """May `reader` see `obj` (stored in `collection`, produced by `producer_org_id`), and why, in words."""
    if type(markings) is not MarkingIndex:
        markings = MarkingIndex(markings)
    obj_id = obj.get("id") or Phrase("this object")
    default = collection.group.default_tlp
    values = {"reader": reader.display, "object": obj_id}
    yes = Phrase("{reader} may see {object}", **values)
    no = Phrase("{reader} may not see {object}", **values)
    try:
        level, _ = storage_levels(obj, markings=markings, default=default)
    except MarkingConflict as exc:
        return _answer(no, Decision(False, Phrase("its marking is refused: {reason}", reason=exc.reason)), [])
    decision = may_read(reader, collection, level, producer_org_id)
    details = marking_lines(obj, markings, default)
    clearance = read_clearance(reader, collection)
    if clearance is not None:
        where = (
            Phrase("as a named recipient of {collection}", collection=collection.display)
            if collection.kind == "named"
            else Phrase("in group {group}", group=collection.group.slug)
        )
        details.append(
            Phrase(
                "{reader}'s clearance {where} is {level}.",
                reader=reader.display,
                where=where,
                level=clearance.label,
            )
        )
        if decision.allowed and producer_org_id != reader.org_id:
            details.extend(_removed_lines(obj, markings, clearance, reader.display))
    return _answer(yes if decision.allowed else no, decision, details)


def explain_redistribute(
    *,
    obj: Mapping[str, Any],
    markings: Mapping[str, Mapping[str, Any]],
    source_group: GroupPolicy,
    destination: Destination,
) -> str:
    """May `obj` leave `source_group` for `destination` (sync push, cross-group copy, export), and why."""
    if type(markings) is not MarkingIndex:
        markings = MarkingIndex(markings)
    obj_id = obj.get("id") or Phrase("this object")
    values = {"object": obj_id, "destination": destination.display}
    yes = Phrase("{object} may go to {destination}", **values)
    no = Phrase("{object} may not go to {destination}", **values)
    try:
        level, _ = storage_levels(obj, markings=markings, default=source_group.default_tlp)
    except MarkingConflict as exc:
        return _answer(no, Decision(False, Phrase("its marking is refused: {reason}", reason=exc.reason)), [])
    decision = may_redistribute(level, source_group, destination)
    details = marking_lines(obj, markings, source_group.default_tlp)
    ceiling = redistribution_ceiling(source_group, destination)
    details.append(
        Phrase(
            "From group {group}, at most {level} may reach {destination}.",
            group=source_group.slug,
            level=ceiling.label,
            destination=destination.display,
        )
    )
    if decision.allowed:
        details.extend(_removed_lines(obj, markings, ceiling, destination.display))
    return _answer(yes if decision.allowed else no, decision, details)
