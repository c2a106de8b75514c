"""The value index's rows of the common objects (an observable's value, an indicator of one equality
comparison) are read without the general extraction; these tests hold the two ways equal, and the
direct way equal to the STIX pattern parser, on generated objects and patterns."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.stix import stix_pattern_error
from hub.vocab.values import (
    _ONE_COMPARISON,
    _general_entries,
    _parsed_values,
    index_entries,
)

TYPES = ["ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file", "artifact", "x-thing"]
PATHS = [
    "value",
    "hashes.MD5",
    "hashes.'SHA-256'",
    "hashes.sha1",
    "hashes.'sha-512'",
    "hashes.SHA256",
    "hashes.'crc-32'",
    "hashes.md4",
    "name",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "198.51.100.7",
            "198.051.100.7",
            "10.0.0.0/8",
            "10.1.2.3/8",
            "2001:DB8::1",
            "2001:db8::/32",
            "::ffff:1.2.3.4",
            "fe80::1%eth0",
            "Evil.Example.ORG.",
            "xn--bcher-kva.example",
            "HTTPS://Evil.Example/Path?Q=1",
            "http://user@[2001:db8::1]:8080/x",
            "ftp://host.example:21",
            "Someone@Example.ORG",
            "d41d8cd98f00b204e9800998ecf8427e",
            "D41D8CD98F00B204E9800998ECF8427E",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            " 198.51.100.7 ",
            "a\\'b",
            "back\\\\slash",
            "tab\there",
            "line\u0085end",
            "",
            "x" * 2049,
        ]
    ),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40).map(
        lambda s: s.replace("\\", "\\\\").replace("'", "\\'")
    ),
)
SPACES = st.sampled_from([" = ", "=", " =", "= ", "  =  "])


def _pattern(stype: str, path: str, eq: str, value: str) -> str:
    return f"[{stype}:{path}{eq}'{value}']"


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(stype=st.sampled_from(TYPES), path=st.sampled_from(PATHS), eq=SPACES, value=VALUES, tail=st.booleans())
def test_indicator_fast_path_equals_the_general_extraction(
    stype: str, path: str, eq: str, value: str, tail: bool
) -> None:
    pattern = _pattern(stype, path, eq, value)
    if tail:  # no longer one comparison: the general way, through the parser
        pattern = pattern[:-1] + f" OR {stype}:{path} = '{value}']"
    obj: dict[str, Any] = {"type": "indicator", "pattern_type": "stix", "pattern": pattern}
    assert index_entries(obj) == _general_entries(obj)


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(stype=st.sampled_from(TYPES), path=st.sampled_from(PATHS), eq=SPACES, value=VALUES)
def test_indicator_fast_path_equals_the_pattern_parser(stype: str, path: str, eq: str, value: str) -> None:
    """A pattern the fast path reads, the parser reads alike (the patterns ingest accepts)."""
    pattern = _pattern(stype, path, eq, value)
    if _ONE_COMPARISON.match(pattern) is None or stix_pattern_error(pattern) is not None:
        return
    fast = index_entries({"type": "indicator", "pattern_type": "stix", "pattern": pattern})
    _parsed_values.cache_clear()
    parsed = _parsed_values(pattern, False)
    assert [(e.kind, e.stix_type, e.value, e.algorithm, e.port, e.in_pattern) for e in fast] == [
        (v.kind, v.stix_type, v.value, v.algorithm, v.port, v.in_pattern) for v in parsed
    ]
    assert all(e.simple for e in fast)
    assert _parsed_values(pattern, True) == parsed


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    stype=st.sampled_from(TYPES),
    value=st.one_of(VALUES, st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2)),
    pattern_type=st.sampled_from(["stix", "snort", None]),
)
def test_observable_fast_path_equals_the_general_extraction(
    stype: str, value: Any, pattern_type: Any
) -> None:
    obj: dict[str, Any] = {"type": stype, "value": value}
    assert index_entries(obj) == _general_entries(obj)
    indicator = {"type": "indicator", "pattern_type": pattern_type, "pattern": value}
    assert index_entries(indicator) == _general_entries(indicator)
