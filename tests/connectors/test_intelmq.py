"""IntelMQ JSON-lines events: value choice, classification mapping, TLP, feed references."""

from __future__ import annotations

import pytest

from connectors import FeedSettings, collect
from connectors.intelmq import CLASSIFICATION_TYPES, IntelmqConnector, indicator_type
from connectors.tlp import TLP2_IDS
from tests.connectors.conftest import assert_stix21, fixture_bytes


def _run(settings: FeedSettings) -> tuple[dict[str, dict], list[str]]:
    objects, summary = collect(IntelmqConnector(settings).normalise(fixture_bytes("intelmq_events.jsonl")))
    by_feed = {o["external_references"][0]["source_name"]: o for o in objects}
    assert_stix21(objects)
    return by_feed, summary.reasons


def test_most_specific_value_becomes_the_indicator(settings: FeedSettings) -> None:
    by_feed, _ = _run(settings)
    assert by_feed["Abuse.ch URLhaus"]["pattern"] == "[url:value = 'http://203.0.113.5:5555/i']"
    assert by_feed["Phishing feed"]["pattern"] == "[url:value = 'https://login-micros0ft.example/owa/']"
    assert by_feed["Legacy bot"]["pattern"] == "[domain-name:value = 'b\u00fccher.example']"
    assert by_feed["Scanners"]["pattern"] == "[ipv4-addr:value = '198.51.100.0/24']"
    assert by_feed["Sandbox"]["pattern"].startswith("[file:hashes.'SHA-256' = ")
    assert by_feed["Spam"]["pattern"] == "[email-addr:value = 'spammer@bad-mail.example']"


def test_classification_type_maps_to_indicator_types(settings: FeedSettings) -> None:
    by_feed, _ = _run(settings)
    assert by_feed["Feodo Tracker"]["indicator_types"] == ["malicious-activity"]
    assert by_feed["Tor exits"]["indicator_types"] == ["anonymization"]
    assert by_feed["Scanners"]["indicator_types"] == ["anomalous-activity"]
    assert by_feed["Legacy bot"]["indicator_types"] == ["malicious-activity"]
    assert by_feed["Unknown class"]["indicator_types"] == list(settings.indicator_types)


@pytest.mark.parametrize(
    ("classification", "expected"),
    [
        ("c2-server", "malicious-activity"),
        ("C2 Server", "malicious-activity"),
        ("infected_system", "compromised"),
        ("phishing", "malicious-activity"),
        ("vulnerable-system", "unknown"),
        ("nonsense", None),
        (None, None),
    ],
)
def test_classification_names_are_matched_loosely(classification: str | None, expected: str | None) -> None:
    assert indicator_type(classification) == expected


def test_classification_table_uses_only_the_stix_vocabulary() -> None:
    vocabulary = {"anomalous-activity", "anonymization", "benign", "compromised", "malicious-activity"}
    assert set(CLASSIFICATION_TYPES.values()) <= vocabulary | {"attribution", "unknown"}


def test_event_tlp_wins_over_the_feed_default(settings: FeedSettings) -> None:
    by_feed, _ = _run(settings)
    assert by_feed["Abuse.ch URLhaus"]["object_marking_refs"] == [TLP2_IDS["clear"]]
    assert by_feed["Scanners"]["object_marking_refs"] == [TLP2_IDS["red"]]
    assert by_feed["Tor exits"]["object_marking_refs"] == [TLP2_IDS[settings.tlp]]


def test_feed_name_and_url_become_an_external_reference_and_accuracy_the_confidence(
    settings: FeedSettings,
) -> None:
    by_feed, _ = _run(settings)
    indicator = by_feed["Abuse.ch URLhaus"]
    assert indicator["external_references"] == [
        {"source_name": "Abuse.ch URLhaus", "url": "https://urlhaus.abuse.ch/downloads/csv_recent/"}
    ]
    assert indicator["confidence"] == 100
    assert indicator["labels"] == ["malicious-code", "malware-distribution", "mozi"]
    assert indicator["created"] == "2024-03-04T09:58:08.000Z"


def test_broken_lines_are_rejected_with_their_line_numbers(settings: FeedSettings) -> None:
    _, reasons = _run(settings)
    text = "\n".join(reasons)
    assert "line 7: rejected: not JSON" in text
    assert "line 9: rejected: not a JSON object" in text
    assert "source.ip: not an IP address" in text
    assert "event has no source.url" in text
    assert len(reasons) == 4


def test_time_observation_alone_does_not_version_an_event_with_a_source_time(settings: FeedSettings) -> None:
    line = b'{"time.source": "2024-01-01T00:00:00+00:00", "time.observation": "%s", "source.ip": "192.0.2.1"}'
    first = list(IntelmqConnector(settings).normalise(line % b"2024-03-01T00:00:00+00:00"))
    second = list(IntelmqConnector(settings).normalise(line % b"2024-03-02T00:00:00+00:00"))
    assert first == second
