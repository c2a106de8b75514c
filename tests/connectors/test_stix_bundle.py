"""STIX bundles: 2.1 passes through, 2.0 is upgraded, broken objects are rejected alone."""

from __future__ import annotations

import orjson

from connectors import FeedSettings, Rejected, collect
from connectors.stix_bundle import StixBundleConnector
from connectors.tlp import TLP1_IDS, TLP2_IDS
from tests.connectors.conftest import assert_stix21, fixture_bytes, make_settings


def test_stix20_bundle_is_upgraded_to_valid_stix21(settings: FeedSettings) -> None:
    objects, summary = collect(StixBundleConnector(settings).normalise(fixture_bytes("stix20_bundle.json")))
    by_type = {o["type"]: o for o in objects}
    indicator = by_type["indicator"]
    assert indicator["spec_version"] == "2.1"
    assert indicator["indicator_types"] == ["malicious-activity"]
    assert "labels" not in indicator
    assert indicator["pattern_type"] == "stix"
    assert by_type["malware"]["malware_types"] == ["remote-access-trojan"]
    assert by_type["malware"]["is_family"] is True
    assert by_type["tool"]["tool_types"] == ["remote-access"]
    assert by_type["threat-actor"]["threat_actor_types"] == ["crime-syndicate"]
    assert by_type["report"]["report_types"] == ["threat-report"]
    assert by_type["observed-data"]["objects"] == {"0": {"type": "ipv4-addr", "value": "198.51.100.1"}}
    assert all(o["spec_version"] == "2.1" for o in objects)
    assert len(objects) == 10
    assert_stix21(objects)
    assert summary.rejected == 4


def test_objects_that_cannot_be_upgraded_are_rejected_with_a_reason(settings: FeedSettings) -> None:
    results = list(StixBundleConnector(settings).normalise(fixture_bytes("stix20_bundle.json")))
    reasons = [r.reason for r in results if isinstance(r, Rejected)]
    assert "cannot upgrade STIX 2.0 object: indicator has no pattern" in reasons
    assert any("does not match type" in r for r in reasons)
    assert "not a JSON object" in reasons
    assert "cannot upgrade STIX 2.0 object: observed-data has no objects" in reasons


def test_taxii_envelope_passes_through_and_unmarked_objects_get_the_feed_tlp(settings: FeedSettings) -> None:
    raw = fixture_bytes("taxii21_envelope.json")
    source = orjson.loads(raw)["objects"]
    objects, summary = collect(StixBundleConnector(settings).normalise(raw))
    assert objects[0] == source[0]  # marked RED by its producer: untouched
    assert objects[1]["object_marking_refs"] == [TLP2_IDS["amber"]]
    assert objects[2] == source[2]  # SCOs are shared by every producer: no marking added
    assert summary.rejected == 2
    assert_stix21(objects)


def test_feed_tlp_is_written_as_tlp1_when_asked() -> None:
    raw = fixture_bytes("taxii21_envelope.json")
    objects, _ = collect(StixBundleConnector(make_settings(tlp="green", tlp_version=1)).normalise(raw))
    assert objects[1]["object_marking_refs"] == [TLP1_IDS["green"]]


def test_non_json_input_is_one_rejection(settings: FeedSettings) -> None:
    results = list(StixBundleConnector(settings).normalise(b"{not json"))
    assert len(results) == 1
    assert isinstance(results[0], Rejected)
    assert results[0].reason.startswith("not JSON")
