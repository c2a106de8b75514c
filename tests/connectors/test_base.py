"""Feed settings, the registry, the summary, duplicate handling and robustness to arbitrary bytes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import FORMATS, ColumnMap, FeedSettings, Normalised, Rejected, Summary, collect, get_connector
from connectors.base import Connector, Result
from connectors.misp import MispConnector
from connectors.text_blocklist import TextBlocklistConnector
from tests.connectors.conftest import PRODUCER_A, PRODUCER_B, assert_stix21, fixture_bytes, make_settings

ALL_FORMATS = sorted(FORMATS)


def test_registry_names_every_format() -> None:
    assert set(FORMATS) == {
        "stix",
        "misp",
        "csv",
        "urlhaus-csv",
        "feodo-csv",
        "threatfox-csv",
        "text",
        "intelmq",
    }
    for name, cls in FORMATS.items():
        assert cls.format_name == name


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown feed format 'yaml'"):
        get_connector("yaml", make_settings())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"producer_id": "identity--nope"}, "producer_id"),
        ({"tlp": "purple"}, "tlp must be one of"),
        ({"tlp_version": 3}, "tlp_version"),
        ({"confidence": 101}, "confidence"),
        ({"indicator_types": ()}, "indicator_types"),
        ({"valid_from": datetime(2024, 1, 1)}, "timezone-aware"),
    ],
)
def test_feed_settings_refuse_invalid_values(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_settings(**changes)


def test_feed_settings_accept_tlp_in_any_spelling() -> None:
    assert make_settings(tlp="TLP:AMBER+STRICT").tlp == "amber+strict"
    assert make_settings(tlp="white").tlp == "clear"


def test_summary_counts_records_objects_rejections_and_keeps_the_first_reasons() -> None:
    summary = Summary(keep=2)
    results: list[Result] = [
        Normalised({"id": "a"}, "line 1"),
        Normalised({"id": "b"}, "line 1"),
        Rejected("line 2", "bad", "x"),
        Rejected("line 3", "dup", "", skipped=True),
        Rejected("line 4", "worse", ""),
    ]
    assert list(summary.track(results)) == results
    assert (summary.read, summary.normalised, summary.rejected, summary.skipped) == (4, 2, 2, 1)
    assert summary.reasons == ["line 2: rejected: bad", "line 3: skipped: dup"]
    assert str(summary) == "4 records read, 2 objects normalised, 2 rejected, 1 skipped"


class _Conflicting(Connector):
    format_name = "conflicting"

    def _normalise(self, raw: bytes) -> Iterator[Result]:
        obj = {"type": "indicator", "id": "indicator--1", "modified": "m", "name": "one"}
        yield Normalised(obj, "line 1")
        yield Normalised(dict(obj), "line 2")
        yield Normalised({**obj, "name": "two"}, "line 3")
        raise RuntimeError("boom")


def test_duplicates_are_skipped_conflicts_rejected_and_a_crash_is_a_rejection() -> None:
    results = list(_Conflicting(make_settings()).normalise(b""))
    assert [type(r).__name__ for r in results] == ["Normalised", "Rejected", "Rejected", "Rejected"]
    assert results[1].skipped and results[1].reason == "duplicate of line 1"
    assert "conflicts with line 1" in results[2].reason
    assert results[3].reason == "connector error: RuntimeError: boom"


def test_same_line_from_two_producers_gives_two_indicator_ids() -> None:
    raw = b"192.0.2.1\n"
    (a,) = [r.obj for r in TextBlocklistConnector(make_settings(producer_id=PRODUCER_A)).normalise(raw)]
    (b,) = [r.obj for r in TextBlocklistConnector(make_settings(producer_id=PRODUCER_B)).normalise(raw)]
    assert a["id"] != b["id"]
    assert a["pattern"] == b["pattern"]
    assert (a["created_by_ref"], b["created_by_ref"]) == (PRODUCER_A, PRODUCER_B)


_FIXTURE_OF = {
    "stix": "stix20_bundle.json",
    "misp": "misp_event_plain.json",
    "csv": "urlhaus_csv_recent.csv",
    "urlhaus-csv": "urlhaus_csv_recent.csv",
    "feodo-csv": "feodo_ipblocklist.csv",
    "threatfox-csv": "threatfox_recent.csv",
    "text": "blocklist.txt",
    "intelmq": "intelmq_events.jsonl",
}


def _connector(name: str, feed: FeedSettings) -> Connector:
    if name == "csv":
        feed = replace(feed, columns=ColumnMap(value="url", first_seen="dateadded", tags="tags"))
    return get_connector(name, feed)


@pytest.mark.parametrize("name", ALL_FORMATS)
@pytest.mark.parametrize("with_observables", [False, True])
def test_every_fixture_object_is_plain_stix21_and_reimport_is_byte_identical(
    name: str, with_observables: bool
) -> None:
    connector = _connector(name, make_settings(with_observables=with_observables))
    raw = fixture_bytes(_FIXTURE_OF[name])
    objects, summary = collect(connector.normalise(raw))
    assert objects
    assert not any("connector error" in reason for reason in summary.reasons)
    assert_stix21(objects)
    again, _ = collect(connector.normalise(raw))
    assert again == objects


@pytest.mark.parametrize("name", ALL_FORMATS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=400))
def test_arbitrary_bytes_never_raise_only_reject(name: str, raw: bytes) -> None:
    for result in _connector(name, make_settings()).normalise(raw):
        if isinstance(result, Rejected):
            assert not result.reason.startswith("connector error"), result.reason
        else:
            assert result.obj["id"]


_line = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["192.0.2.1", "hxxp://x[.]example/'\\", "b\u00fccher.example", "a@b.example", "#c", ""]),
)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_line, max_size=8))
def test_text_like_input_never_raises_and_every_object_is_valid_stix(lines: list[str]) -> None:
    raw = "\n".join(lines).encode("utf-8", "surrogatepass")
    for name in ("text", "urlhaus-csv", "threatfox-csv"):
        objects, summary = collect(_connector(name, make_settings(with_observables=True)).normalise(raw))
        assert not any("connector error" in reason for reason in summary.reasons)
        assert_stix21(objects)


@settings(max_examples=40, deadline=None)
@given(manifest=st.binary(max_size=200), files=st.dictionaries(st.text(max_size=40), st.binary(max_size=200)))
def test_arbitrary_misp_feed_never_raises(manifest: bytes, files: dict[str, bytes]) -> None:
    for result in MispConnector(make_settings()).normalise_feed(manifest, files):
        assert isinstance(result, Rejected | Normalised)
        if isinstance(result, Rejected):
            assert not result.reason.startswith("connector error"), result.reason


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_attribute = st.fixed_dictionaries(
    {
        "uuid": st.uuids().map(str),
        "type": st.sampled_from(
            ["ip-dst", "ip-src|port", "domain", "hostname", "url", "email-dst", "md5", "x"]
        ),
        "value": st.one_of(st.text(max_size=40), st.sampled_from(["192.0.2.1|80", "xn--bcher-kva.example"])),
        "to_ids": st.booleans(),
        "timestamp": st.one_of(st.text(max_size=12), st.integers(-(2**40), 2**40)),
        "distribution": st.sampled_from(["0", "1", "4", "5", 3]),
        "Tag": st.lists(st.fixed_dictionaries({"name": st.sampled_from(["tlp:red", "tlp:white", "x", ""])})),
    }
)
_event = st.fixed_dictionaries(
    {
        "uuid": st.uuids().map(str),
        "date": st.text(max_size=12),
        "timestamp": st.text(max_size=12),
        "Attribute": st.lists(_attribute, max_size=5),
    },
    optional={"info": _json, "Tag": _json, "distribution": _json, "Object": _json},
)


@pytest.mark.parametrize("name", ["stix", "misp", "intelmq"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_json)
def test_arbitrary_json_never_raises_only_rejects(name: str, doc: object) -> None:
    import orjson

    for result in _connector(name, make_settings()).normalise(orjson.dumps(doc)):
        if isinstance(result, Rejected):
            assert not result.reason.startswith("connector error"), result.reason


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=_event)
def test_arbitrary_misp_events_never_raise_and_yield_valid_stix(event: dict) -> None:
    import orjson

    results = list(
        MispConnector(make_settings(with_observables=True)).normalise(orjson.dumps({"Event": event}))
    )
    objects = [r.obj for r in results if isinstance(r, Normalised)]
    for result in results:
        if isinstance(result, Rejected):
            assert not result.reason.startswith("connector error"), result.reason
    assert_stix21(objects)
