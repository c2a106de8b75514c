"""Plain-words explanations of read and redistribution decisions."""

from __future__ import annotations

from typing import Any

from hub.policy.explain import explain_read, explain_redistribute
from hub.policy.rules import CollectionPolicy, Destination, GroupPolicy, Reader
from hub.policy.tlp import TLP1_IDS, TLP2_IDS, Tlp

APAC = GroupPolicy("asia-pacific", community="south")
COLLECTION = CollectionPolicy("c-apac", "group", APAC)
AMBER_1 = TLP1_IDS[Tlp.AMBER]


def _indicator(**props: Any) -> dict[str, Any]:
    return {"type": "indicator", "id": "indicator--x", "pattern": "[x]", **props}


def test_amber_object_hidden_from_green_reader_says_why() -> None:
    text = explain_read(
        reader=Reader(7, "reader", Tlp.GREEN, name="CERT-PH"),
        collection=COLLECTION,
        obj=_indicator(object_marking_refs=[AMBER_1]),
        markings={},
        producer_org_id=3,
    )
    assert text.splitlines() == [
        "CERT-PH may not see indicator--x: its TLP is TLP:AMBER, above CERT-PH's clearance TLP:GREEN "
        "in group asia-pacific.",
        f"Marked {AMBER_1} (the STIX 2.1 TLP 1.0 TLP:AMBER marking).",
        "CERT-PH's clearance in group asia-pacific is TLP:GREEN.",
    ]


def test_read_explanation_names_the_default_and_removed_parts() -> None:
    obj = _indicator(
        description="d",
        granular_markings=[{"marking_ref": TLP2_IDS[Tlp.RED], "selectors": ["description"]}],
    )
    text = explain_read(
        reader=Reader(7, "contributor", Tlp.AMBER, name="CERT-PH"),
        collection=COLLECTION,
        obj=obj,
        markings={},
        producer_org_id=3,
    )
    assert text.startswith("CERT-PH may see indicator--x: its TLP is TLP:AMBER")
    assert "It carries no TLP marking, so the group default TLP:AMBER applies." in text
    assert "Marked above TLP:AMBER, so removed from what CERT-PH gets: description." in text


def test_refused_marking_is_explained() -> None:
    bad = {
        "type": "marking-definition",
        "id": AMBER_1,
        "definition_type": "tlp",
        "definition": {"tlp": "clear"},
    }
    text = explain_read(
        reader=Reader(7, "reader", Tlp.RED),
        collection=COLLECTION,
        obj=_indicator(object_marking_refs=[AMBER_1]),
        markings={AMBER_1: bad},
        producer_org_id=3,
    )
    assert text.startswith("organisation 7 may not see indicator--x: its marking is refused:")


def test_redistribute_explanation() -> None:
    amber = explain_redistribute(
        obj=_indicator(object_marking_refs=[AMBER_1]),
        markings={},
        source_group=APAC,
        destination=Destination("peer", "south-hub", community="south"),
    )
    assert amber.splitlines()[0] == (
        "indicator--x may not go to peer hub south-hub: TLP:AMBER never leaves the collection it was shared "
        "into, peer hub south-hub included."
    )
    green = explain_redistribute(
        obj=_indicator(object_marking_refs=[TLP2_IDS[Tlp.GREEN]]),
        markings={},
        source_group=APAC,
        destination=Destination("group", "africa", community="south"),
    )
    assert green.splitlines()[0] == (
        "indicator--x may go to group africa: TLP:GREEN may flow within community south, to group africa."
    )
    assert "From group asia-pacific, at most TLP:GREEN may reach group africa." in green
