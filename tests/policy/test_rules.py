"""The TLP rules as decision tables: accept, may_read, may_redistribute, every level and kind."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.policy.rules import (
    CollectionPolicy,
    Decision,
    Destination,
    GroupPolicy,
    Reader,
    Submitter,
    accept,
    may_read,
    may_redistribute,
    read_clearance,
    redistribution_ceiling,
    visible_level,
)
from hub.policy.tlp import TLP1_IDS, TLP2_IDS, MarkingIndex, Tlp, marking_ids

ROLES: list[Any] = [None, "reader", "contributor", "coordinator"]
APAC = GroupPolicy("asia-pacific", default_tlp=Tlp.AMBER, max_tlp=Tlp.AMBER_STRICT, community="south")
AFRICA = GroupPolicy("africa", community="south")
GLOBAL = GroupPolicy("global", community="world")
LONER = GroupPolicy("lab", community=None)
OWNER, RECIPIENT, OTHER = 1, 2, 3
GROUP_COLL = CollectionPolicy("c-apac", "group", APAC, title="indicators")
NAMED_COLL = CollectionPolicy(
    "c-red", "named", APAC, owner_org_id=OWNER, recipient_org_ids=frozenset({RECIPIENT})
)
IDENTITY = "identity--7d2f0a38-0bd2-4b61-9a8c-6b1d1d6c2a11"


def _grid(text: str) -> dict[tuple[Tlp, Tlp], bool]:
    """A table: rows are the first column's level, columns the header's levels, cells y/n."""
    rows = [line.split() for line in text.strip().splitlines()]
    cols = [Tlp.parse(c) for c in rows[0][1:]]
    return {(Tlp.parse(r[0]), c): cell == "y" for r in rows[1:] for c, cell in zip(cols, r[1:], strict=True)}


# may a reader with this clearance (row) see an object of this TLP (column)?
READ = _grid("""
clearance     clear green amber amber+strict red
clear         y     n     n     n            n
green         y     y     n     n            n
amber         y     y     y     n            n
amber+strict  y     y     y     y            n
red           y     y     y     y            y
""")

# may an object of this TLP (row) leave for this destination (column)?
DESTINATIONS = {
    "group-same": Destination("group", "africa", community="south"),
    "group-other": Destination("group", "global", community="world"),
    "peer-same": Destination("peer", "south-hub.example", community="south"),
    "peer-other": Destination("peer", "eu-hub.example", community="europe"),
    "peer-none": Destination("peer", "lab-hub.example"),
    "export": Destination("export", "public-feed", community="south"),
}
REDISTRIBUTE_TABLE = """
level         group-same group-other peer-same peer-other peer-none export
clear         y          y           y         y          y         y
green         y          n           y         n          n         n
amber         n          n           n         n          n         n
amber+strict  n          n           n         n          n         n
red           n          n           n         n          n         n
"""
REDISTRIBUTE = {
    (Tlp.parse(r[0]), col): cell == "y"
    for lines in [[line.split() for line in REDISTRIBUTE_TABLE.strip().splitlines()]]
    for r in lines[1:]
    for col, cell in zip(lines[0][1:], r[1:], strict=True)
}


def _obj(level: Tlp | None = None, **props: Any) -> dict[str, Any]:
    obj = {
        "type": "indicator",
        "id": "indicator--0f4b7c3e-6e3a-4f0e-9a3a-5d8f1e2b7c10",
        "pattern": "[x]",
        **props,
    }
    if level is not None:
        obj["object_marking_refs"] = [marking_ids(level)]
    return obj


def test_decision_is_truthy_by_allowed_and_frozen() -> None:
    assert Decision(True, "ok") and not Decision(False, "no")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Decision(True, "ok").allowed = False  # type: ignore[misc]


def test_read_decision_table_every_level_role_clearance_and_collection_kind() -> None:
    wrong = []
    for level, clearance, role, kind, who, own in itertools.product(
        Tlp, Tlp, ROLES, ["group", "named"], [OWNER, RECIPIENT, OTHER], [False, True]
    ):
        collection = GROUP_COLL if kind == "group" else NAMED_COLL
        reader = Reader(who, role, clearance)
        if kind == "group":
            expected = role is not None and (own or READ[(clearance, level)])
        else:
            # being named is the grant: owner and recipients read at RED; nobody else reads at all
            expected = who in (OWNER, RECIPIENT)
        decision = may_read(reader, collection, level, who if own else 99)
        if decision.allowed != expected or not decision.reason:
            wrong.append((level, clearance, role, kind, who, own, decision))
    assert wrong == []


def test_redistribute_decision_table_every_level_and_destination_kind() -> None:
    wrong = []
    for (level, dest), expected in REDISTRIBUTE.items():
        decision = may_redistribute(level, APAC, DESTINATIONS[dest])
        if decision.allowed != expected or not decision.reason:
            wrong.append((level, dest, decision))
    assert wrong == []


def test_accept_decision_table_every_level_role_and_collection_kind() -> None:
    wrong = []
    for level, role, kind, who in itertools.product(
        [None, *Tlp], ROLES, ["group", "named"], [OWNER, RECIPIENT, OTHER]
    ):
        collection = GROUP_COLL if kind == "group" else NAMED_COLL
        effective = APAC.default_tlp if level is None else level
        if kind == "group":
            expected = role in ("contributor", "coordinator") and effective <= Tlp.AMBER_STRICT
        else:
            expected = who == OWNER
        decision = accept(_obj(level), collection, Submitter(who, IDENTITY, role), markings={})
        if decision.allowed != expected or not decision.reason:
            wrong.append((level, role, kind, who, decision))
        if decision.allowed and decision.levels != (effective, None):
            wrong.append((level, role, kind, who, decision.levels))
    assert wrong == []


def test_red_is_accepted_only_in_named_recipient_collections() -> None:
    decision = accept(_obj(Tlp.RED), GROUP_COLL, Submitter(OWNER, IDENTITY, "contributor"), markings={})
    assert not decision
    assert decision.reason == "its TLP TLP:RED is accepted only in named-recipient collections"


def test_amber_strict_is_refused_above_a_group_ceiling_of_amber() -> None:
    strict = CollectionPolicy("c", "group", dataclasses.replace(APAC, max_tlp=Tlp.AMBER))
    decision = accept(_obj(Tlp.AMBER_STRICT), strict, Submitter(OWNER, IDENTITY, "coordinator"), markings={})
    assert decision.reason == "its TLP TLP:AMBER+STRICT is above group asia-pacific's ceiling TLP:AMBER"


def test_unmarked_object_is_checked_at_the_group_default() -> None:
    group = dataclasses.replace(APAC, default_tlp=Tlp.AMBER_STRICT, max_tlp=Tlp.AMBER)
    decision = accept(
        _obj(), CollectionPolicy("c", "group", group), Submitter(1, IDENTITY, "contributor"), markings={}
    )
    assert not decision and "TLP:AMBER+STRICT" in decision.reason


def test_created_by_another_member_identity_is_refused() -> None:
    other = "identity--11111111-1111-4111-8111-111111111111"
    decision = accept(
        _obj(Tlp.GREEN, created_by_ref=other),
        GROUP_COLL,
        Submitter(OWNER, IDENTITY, "contributor", name="CERT-PH"),
        markings={},
        member_identities={other, IDENTITY},
    )
    assert decision.reason == (
        f"created_by_ref {other} is another member organisation's identity, not CERT-PH's ({IDENTITY}): "
        "a CIRT cannot publish as another"
    )
    own = accept(
        _obj(Tlp.GREEN, created_by_ref=IDENTITY),
        GROUP_COLL,
        Submitter(1, IDENTITY, "contributor"),
        markings={},
        member_identities={other, IDENTITY},
    )
    assert own


def test_created_by_a_third_party_identity_is_accepted_as_the_author() -> None:
    vendor = "identity--22222222-2222-4222-8222-222222222222"
    decision = accept(
        _obj(Tlp.GREEN, created_by_ref=vendor),
        GROUP_COLL,
        Submitter(1, IDENTITY, "contributor"),
        markings={},
        member_identities={IDENTITY, "identity--11111111-1111-4111-8111-111111111111"},
    )
    assert decision


def test_a_reader_member_may_not_publish() -> None:
    decision = accept(
        _obj(Tlp.GREEN), GROUP_COLL, Submitter(OWNER, IDENTITY, "reader", name="CERT-PH"), markings={}
    )
    assert (
        decision.reason
        == "CERT-PH is a reader of group asia-pacific: only contributors and coordinators add objects"
    )


def test_a_granular_marking_above_the_ceiling_is_refused() -> None:
    obj = _obj(
        Tlp.GREEN,
        description="victim list",
        granular_markings=[{"marking_ref": TLP2_IDS[Tlp.RED], "selectors": ["description"]}],
    )
    decision = accept(obj, GROUP_COLL, Submitter(OWNER, IDENTITY, "contributor"), markings={})
    assert decision.reason == "a property marked TLP:RED is accepted only in named-recipient collections"
    named = accept(obj, NAMED_COLL, Submitter(OWNER, IDENTITY, None), markings={})
    assert named.levels == (Tlp.GREEN, Tlp.RED)


def test_a_contradicted_marking_is_refused_with_its_reason() -> None:
    bad = {
        "type": "marking-definition",
        "id": TLP1_IDS[Tlp.GREEN],
        "definition_type": "tlp",
        "definition": {"tlp": "red"},
    }
    decision = accept(
        _obj(object_marking_refs=[bad["id"]]),
        GROUP_COLL,
        Submitter(OWNER, IDENTITY, "contributor"),
        markings=MarkingIndex([bad]),
    )
    assert not decision
    assert decision.reason.startswith("marking refused: ") and "says TLP:RED" in decision.reason


def test_green_reader_does_not_see_amber_and_producer_sees_its_own() -> None:
    reader = Reader(OTHER, "reader", Tlp.GREEN, name="CERT-PH")
    hidden = may_read(reader, GROUP_COLL, Tlp.AMBER, producer_org_id=OWNER)
    assert hidden.reason == "its TLP is TLP:AMBER, above CERT-PH's clearance TLP:GREEN in group asia-pacific"
    assert may_read(reader, GROUP_COLL, Tlp.RED, producer_org_id=OTHER)


def test_named_recipient_reads_red_whatever_its_group_clearance() -> None:
    assert may_read(Reader(RECIPIENT, "reader", Tlp.GREEN), NAMED_COLL, Tlp.RED, OWNER)
    assert read_clearance(Reader(RECIPIENT, None, Tlp.CLEAR), NAMED_COLL) is Tlp.RED
    outsider = may_read(Reader(OTHER, "coordinator", Tlp.RED), NAMED_COLL, Tlp.CLEAR, OWNER)
    assert not outsider and "neither the owner nor a named recipient" in outsider.reason


def test_non_member_reads_nothing_not_even_its_own() -> None:
    decision = may_read(Reader(OTHER, None, Tlp.RED), GROUP_COLL, Tlp.CLEAR, OTHER)
    assert decision.reason == "organisation 3 is not a member of group asia-pacific"


def test_green_never_leaves_a_group_without_community() -> None:
    decision = may_redistribute(Tlp.GREEN, LONER, Destination("peer", "x", community=None))
    assert "belongs to no community" in decision.reason
    assert may_redistribute(Tlp.CLEAR, LONER, Destination("export", "x"))


_destinations = st.builds(
    Destination,
    kind=st.sampled_from(["group", "peer", "export"]),
    name=st.text(min_size=1, max_size=5),
    community=st.sampled_from([None, "south", "world", "europe"]),
)
_groups = st.sampled_from([APAC, AFRICA, GLOBAL, LONER])


@given(level=st.sampled_from(list(Tlp)), source=_groups, destination=_destinations)
def test_redistribute_never_lets_amber_or_above_out(
    level: Tlp, source: GroupPolicy, destination: Destination
) -> None:
    decision = may_redistribute(level, source, destination)
    if level >= Tlp.AMBER:
        assert not decision
    assert decision.allowed == (level <= redistribution_ceiling(source, destination))
    assert decision.reason


@given(
    level=st.sampled_from(list(Tlp)),
    clearance=st.sampled_from(list(Tlp)),
    role=st.sampled_from(ROLES),
    who=st.integers(1, 4),
    producer=st.one_of(st.none(), st.integers(1, 4)),
    kind=st.sampled_from(["group", "named"]),
)
def test_may_read_is_collection_access_then_visible_level(
    level: Tlp, clearance: Tlp, role: Any, who: int, producer: int | None, kind: str
) -> None:
    collection = GROUP_COLL if kind == "group" else NAMED_COLL
    reader = Reader(who, role, clearance)
    granted = read_clearance(reader, collection)
    decision = may_read(reader, collection, level, producer)
    if granted is None:
        assert not decision
    else:
        assert decision.allowed == visible_level(
            reader_org_id=who, clearance=granted, level=level, producer_org_id=producer
        )
    assert decision.reason


@given(refs=st.lists(st.sampled_from(sorted({*TLP1_IDS.values(), *TLP2_IDS.values()})), max_size=4))
def test_accept_refuses_exactly_what_is_above_the_ceiling(refs: list[str]) -> None:
    obj = {"type": "indicator", "id": "indicator--1", "object_marking_refs": refs}
    decision = accept(obj, GROUP_COLL, Submitter(1, IDENTITY, "contributor"), markings={})
    levels = [lv for lv in Tlp for version in (1, 2) if marking_ids(lv, version) in refs]  # type: ignore[arg-type]
    effective = max(levels) if levels else APAC.default_tlp
    assert decision.allowed == (effective <= APAC.max_tlp)
