"""Value types, refanging, pattern building, deterministic ids, timestamps and TLP markings."""

from __future__ import annotations

import ipaddress
import string
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import stix2
from hypothesis import given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator

from connectors.normalise import (
    Draft,
    InvalidValue,
    Value,
    ValueType,
    build,
    parse_time,
    parse_value,
    quote,
    refang,
)
from connectors.tlp import TLP1_IDS, TLP2_IDS, marking_ref, most_restrictive, parse_tlp
from hub.vocab.ids import SCO_NAMESPACE, indicator_id
from hub.vocab.time import EPOCH, format_ms
from tests.connectors.conftest import PRODUCER_A, PRODUCER_B, assert_stix21, make_settings


@pytest.mark.parametrize(
    ("defanged", "plain"),
    [
        ("hxxp://evil[.]example/a", "http://evil.example/a"),
        ("HXXPS://evil(.)example", "https://evil.example"),
        ("evil[dot]example", "evil.example"),
        ("http[:]//evil.example", "http://evil.example"),
        ("user[@]mail.example", "user@mail.example"),
        ("user[at]mail[.]example", "user@mail.example"),
        ("192.0.2[.]1", "192.0.2.1"),
        ("plain.example", "plain.example"),
    ],
)
def test_refang_undoes_common_defanging(defanged: str, plain: str) -> None:
    assert refang(defanged) == plain


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("192.0.2.1", ValueType.IPV4, "192.0.2.1"),
        ("2001:DB8:0:0::1", ValueType.IPV6, "2001:db8::1"),
        ("198.51.100.0/24", ValueType.IPV4_NET, "198.51.100.0/24"),
        ("198.51.100.7/24", ValueType.IPV4_NET, "198.51.100.0/24"),
        ("2001:db8::/32", ValueType.IPV6_NET, "2001:db8::/32"),
        ("Evil.Example.", ValueType.DOMAIN, "evil.example"),
        ("_dmarc.evil.example", ValueType.DOMAIN, "_dmarc.evil.example"),
        ("B\u00fcCHER.example", ValueType.DOMAIN, "b\u00fccher.example"),
        ("xn--bcher-kva.example", ValueType.DOMAIN, "xn--bcher-kva.example"),
        ("HTTP://Evil.Example:8080/Path?Q=1#F", ValueType.URL, "http://evil.example:8080/Path?Q=1#F"),
        ("http://[2001:DB8::1]/x", ValueType.URL, "http://[2001:db8::1]/x"),
        ("http://user@B\u00fccher.example/p", ValueType.URL, "http://user@b\u00fccher.example/p"),
        ("Someone@Mail.Example", ValueType.EMAIL, "Someone@mail.example"),
        ("D41D8CD98F00B204E9800998ECF8427E", ValueType.MD5, "d41d8cd98f00b204e9800998ecf8427e"),
        (
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            ValueType.SHA1,
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ),
        ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ValueType.SHA256, None),
        ("a" * 128, ValueType.SHA512, "a" * 128),
    ],
)
def test_value_type_is_detected_and_normalised(text: str, kind: ValueType, value: str | None) -> None:
    parsed = parse_value(text)
    assert parsed.kind is kind
    assert parsed.value == (value or text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "not a value",
        "10.0.0.300",
        "http://",
        "http://exa mple.com",
        "foo@",
        "@bar.example",
        "-bad-.example",
        "http://[::1",
        "http://host:99999/",
        "ab" * 20 + "zz",
        "bücher..example",
        "localhost",
    ],
)
def test_unreadable_values_are_invalid_with_a_reason(text: str) -> None:
    with pytest.raises(InvalidValue) as info:
        parse_value(text)
    assert str(info.value)


def test_declared_type_that_does_not_fit_the_value_is_invalid() -> None:
    with pytest.raises(InvalidValue, match="not a sha256"):
        parse_value("d41d8cd98f00b204e9800998ecf8427e", "sha256")
    with pytest.raises(InvalidValue, match="unsupported value type"):
        parse_value("x", "yara")


