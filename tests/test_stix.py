"""STIX 2.1 validation at ingest: each broken property gets a message naming it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.stix import SIMPLE_PATTERN, InvalidObject, check_object, stix_pattern_error
from tests.factories import indicator

SCO = {"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"}


def test_valid_objects_give_their_version():
    assert check_object(indicator(1))[3] == "2024-01-01T00:00:00.000Z"
    md = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "definition": {"tlp": "white"},
    }
    assert check_object(md)[3] == "2017-01-20T00:00:00.000Z"  # no modified: versioned by created
    assert check_object(SCO)[3:] == (None, None)  # neither: versioned by date added


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"id": "indicator--xyz"}, "UUID"),
        ({"id": "malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"}, "of the form indicator--"),
        ({"type": "Indicator!"}, "'type'"),
        ({"spec_version": "2.0"}, "not supported"),
        ({"created": "2024-13-01T00:00:00Z"}, "real date"),
        ({"modified": "yesterday"}, "RFC 3339"),
        ({"modified": "2023-01-01T00:00:00Z"}, "earlier than 'created'"),
        ({"pattern": "[ipv4-addr:value = "}, "not a valid STIX pattern"),
        ({"pattern": 7}, "non-empty string"),
        ({"valid_until": "2020-01-01T00:00:00Z"}, "later than 'valid_from'"),
        ({"object_marking_refs": "marking-definition--x"}, "list"),
        ({"created_by_ref": 12}, "identifier"),
    ],
)
def test_broken_property_is_named(change, needle):
    with pytest.raises(InvalidObject, match=needle):
        check_object(indicator(1, **change))


@pytest.mark.parametrize("prop", ["id", "spec_version", "created", "modified", "pattern", "valid_from"])
def test_missing_required_property_is_named(prop):
    obj = indicator(1)
    del obj[prop]
    with pytest.raises(InvalidObject, match=prop):
        check_object(obj)


def test_non_objects_are_refused():
    for thing in ("x", 1, None, [1]):
        with pytest.raises(InvalidObject):
            check_object(thing)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_fast_path_patterns_are_valid_stix(value):
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    pattern = f"[url:value = '{escaped}']"
    assert SIMPLE_PATTERN.match(pattern)
    assert stix_pattern_error(pattern) is None


def test_long_hostile_strings_are_refused_without_being_remembered():
    """The verdict caches hold only strings that could be valid: long ones never fill memory."""
    from hub.stix import _identifier_verdict, _marking_verdict
    from hub.vocab.time import _parse_us as _parse_timestamp

    before = (
        _parse_timestamp.cache_info().currsize,
        _identifier_verdict.cache_info().currsize,
        _marking_verdict.cache_info().currsize,
    )
    for i in range(50):
        pad = "x" * 10_000 + str(i)
        for change, needle in (
            ({"created": "2024-01-01T00:00:00.000Z" + pad}, "'created'"),
            ({"created_by_ref": "identity--" + pad}, "'created_by_ref'"),
            ({"object_marking_refs": ["marking-definition--" + pad]}, "object_marking_refs"),
        ):
            with pytest.raises(InvalidObject, match=needle):
                check_object({**indicator(1), **change})
    after = (
        _parse_timestamp.cache_info().currsize,
        _identifier_verdict.cache_info().currsize,
        _marking_verdict.cache_info().currsize,
    )
    assert after == before
