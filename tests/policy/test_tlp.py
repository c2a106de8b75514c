"""TLP levels and the TLP 1.0 / 2.0 / OpenCTI marking-definition tables, by id and by content."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stix2
from hypothesis import given
from hypothesis import strategies as st

from hub.policy.tlp import (
    OPENCTI_AMBER_STRICT_ID,
    TLP1_IDS,
    TLP2_EXTENSION_ID,
    TLP2_IDS,
    MarkingConflict,
    MarkingIndex,
    Tlp,
    classify_marking,
    effective_tlp,
    marking_definition,
    marking_ids,
    tlp_of_ref,
)

WHITE_ID = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
STATEMENT = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": "marking-definition--1c1f5ea4-6f5b-4f52-bb5c-2f8a1c1e2d3e",
    "created": "2024-01-01T00:00:00.000Z",
    "definition_type": "statement",
    "definition": {"statement": "Copyright 2024 CERT-XX"},
}
PAP_AMBER = {
    **STATEMENT,
    "id": "marking-definition--60f8932b-e51e-5d0b-9a6e-2e1b0c5fb0e6",
    "name": "PAP:AMBER",
    "x_opencti_definition_type": "PAP",
    "x_opencti_definition": "PAP:AMBER",
}


def _tlp2(marking_id: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2022-10-01T00:00:00.000Z",
        "name": "TLP:" + value.upper(),
        "extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": value}},
        **extra,
    }


def test_levels_are_ordered_and_stored_as_their_ints() -> None:
    assert [int(t) for t in Tlp] == [0, 1, 2, 3, 4]
    assert Tlp.CLEAR < Tlp.GREEN < Tlp.AMBER < Tlp.AMBER_STRICT < Tlp.RED


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("white", Tlp.CLEAR),
        ("TLP:CLEAR", Tlp.CLEAR),
        ("amber+strict", Tlp.AMBER_STRICT),
        ("TLP:RED", Tlp.RED),
    ],
)
def test_parse_reads_the_ways_people_write_levels(text: str, level: Tlp) -> None:
    assert Tlp.parse(text) is level


def test_label_is_how_people_write_it() -> None:
    assert Tlp.AMBER_STRICT.label == "TLP:AMBER+STRICT"


@pytest.mark.parametrize("level", list(Tlp))
@pytest.mark.parametrize("version", [1, 2])
def test_every_builtin_definition_is_recognised_by_id_and_content(level: Tlp, version: int) -> None:
    md = marking_definition(level, version)  # type: ignore[arg-type]
    assert md["id"] == marking_ids(level, version)  # type: ignore[arg-type]
    assert classify_marking(md) is level
    # the same body under an id the hub does not know is still read by content
    assert classify_marking({**md, "id": "marking-definition--00000000-0000-4000-8000-000000000000"}) is level


@pytest.mark.parametrize("colour", ["white", "green", "amber", "red"])
def test_stix2_tlp1_objects_are_recognised(colour: str) -> None:
    md = json.loads(getattr(stix2, f"TLP_{colour.upper()}").serialize())
    assert classify_marking(md) is Tlp.parse(colour)


def test_tlp1_definitions_stix2_accepts() -> None:
    for level in (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.RED):
        assert stix2.parse(marking_definition(level, 1))["id"] == TLP1_IDS[level]


def test_marking_ids_default_to_tlp2_and_tlp1_amber_strict_is_openctis() -> None:
    assert (
        marking_ids(Tlp.AMBER)
        == TLP2_IDS[Tlp.AMBER]
        == "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
    )
    assert marking_ids(Tlp.CLEAR, 1) == WHITE_ID
    assert marking_ids(Tlp.AMBER_STRICT, 1) == OPENCTI_AMBER_STRICT_ID


def test_marking_definition_is_a_fresh_copy() -> None:
    marking_definition(Tlp.RED)["extensions"][TLP2_EXTENSION_ID]["tlp_2_0"] = "clear"
    assert classify_marking(marking_definition(Tlp.RED)) is Tlp.RED


def test_opencti_white_id_with_clear_body_is_clear() -> None:
    # OpenCTI exports TLP:CLEAR under the TLP 1.0 WHITE id; stix2 rejects it, the hub must not.
    md = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": WHITE_ID,
        "created": "2024-02-01T10:00:00.000Z",
        "name": "TLP:CLEAR",
        "definition_type": "TLP",
        "definition": {"TLP": "TLP:CLEAR"},
        "x_opencti_order": 1,
        "x_opencti_color": "#ffffff",
    }
    assert classify_marking(md) is Tlp.CLEAR
    assert classify_marking({**md, "definition_type": "tlp", "definition": {"tlp": "clear"}}) is Tlp.CLEAR


@pytest.mark.parametrize(
    "body",
    [
        # what OpenCTI connectors send (pycti fixed id, statement body, x_opencti hints)
        {
            "definition_type": "statement",
            "definition": {"statement": "custom"},
            "x_opencti_definition_type": "TLP",
            "x_opencti_definition": "TLP:AMBER+STRICT",
        },
        # what the platform exports
        {"definition_type": "TLP", "definition": {"TLP": "TLP:AMBER+STRICT"}},
        {"definition_type": "tlp", "definition": {"tlp": "amber+strict"}},
    ],
)
def test_opencti_amber_strict_forms_are_amber_strict(body: dict[str, Any]) -> None:
    md = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": OPENCTI_AMBER_STRICT_ID,
        "created": "2022-10-01T00:00:00.000Z",
        "name": "TLP:AMBER+STRICT",
        **body,
    }
    assert classify_marking(md) is Tlp.AMBER_STRICT


def test_tlp2_with_definition_type_label_is_read() -> None:
    # some TLP 2.0 producers also write definition_type "TLP:AMBER"
    md = _tlp2(TLP2_IDS[Tlp.AMBER], "amber", definition_type="TLP:AMBER")
    assert classify_marking(md) is Tlp.AMBER


def test_statements_are_not_tlp() -> None:
    assert classify_marking(STATEMENT) is None
    assert classify_marking(PAP_AMBER) is None


def test_statement_named_like_tlp_is_not_tlp() -> None:
    # The name is free text; only an id we know or a TLP body makes a TLP marking.
    assert classify_marking({**STATEMENT, "name": "TLP:GREEN"}) is None


def test_known_id_with_a_statement_body_keeps_its_level() -> None:
    assert classify_marking({**STATEMENT, "id": TLP1_IDS[Tlp.GREEN]}) is Tlp.GREEN


@pytest.mark.parametrize(
    ("md", "words"),
    [
        (
            {**marking_definition(Tlp.CLEAR, 1), "definition": {"tlp": "red"}},
            "TLP 1.0 TLP:CLEAR marking but its definition.tlp says TLP:RED",
        ),
        (_tlp2(TLP2_IDS[Tlp.GREEN], "amber"), "TLP 2.0 TLP:GREEN marking but its tlp_2_0 says TLP:AMBER"),
        (
            {
                **STATEMENT,
                "id": OPENCTI_AMBER_STRICT_ID,
                "x_opencti_definition_type": "TLP",
                "x_opencti_definition": "TLP:GREEN",
            },
            "OpenCTI TLP:AMBER+STRICT marking but its x_opencti_definition says TLP:GREEN",
        ),
        (
            {**_tlp2(STATEMENT["id"], "red"), "definition_type": "tlp", "definition": {"tlp": "green"}},
            "says TLP:RED in tlp_2_0 but TLP:GREEN in definition.tlp",
        ),
        ({**marking_definition(Tlp.GREEN, 1), "definition": {"tlp": "pink"}}, "'pink' is no TLP level"),
        ({**marking_definition(Tlp.GREEN, 1), "definition": {}}, "no definition.tlp"),
    ],
)
def test_contradicting_content_is_refused_with_a_reason(md: dict[str, Any], words: str) -> None:
    with pytest.raises(MarkingConflict) as info:
        classify_marking(md)
    assert words in info.value.reason
    assert info.value.marking_id == md["id"]


def test_tlp_of_ref_uses_the_builtin_table_then_the_given_definitions() -> None:
    custom = {
        **marking_definition(Tlp.GREEN, 1),
        "id": "marking-definition--c0ffee00-0000-4000-8000-000000000000",
    }
    known = {custom["id"]: custom, STATEMENT["id"]: STATEMENT}
    assert tlp_of_ref(TLP2_IDS[Tlp.RED], {}) is Tlp.RED
    assert tlp_of_ref(custom["id"], known) is Tlp.GREEN
    assert tlp_of_ref(STATEMENT["id"], known) is None
    assert tlp_of_ref("marking-definition--unknown", known) is None
    index = MarkingIndex(known.values())
    assert [tlp_of_ref(r, index) for r in (TLP2_IDS[Tlp.RED], custom["id"], STATEMENT["id"])] == [
        Tlp.RED,
        Tlp.GREEN,
        None,
    ]


@pytest.mark.parametrize("as_index", [False, True])
def test_builtin_id_whose_given_definition_contradicts_is_refused(as_index: bool) -> None:
    bad = {**marking_definition(Tlp.AMBER, 1), "definition": {"tlp": "white"}}
    known: Any = MarkingIndex([bad]) if as_index else {bad["id"]: bad}
    with pytest.raises(MarkingConflict, match="says TLP:CLEAR"):
        tlp_of_ref(bad["id"], known)
    with pytest.raises(MarkingConflict):
        effective_tlp({"object_marking_refs": [bad["id"]]}, markings=known, default=Tlp.AMBER)


def test_index_keeps_the_good_definitions_beside_a_refused_one() -> None:
    bad = {**marking_definition(Tlp.AMBER, 1), "definition": {"tlp": "white"}}
    index = MarkingIndex({bad["id"]: bad, STATEMENT["id"]: STATEMENT})
    assert set(index.conflicts) == {bad["id"]}
    assert len(index) == 2 and index[STATEMENT["id"]] is STATEMENT
    assert index.level(TLP1_IDS[Tlp.GREEN]) is Tlp.GREEN


def test_unmarked_object_takes_the_default() -> None:
    assert effective_tlp({"type": "indicator"}, markings={}, default=Tlp.AMBER) is Tlp.AMBER
    assert effective_tlp({"object_marking_refs": []}, markings={}, default=Tlp.GREEN) is Tlp.GREEN


def test_non_tlp_markings_do_not_set_the_level() -> None:
    obj = {"object_marking_refs": [STATEMENT["id"], PAP_AMBER["id"]]}
    known = {STATEMENT["id"]: STATEMENT, PAP_AMBER["id"]: PAP_AMBER}
    assert effective_tlp(obj, markings=known, default=Tlp.AMBER) is Tlp.AMBER
    obj["object_marking_refs"].append(TLP1_IDS[Tlp.CLEAR])
    assert effective_tlp(obj, markings=known, default=Tlp.AMBER) is Tlp.CLEAR


def test_several_markings_the_highest_wins() -> None:
    obj = {
        "object_marking_refs": [TLP1_IDS[Tlp.GREEN], STATEMENT["id"], TLP2_IDS[Tlp.AMBER_STRICT], WHITE_ID]
    }
    assert effective_tlp(obj, markings={}, default=Tlp.CLEAR) is Tlp.AMBER_STRICT


def test_misp_stix_mix_of_tlp1_and_tlp2_ids_in_one_bundle() -> None:
    # misp-stix: TLP 1.0 ids for white/green/amber/red, TLP 2.0 ids for clear and amber+strict,
    # and the event's TLP only on the report (contents unmarked).
    bundle = [
        json.loads(stix2.TLP_GREEN.serialize()),
        _tlp2(TLP2_IDS[Tlp.CLEAR], "clear"),
        _tlp2(TLP2_IDS[Tlp.AMBER_STRICT], "amber+strict"),
        {"type": "report", "id": "report--1", "object_marking_refs": [TLP2_IDS[Tlp.AMBER_STRICT]]},
        {"type": "indicator", "id": "indicator--1", "object_marking_refs": [TLP1_IDS[Tlp.GREEN]]},
        {"type": "indicator", "id": "indicator--2", "object_marking_refs": [TLP2_IDS[Tlp.CLEAR]]},
        {"type": "indicator", "id": "indicator--3"},
    ]
    index = MarkingIndex(o for o in bundle if o["type"] == "marking-definition")
    assert not index.conflicts
    levels = {o["id"]: effective_tlp(o, markings=index, default=Tlp.AMBER) for o in bundle[3:]}
    assert levels == {
        "report--1": Tlp.AMBER_STRICT,
        "indicator--1": Tlp.GREEN,
        "indicator--2": Tlp.CLEAR,
        "indicator--3": Tlp.AMBER,
    }


_ALL_IDS = sorted({*TLP1_IDS.values(), *TLP2_IDS.values()})
_refs = st.lists(st.sampled_from([*_ALL_IDS, STATEMENT["id"], "marking-definition--unknown"]), max_size=6)


@given(refs=_refs, default=st.sampled_from(list(Tlp)))
def test_effective_tlp_is_the_max_of_the_tlp_refs(refs: list[str], default: Tlp) -> None:
    obj = {"object_marking_refs": refs}
    levels = [Tlp(lv) for lv in (tlp_of_ref(r, {}) for r in refs) if lv is not None]
    expected = max(levels) if levels else default
    known = {STATEMENT["id"]: STATEMENT}
    assert effective_tlp(obj, markings={}, default=default) is expected
    assert effective_tlp(obj, markings=known, default=default) is expected
    assert effective_tlp(obj, markings=MarkingIndex(known), default=default) is expected