def test_ip_port_value_becomes_a_network_traffic_pattern() -> None:
    value = parse_value("192.0.2.1:443", "ip:port")
    assert value.port == 443
    assert value.pattern() == (
        "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '192.0.2.1'"
        " AND network-traffic:dst_port = 443]"
    )
    assert run_validator(value.pattern()) == []


def test_pattern_literal_escapes_backslash_and_quote() -> None:
    assert quote("a'b\\c") == "'a\\'b\\\\c'"
    pattern = Value(ValueType.URL, "http://x.example/'\\'").pattern()
    assert pattern == "[url:value = 'http://x.example/\\'\\\\\\'']"
    assert run_validator(pattern) == []


_values = st.one_of(
    st.ip_addresses().map(lambda ip: Value(ValueType.IPV4 if ip.version == 4 else ValueType.IPV6, str(ip))),
    st.text(min_size=1, max_size=200).map(lambda t: Value(ValueType.URL, t)),
    st.text(min_size=1, max_size=60).map(lambda t: Value(ValueType.DOMAIN, t)),
    st.text(alphabet=string.hexdigits, min_size=32, max_size=32).map(lambda t: Value(ValueType.MD5, t)),
    st.text(alphabet=string.hexdigits, min_size=64, max_size=64).map(lambda t: Value(ValueType.SHA256, t)),
    st.text(min_size=1, max_size=60).map(lambda t: Value(ValueType.EMAIL, t)),
    st.tuples(st.ip_addresses(v=4), st.integers(0, 65535)).map(
        lambda p: Value(ValueType.IPV4, str(p[0]), p[1])
    ),
)


@settings(max_examples=150, deadline=None)
@given(_values)
def test_built_patterns_always_parse_with_stix2_patterns(value: Value) -> None:
    # The connectors skip the ANTLR parser per record; this is the proof they may.
    assert run_validator(value.pattern()) == []


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_parsed_value_builds_a_valid_pattern_and_never_raises_otherwise(text: str) -> None:
    try:
        value = parse_value(text)
    except InvalidValue:
        return
    assert run_validator(value.pattern()) == []


@pytest.mark.parametrize(
    ("value", "stix_class", "kwargs"),
    [
        (Value(ValueType.IPV4, "192.0.2.1"), stix2.v21.IPv4Address, {"value": "192.0.2.1"}),
        (Value(ValueType.IPV6, "2001:db8::1"), stix2.v21.IPv6Address, {"value": "2001:db8::1"}),
        (
            Value(ValueType.DOMAIN, "b\u00fccher.example"),
            stix2.v21.DomainName,
            {"value": "b\u00fccher.example"},
        ),
        (
            Value(ValueType.URL, "http://x.example/\u00e9"),
            stix2.v21.URL,
            {"value": "http://x.example/\u00e9"},
        ),
        (Value(ValueType.EMAIL, "a@b.example"), stix2.v21.EmailAddress, {"value": "a@b.example"}),
        (Value(ValueType.SHA256, "ab" * 32), stix2.v21.File, {"hashes": {"SHA-256": "ab" * 32}}),
    ],
)
def test_sco_ids_follow_the_stix_deterministic_id_rule(value: Value, stix_class: type, kwargs: dict) -> None:
    assert SCO_NAMESPACE.hex == "00abedb4aa42466c9c01fed23315a9b7"
    assert value.sco()["id"] == stix_class(**kwargs).id


def test_same_indicator_from_two_producers_gets_two_ids() -> None:
    pattern = "[ipv4-addr:value = '192.0.2.1']"
    assert indicator_id(PRODUCER_A, pattern) != indicator_id(PRODUCER_B, pattern)
    assert indicator_id(PRODUCER_A, pattern) == indicator_id(PRODUCER_A, pattern)


