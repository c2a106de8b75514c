"""Granular markings: required versus optional properties, storage levels, redaction."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.policy.granular import GranularLevels, analyse, redact, required_properties, storage_levels
from hub.policy.tlp import TLP2_IDS, MarkingConflict, MarkingIndex, Tlp, marking_definition, tlp_of_ref

GREEN, AMBER, RED = TLP2_IDS[Tlp.GREEN], TLP2_IDS[Tlp.AMBER], TLP2_IDS[Tlp.RED]
STATEMENT_ID = "marking-definition--1c1f5ea4-6f5b-4f52-bb5c-2f8a1c1e2d3e"


def _indicator(*granular: tuple[str, list[str]], **props: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--0f4b7c3e-6e3a-4f0e-9a3a-5d8f1e2b7c10",
        "created": "2024-05-01T00:00:00.000Z",
        "modified": "2024-05-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": "2024-05-01T00:00:00Z",
        "object_marking_refs": [GREEN],
        "description": "C2 seen against ministries",
        "external_references": [
            {"source_name": "cert-ph", "external_id": "PH-1"},
            {"source_name": "victim", "url": "https://victim.example/"},
            {"source_name": "blog", "url": "https://blog.example/c2"},
        ],
        "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}],
        **props,
    }
    if granular:
        obj["granular_markings"] = [{"marking_ref": ref, "selectors": sel} for ref, sel in granular]
    return obj


def test_indicator_required_properties_follow_stix_2_1() -> None:
    assert {"pattern", "pattern_type", "valid_from", "type", "id", "created", "modified", "spec_version"} <= (
        required_properties("indicator")
    )
    assert "description" not in required_properties("indicator")
    assert required_properties("x-acme-widget") >= {"id", "type", "spec_version", "created", "modified"}
    assert "name" not in required_properties("x-acme-widget")


def test_analyse_splits_required_and_optional() -> None:
    obj = _indicator((AMBER, ["pattern"]), (RED, ["description", "kill_chain_phases.[0].phase_name"]))
    assert analyse(obj, {}) == GranularLevels(required=Tlp.AMBER, optional=Tlp.RED)
    assert analyse(_indicator(), {}) == GranularLevels(None, None)


def test_analyse_ignores_lang_and_non_tlp_markings() -> None:
    obj = _indicator((STATEMENT_ID, ["description"]))
    obj["granular_markings"].append({"lang": "fr", "selectors": ["description"]})
    assert analyse(obj, {}) == GranularLevels(None, None)


def test_analyse_refuses_a_contradicted_marking() -> None:
    bad = {**marking_definition(Tlp.GREEN), "name": "x"}
    bad["extensions"] = {**bad["extensions"]}
    bad["extensions"][next(iter(bad["extensions"]))] = {
        "extension_type": "property-extension",
        "tlp_2_0": "red",
    }
    with pytest.raises(MarkingConflict):
        analyse(_indicator((GREEN, ["description"])), {GREEN: bad})


@pytest.mark.parametrize(
    ("granular", "expected"),
    [
        ((), (Tlp.GREEN, None)),
        (((RED, ["description"]),), (Tlp.GREEN, Tlp.RED)),
        (((GREEN, ["description"]),), (Tlp.GREEN, None)),  # not above the object: nothing to redact
        (((AMBER, ["pattern"]),), (Tlp.AMBER, None)),
        (((AMBER, ["pattern"]), (RED, ["description"])), (Tlp.AMBER, Tlp.RED)),
        (((RED, ["pattern"]), (AMBER, ["description"])), (Tlp.RED, None)),
    ],
)
def test_storage_levels(
    granular: tuple[tuple[str, list[str]], ...], expected: tuple[Tlp, Tlp | None]
) -> None:
    assert storage_levels(_indicator(*granular), markings={}, default=Tlp.AMBER) == expected


def test_optional_property_above_clearance_is_removed() -> None:
    obj = _indicator((RED, ["description"]))
    assert redact(obj, Tlp.AMBER, {}) == {
        k: v for k, v in obj.items() if k not in ("description", "granular_markings")
    }
    assert redact(obj, Tlp.RED, {}) is obj


def test_required_property_above_clearance_withholds_the_object() -> None:
    assert redact(_indicator((RED, ["pattern"])), Tlp.AMBER_STRICT, {}) is None
    assert redact(_indicator((RED, ["id"])), Tlp.AMBER_STRICT, {}) is None


def test_list_items_are_removed_and_remaining_selectors_renumbered() -> None:
    obj = _indicator(
        (RED, ["external_references.[1]"]),
        (GREEN, ["external_references.[2]", "external_references.[0].external_id"]),
    )
    original = copy.deepcopy(obj)
    out = redact(obj, Tlp.GREEN, {})
    assert out is not None
    assert [r["source_name"] for r in out["external_references"]] == ["cert-ph", "blog"]
    assert out["granular_markings"] == [
        {
            "marking_ref": GREEN,
            "selectors": ["external_references.[1]", "external_references.[0].external_id"],
        }
    ]
    assert obj == original  # the input is never modified


def test_a_selector_into_a_list_item_removes_the_whole_item() -> None:
    # a kill-chain-phase without its phase_name would be invalid STIX
    obj = _indicator((RED, ["kill_chain_phases.[0].phase_name"]))
    out = redact(obj, Tlp.AMBER, {})
    assert out is not None and "kill_chain_phases" not in out and "granular_markings" not in out


def test_nested_dict_keys_are_removed_alone() -> None:
    file_obj = {
        "type": "file",
        "spec_version": "2.1",
        "id": "file--5a0a2f0e-2f4b-5d4b-8e8f-1c7b0c9a3d21",
        "hashes": {"SHA-256": "ab" * 32, "MD5": "cd" * 16},
        "name": "dropper.exe",
        "granular_markings": [
            {"marking_ref": RED, "selectors": ["hashes.MD5"]},
            {"marking_ref": GREEN, "selectors": ["name"]},
        ],
    }
    out = redact(file_obj, Tlp.AMBER, {})
    assert out is not None
    assert out["hashes"] == {"SHA-256": "ab" * 32}
    assert out["granular_markings"] == [{"marking_ref": GREEN, "selectors": ["name"]}]


def test_lang_entries_on_removed_content_go_too() -> None:
    obj = _indicator((RED, ["description"]))
    obj["granular_markings"].append({"lang": "fr", "selectors": ["description", "pattern"]})
    out = redact(obj, Tlp.GREEN, {})
    assert out is not None and out["granular_markings"] == [{"lang": "fr", "selectors": ["pattern"]}]


def test_unparsable_selector_above_clearance_withholds() -> None:
    assert redact(_indicator((RED, ["external_references.[x]"])), Tlp.GREEN, {}) is None


def test_selector_hitting_nothing_removes_nothing() -> None:
    obj = _indicator((RED, ["external_references.[7]", "confidence"]))
    out = redact(obj, Tlp.GREEN, {})
    assert out is not None and out["external_references"] == obj["external_references"]


def test_report_object_refs_are_required() -> None:
    report = {
        "type": "report",
        "id": "report--1",
        "name": "r",
        "published": "2024-01-01T00:00:00Z",
        "object_refs": ["indicator--1", "indicator--2"],
        "granular_markings": [{"marking_ref": RED, "selectors": ["object_refs.[1]"]}],
    }
    assert analyse(report, {}).required is Tlp.RED
    assert redact(report, Tlp.AMBER, {}) is None


# A small object generator: optional scalars and a list of sub-objects, marked at random.
_OPTIONAL = ["description", "name", "confidence", "labels", "external_references"]
_SELECTABLE = [
    "pattern",
    "description",
    "name",
    "confidence",
    "labels",
    "labels.[0]",
    "labels.[1]",
    "external_references",
    *[f"external_references.[{i}]" for i in range(4)],
    *[f"external_references.[{i}].url" for i in range(4)],
]
_REFS = [*TLP2_IDS.values(), STATEMENT_ID]


@st.composite
def _marked_objects(draw: st.DrawFn) -> dict[str, Any]:
    obj = _indicator()
    del obj["kill_chain_phases"]
    obj["name"] = "n"
    obj["confidence"] = 50
    obj["labels"] = ["a", "b"]
    obj["external_references"] = [
        {"source_name": f"s{i}", "url": f"https://e.example/{i}"}
        for i in range(draw(st.integers(min_value=1, max_value=4)))
    ]
    for prop in draw(st.sets(st.sampled_from(_OPTIONAL))):
        del obj[prop]
    entries = draw(
        st.lists(
            st.tuples(st.sampled_from(_REFS), st.lists(st.sampled_from(_SELECTABLE), min_size=1, max_size=3)),
            max_size=4,
        )
    )
    if entries:
        obj["granular_markings"] = [{"marking_ref": r, "selectors": s} for r, s in entries]
    return obj


def _resolve(obj: Any, selector: str) -> Any:
    node = obj
    for part in selector.split("."):
        if part.startswith("["):
            i = int(part[1:-1])
            if not isinstance(node, list) or i >= len(node):
                return KeyError
            node = node[i]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return KeyError
    return node


def _within(value: Any, before: Any) -> bool:
    """`value` is `before`, or `before` with list items or dict keys removed."""
    if isinstance(value, list) and isinstance(before, list):
        return all(v in before for v in value)
    if isinstance(value, dict) and isinstance(before, dict):
        return all(k in before and before[k] == v for k, v in value.items())
    return bool(value == before)


@given(obj=_marked_objects(), clearance=st.sampled_from(list(Tlp)), as_index=st.booleans())
def test_redact_never_leaves_content_marked_above_clearance(
    obj: dict[str, Any], clearance: Tlp, as_index: bool
) -> None:
    markings: Any = MarkingIndex() if as_index else {}
    original = copy.deepcopy(obj)
    out = redact(obj, clearance, markings)
    assert obj == original
    above = [
        (e["marking_ref"], s)
        for e in obj.get("granular_markings", [])
        for s in e["selectors"]
        if (lv := tlp_of_ref(e["marking_ref"], {})) is not None and lv > clearance
    ]
    hits_required = any(s.split(".")[0] == "pattern" and _resolve(obj, s) is not KeyError for _, s in above)
    if out is None:
        assert hits_required
        return
    assert not hits_required
    # Whatever the redacted object still marks above clearance, it marks nothing that exists.
    for entry in out.get("granular_markings", []):
        level = tlp_of_ref(entry["marking_ref"], {})
        for selector in entry["selectors"]:
            if level is not None and level > clearance:
                assert _resolve(out, selector) is KeyError
            else:
                # every kept selector still points at (what is left of) what it marked before
                value = _resolve(out, selector)
                before = [
                    _resolve(obj, s)
                    for e in obj["granular_markings"]
                    if e.get("marking_ref") == entry["marking_ref"]
                    for s in e["selectors"]
                ]
                assert value is KeyError or any(_within(value, b) for b in before)
    # content with no marking above clearance survives
    for prop in ("pattern", "pattern_type", "valid_from", "id", "object_marking_refs"):
        assert out[prop] == obj[prop]
    assert all(v for k, v in out.items() if isinstance(v, list | dict)), "no empty lists or dicts"
    assert analyse(out, {}).required is None or analyse(out, {}).required <= clearance
