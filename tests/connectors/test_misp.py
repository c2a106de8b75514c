"""MISP events and feeds: fast path, misp-stix path and its corrections, distribution, feeds."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Any

import orjson
import pytest

from connectors import FeedSettings, Normalised, Rejected, collect
from connectors.misp import MispConnector
from connectors.tlp import TLP2_IDS, TLP_OF_MARKING
from tests.connectors.conftest import FIXTURES, PRODUCER_B, assert_stix21, fixture_bytes, make_settings

MISP_UUID_PREFIX = "5f0c1a2b-"


def _misp_ref(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references", ()):
        if ref.get("source_name") == "test-feed" and "external_id" in ref:
            return str(ref["external_id"])
    return None


def _indicators_by_attribute(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(_misp_ref(o)): o for o in objects if o["type"] == "indicator"}


def test_plain_event_takes_the_fast_path_and_yields_valid_stix(settings: FeedSettings) -> None:
    objects, summary = collect(MispConnector(settings).normalise(fixture_bytes("misp_event_plain.json")))
    assert {o["type"] for o in objects} == {"indicator", "report"}
    indicators = _indicators_by_attribute(objects)
    assert len(indicators) == 14
    assert indicators["5f0c1a2b-0000-4000-8000-000000000003"]["pattern"] == (
        "[domain-name:value = 'xn--bcher-kva.example']"
    )
    assert indicators["5f0c1a2b-0000-4000-8000-000000000001"]["description"] == "c2 server"
    assert summary.skipped == 2  # to_ids off, distribution 0
    assert summary.rejected == 1  # "not-an-ip"
    reasons = "\n".join(summary.reasons)
    assert "to_ids is off" in reasons
    assert "allow_org_only is off" in reasons
    assert "not an IP address: 'not-an-ip'" in reasons
    assert "deleted.example" not in json.dumps(objects)
    assert_stix21(objects)


def test_fast_path_applies_the_most_restrictive_of_event_and_attribute_tlp(settings: FeedSettings) -> None:
    objects, _ = collect(MispConnector(settings).normalise(fixture_bytes("misp_event_plain.json")))
    indicators = _indicators_by_attribute(objects)
    assert indicators["5f0c1a2b-0000-4000-8000-000000000001"]["object_marking_refs"] == [TLP2_IDS["green"]]
    assert indicators["5f0c1a2b-0000-4000-8000-000000000002"]["object_marking_refs"] == [TLP2_IDS["amber"]]
    assert indicators["5f0c1a2b-0000-4000-8000-000000000014"]["object_marking_refs"] == [TLP2_IDS["red"]]
    (report,) = [o for o in objects if o["type"] == "report"]
    # the report lists a RED indicator, so it is RED itself: its refs would otherwise reveal it
    assert report["object_marking_refs"] == [TLP2_IDS["red"]]
    assert set(report["object_refs"]) == {o["id"] for o in objects if o["type"] == "indicator"}
    assert report["external_references"][0]["external_id"] == "5f0c1a2b-aaaa-4bbb-8ccc-000000000042"


def test_fast_path_gives_the_same_patterns_as_misp_stix(settings: FeedSettings) -> None:
    raw = fixture_bytes("misp_event_plain.json")
    fast, _ = collect(MispConnector(settings).normalise(raw))
    full, _ = collect(MispConnector(replace(settings, misp_fast_path=False)).normalise(raw))
    fast_patterns = {k: v["pattern"] for k, v in _indicators_by_attribute(fast).items()}
    full_patterns = {k: v["pattern"] for k, v in _indicators_by_attribute(full).items()}
    assert len(fast_patterns) == 14
    assert fast_patterns == full_patterns
    # and therefore the same indicator ids, whichever path an event took
    assert {o["id"] for o in fast if o["type"] == "indicator"} == {
        o["id"] for o in full if o["type"] == "indicator"
    }


def test_misp_stix_output_gets_tlp_on_every_object_and_deterministic_ids(settings: FeedSettings) -> None:
    raw = fixture_bytes("misp_event_object.json")
    objects, summary = collect(MispConnector(settings).normalise(raw))
    assert summary.rejected == 0
    ids = {o["id"] for o in objects}
    assert not any(MISP_UUID_PREFIX in i for i in ids)
    for obj in objects:
        levels = [TLP_OF_MARKING[r] for r in obj.get("object_marking_refs", ()) if r in TLP_OF_MARKING]
        assert levels, f"{obj['id']} has no TLP"
        for ref in _refs(obj):
            assert ref in ids or ref == settings.producer_id, f"{obj['id']} points at missing {ref}"
        if obj["type"] not in {"ipv4-addr", "domain-name", "network-traffic", "url", "file", "email-addr"}:
            assert obj["created_by_ref"] == settings.producer_id
    assert not [o for o in objects if o["type"] == "identity"]  # the MISP Orgc identity is ours to replace
    indicators = _indicators_by_attribute(objects)
    assert indicators["5f0c1a2b-0000-4000-8000-000000000021"]["object_marking_refs"] == [TLP2_IDS["green"]]
    assert indicators["5f0c1a2b-0000-4000-8000-000000000022"]["object_marking_refs"] == [
        TLP2_IDS["amber+strict"]
    ]
    (report,) = [o for o in objects if o["type"] == "report"]
    assert report["object_marking_refs"] == [TLP2_IDS["red"]]
    assert_stix21(objects)


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "object_marking_refs":
                continue
            if key.endswith("_ref") and isinstance(value, str):
                found.append(value)
            elif key.endswith("_refs") and isinstance(value, list):
                found.extend(v for v in value if isinstance(v, str))
            else:
                found.extend(_refs(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_refs(item))
    return found


@pytest.mark.parametrize("name", ["misp_event_plain.json", "misp_event_object.json"])
def test_renormalising_the_same_event_gives_identical_bytes(settings: FeedSettings, name: str) -> None:
    raw = fixture_bytes(name)
    first = [orjson.dumps(r.obj) for r in MispConnector(settings).normalise(raw) if isinstance(r, Normalised)]
    again = [orjson.dumps(r.obj) for r in MispConnector(settings).normalise(raw) if isinstance(r, Normalised)]
    assert first == again


def test_same_event_from_two_producers_gives_different_ids(settings: FeedSettings) -> None:
    raw = fixture_bytes("misp_event_plain.json")
    a, _ = collect(MispConnector(settings).normalise(raw))
    b, _ = collect(MispConnector(replace(settings, producer_id=PRODUCER_B)).normalise(raw))
    assert not {o["id"] for o in a} & {o["id"] for o in b}


def test_org_only_and_sharing_group_events_are_skipped_unless_allowed(settings: FeedSettings) -> None:
    raw = fixture_bytes("misp_response.json")
    objects, summary = collect(MispConnector(settings).normalise(raw))
    patterns = {o["pattern"] for o in objects if o["type"] == "indicator"}
    assert patterns == {
        "[domain-name:value = 'public.example']",
        "[domain-name:value = 'also-public.example']",
    }
    assert summary.skipped == 2
    reasons = "\n".join(summary.reasons)
    assert "'your organisation only'; allow_org_only is off" in reasons
    assert "sharing group; allow_sharing_groups is off" in reasons
    allowed = replace(settings, allow_org_only=True, allow_sharing_groups=True)
    objects, summary = collect(MispConnector(allowed).normalise(raw))
    assert summary.skipped == 0
    assert len([o for o in objects if o["type"] == "indicator"]) == 4


def test_tlp_white_tag_becomes_clear(settings: FeedSettings) -> None:
    objects, _ = collect(MispConnector(settings).normalise(fixture_bytes("misp_response.json")))
    assert all(o["object_marking_refs"] == [TLP2_IDS["clear"]] for o in objects)


def _feed_files() -> dict[str, bytes]:
    return {
        p.name: p.read_bytes() for p in (FIXTURES / "misp_feed").glob("*.json") if p.name != "manifest.json"
    }


def test_misp_feed_is_read_from_a_dict_of_files_and_a_missing_file_costs_one_event(
    settings: FeedSettings,
) -> None:
    manifest = (FIXTURES / "misp_feed" / "manifest.json").read_bytes()
    objects, summary = collect(MispConnector(settings).normalise_feed(manifest, _feed_files()))
    indicators = [o for o in objects if o["type"] == "indicator"]
    assert [o["pattern"] for o in indicators] == [
        "[domain-name:value = 'feed-one.example']",
        "[domain-name:value = 'feed-two.example']",
        "[domain-name:value = 'feed-one.example']",
    ]
    # one value in two events: one id, two versions
    assert indicators[0]["id"] == indicators[2]["id"]
    assert indicators[0]["modified"] != indicators[2]["modified"]
    assert summary.rejected == 1
    assert "5f0c1a2b-dddd-4eee-8fff-000000000063.json: rejected: cannot read event file" in summary.reasons[0]


def test_misp_feed_accepts_a_loader_callable(settings: FeedSettings) -> None:
    manifest = (FIXTURES / "misp_feed" / "manifest.json").read_bytes()
    files = _feed_files()
    asked: list[str] = []

    def load(name: str) -> bytes:
        asked.append(name)
        return files[name]

    from_dict = list(MispConnector(settings).normalise_feed(manifest, files))
    from_loader = list(MispConnector(settings).normalise_feed(manifest, load))
    assert from_loader == from_dict
    assert len(asked) == 3


def test_missing_misp_stix_rejects_complex_events_with_a_clear_reason(
    settings: FeedSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "misp_stix_converter", None)
    results = list(MispConnector(settings).normalise(fixture_bytes("misp_event_object.json")))
    assert len(results) == 1
    assert isinstance(results[0], Rejected)
    assert "pip install 'cirt-hub[misp]'" in results[0].reason
    plain, _ = collect(MispConnector(settings).normalise(fixture_bytes("misp_event_plain.json")))
    assert plain


def test_tlp1_setting_writes_tlp1_markings_for_misp_events() -> None:
    objects, _ = collect(
        MispConnector(make_settings(tlp_version=1)).normalise(fixture_bytes("misp_response.json"))
    )
    assert objects[0]["object_marking_refs"] == ["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"]


def test_with_observables_fast_path_keeps_context_attributes_as_scos() -> None:
    settings = make_settings(with_observables=True)
    objects, summary = collect(MispConnector(settings).normalise(fixture_bytes("misp_event_plain.json")))
    assert "[domain-name:value = 'context-only.example']" not in {o.get("pattern") for o in objects}
    assert "context-only.example" in {o.get("value") for o in objects}
    assert summary.skipped == 1
    assert_stix21(objects)


def test_misp_feed_manifest_cannot_choose_arbitrary_file_names(settings: FeedSettings) -> None:
    asked: list[str] = []

    def load(name: str) -> bytes:
        asked.append(name)
        return b"{}"

    manifest = orjson.dumps({"../../etc/passwd": {}, "5f0c1a2b-dddd-4eee-8fff-000000000099": {}})
    results = list(MispConnector(settings).normalise_feed(manifest, load))
    assert asked == ["5f0c1a2b-dddd-4eee-8fff-000000000099.json"]
    assert "not an event uuid" in results[0].reason