def test_created_comes_from_first_seen_and_modified_from_last_seen() -> None:
    first = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    last = datetime(2024, 2, 2, 3, 4, 5, tzinfo=UTC)
    (indicator,) = build(Draft(parse_value("192.0.2.1"), first_seen=first, last_seen=last), make_settings())
    assert indicator["created"] == "2024-01-02T03:04:05.000Z"
    assert indicator["valid_from"] == indicator["created"]
    assert indicator["modified"].startswith("2024-02-02T03:04:05.")


def test_created_without_a_source_time_is_the_feed_valid_from_or_the_epoch() -> None:
    (indicator,) = build(Draft(parse_value("192.0.2.1")), make_settings())
    assert indicator["created"] == format_ms(EPOCH)
    start = datetime(2023, 5, 1, tzinfo=UTC)
    (indicator,) = build(Draft(parse_value("192.0.2.1")), make_settings(valid_from=start))
    assert indicator["created"] == "2023-05-01T00:00:00.000Z"


def test_changed_record_is_a_new_version_of_the_same_id() -> None:
    draft = Draft(parse_value("192.0.2.1"), first_seen=datetime(2024, 1, 1, tzinfo=UTC))
    (old,) = build(draft, make_settings())
    (again,) = build(draft, make_settings())
    (new,) = build(replace(draft, confidence=90, labels=["botnet"]), make_settings())
    assert again == old
    assert new["id"] == old["id"]
    assert new["created"] == old["created"]
    assert new["modified"] != old["modified"]


def test_with_observables_adds_the_sco_and_a_based_on_relationship() -> None:
    objects = build(Draft(parse_value("b\u00fccher.example")), make_settings(with_observables=True))
    indicator, sco, relationship = objects
    assert sco["type"] == "domain-name"
    assert relationship["relationship_type"] == "based-on"
    assert (relationship["source_ref"], relationship["target_ref"]) == (indicator["id"], sco["id"])
    assert_stix21(objects)


@pytest.mark.parametrize("level", ["clear", "green", "amber", "amber+strict", "red"])
def test_markings_are_tlp2_by_default_and_tlp1_on_request(level: str) -> None:
    assert marking_ref(level) == TLP2_IDS[level]
    assert marking_ref(level, 1) == TLP1_IDS[level]


def test_amber_strict_under_tlp1_keeps_the_tlp2_id_rather_than_lowering_to_amber() -> None:
    assert marking_ref("amber+strict", 1) == TLP2_IDS["amber+strict"]


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("tlp:white", "clear"),
        ("TLP:CLEAR", "clear"),
        ("tlp:amber+strict", "amber+strict"),
        ("RED", "red"),
        ("tlp:ex:chr", None),
        ("", None),
        (None, None),
    ],
)
def test_tlp_names_are_recognised_in_misp_and_intelmq_forms(text: str | None, level: str | None) -> None:
    assert parse_tlp(text) == level


def test_most_restrictive_tlp_wins() -> None:
    assert most_restrictive(["green", None, "amber+strict", "amber"]) == "amber+strict"
    assert most_restrictive([None]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-04 09:58:08", datetime(2024, 3, 4, 9, 58, 8, tzinfo=UTC)),
        ("2024-03-04T09:58:08.123+02:00", datetime(2024, 3, 4, 7, 58, 8, tzinfo=UTC)),
        ("2024-03-04 09:58:08 UTC", datetime(2024, 3, 4, 9, 58, 8, tzinfo=UTC)),
        ("2024-03-04", datetime(2024, 3, 4, tzinfo=UTC)),
        ("1709539200", datetime(2024, 3, 4, 8, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_source_timestamps_are_read_as_utc_seconds(text: str, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_ipv4_detection_agrees_with_ipaddress() -> None:
    for text in ("0.0.0.0", "255.255.255.255", "1.2.3.4"):  # noqa: S104 - text, not a bind
        assert parse_value(text).value == str(ipaddress.ip_address(text))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=100))
def test_fast_uuid5_equals_the_stdlib(name: str) -> None:
    import uuid

    from hub.vocab.ids import HUB_NAMESPACE, uuid5

    assert uuid5(HUB_NAMESPACE, name) == str(uuid.uuid5(HUB_NAMESPACE, name))
