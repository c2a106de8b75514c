"""STIX 2.1 object validation for ingest: ids, common properties, timestamps, patterns.

Hand-written rather than `stix2.parse`: building stix2 objects costs about a millisecond each, and
ingest must take tens of thousands of objects a second. The rules are the STIX 2.1 spec's; the
messages say which property is wrong and why.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import orjson

from hub.policy.granular import REQUIRED_BY_TYPE, parse_selector
from hub.vocab.stix import SCO_TYPES
from hub.vocab.time import parse_us

# Limits on one object, so that validating, storing and serving it stays cheap (docs/operating.md, "Limits").
MAX_DEPTH = 100  # nesting of JSON objects and arrays; orjson cannot write beyond 254
MAX_PATTERN_LENGTH = 8192  # characters of a STIX pattern: the ANTLR parser costs ~6 µs a character
MAX_PATTERN_TERMS = 256  # comparisons joined by AND / OR / FOLLOWEDBY in one pattern
PATTERN_TERM_RE = re.compile(r"\b(?:AND|OR|FOLLOWEDBY)\b")

TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
IDENTIFIER_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]--" + UUID_RE.pattern)
# RFC 4122 UUIDs compare case-insensitively, so a TLP id upper-cased is the same marking to a consumer
# but an unknown one to a lookup table: marking ids and refs must be written as canonical (lowercase).
# Other ids keep the spelling they came with (the OASIS examples mix cases); ownership (hub.ingest)
# compares them case-insensitively so that no spelling stands in for another's object.
MARKING_REF_RE = re.compile(
    r"^marking-definition--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
)
# STIX 2.1 sections 4-6: properties each type must carry beyond the common ones; the policy layer's
# table, but for the types whose entry lists alternatives or redaction-only properties
REQUIRED: dict[str, tuple[str, ...]] = {
    t: props
    for t, props in REQUIRED_BY_TYPE.items()
    if t not in ("marking-definition", "extension-definition", "language-content")
} | {"language-content": ("object_ref", "contents")}
TIMESTAMP_PROPS = (
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "published",
    "first_seen",
    "last_seen",
    "first_observed",
    "last_observed",
)
# Patterns our own connectors and most feeds emit; they are valid by construction of this expression,
# so ingest skips the ANTLR parser (about a millisecond a pattern) for them.
SIMPLE_PATTERN = re.compile(
    r"^\[(?:(?:ipv4-addr|ipv6-addr|domain-name|url|email-addr|mac-addr):value"
    r"|file:hashes\.(?:'(?:MD5|SHA-1|SHA-256|SHA-512|SHA3-256|SHA3-512|SSDEEP|TLSH)'|MD5|SHA1|SHA256))"
    r" ?= ?'(?:[^'\\]|\\['\\])*'\]$"
)


class InvalidObject(ValueError):
    """A STIX object that cannot be stored; the message names the property and the problem."""


def timestamp_us(value: Any, prop: str) -> int:
    """Microseconds since the epoch of an RFC 3339 STIX timestamp (UTC, 'Z'); finer digits are cut."""
    if not isinstance(value, str):
        raise InvalidObject(f"'{prop}' must be an RFC 3339 UTC timestamp text, not {_show(value)}")
    parsed = parse_us(value)
    if isinstance(parsed, int):
        return parsed
    if parsed == "format":
        raise InvalidObject(
            f"'{prop}' must be an RFC 3339 UTC timestamp like 2024-01-31T12:00:00.000Z (at most nine "
            f"fractional digits), not {_show(value)}"
        )
    raise InvalidObject(f"'{prop}' is not a real date and time: {_show(value)}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_object(obj: Any) -> tuple[str, str, str, str | None, int | None]:
    """Validate one object; return (id, type, spec_version, version text, version µs) or raise.

    The version is `modified`, else `created`, else None: TAXII 2.1 then uses the date added.
    """
    return check_and_serialise(obj)[:5]


def check_and_serialise(obj: Any) -> tuple[str, str, str, str | None, int | None, bytes]:
    """`check_object`, plus the object's JSON bytes (written once: validation needs them anyway)."""
    if not isinstance(obj, dict):
        raise InvalidObject(f"an object must be a JSON object, not {type(obj).__name__}")
    blob = _check_json(obj)
    stype = obj.get("type")
    if not isinstance(stype, str) or not TYPE_RE.match(stype):
        raise InvalidObject(f"'type' must be 3-250 lowercase letters, digits and hyphens, not {_show(stype)}")
    sid = obj.get("id")
    if not isinstance(sid, str):
        raise InvalidObject("'id' is missing" if sid is None else f"'id' must be a string, not {_show(sid)}")
    prefix, sep, tail = sid.partition("--")
    if not sep or prefix != stype:
        raise InvalidObject(f"'id' {_show(sid)} must be of the form {stype}--<UUID>")
    if not UUID_RE.match(tail):
        raise InvalidObject(f"'id' {_show(sid)} does not end in a valid UUID (8-4-4-4-12 hexadecimal digits)")
    if stype == "marking-definition" and not MARKING_REF_RE.match(sid):
        raise InvalidObject(_bad_marking_ref("'id'", sid))
    if stype == "bundle":
        raise InvalidObject(
            "a bundle is not a STIX object: post its objects in the envelope itself, each judged on its own"
        )
    is_sco = stype in SCO_TYPES
    spec = obj.get("spec_version")
    if spec is None and not is_sco:
        raise InvalidObject('\'spec_version\' is missing: STIX 2.1 objects carry "spec_version": "2.1"')
    if spec is not None and spec != "2.1":
        raise InvalidObject(
            f"'spec_version' {_show(spec)} is not supported: this collection stores STIX 2.1 "
            "(convert STIX 2.0 content with `hub import --format stix`)"
        )
    created_us = modified_us = None
    if not is_sco:
        if "created" not in obj:
            raise InvalidObject("'created' is missing")
        created_us = timestamp_us(obj["created"], "created")
        if stype != "marking-definition":
            if "modified" not in obj:
                raise InvalidObject("'modified' is missing")
            modified_us = timestamp_us(obj["modified"], "modified")
            if modified_us < created_us:
                raise InvalidObject("'modified' is earlier than 'created'")
    for prop in REQUIRED.get(stype, ()):
        if prop not in obj:
            raise InvalidObject(f"'{prop}' is required on a {stype}")
    for prop in TIMESTAMP_PROPS[2:]:
        if prop in obj:
            timestamp_us(obj[prop], prop)
    ref = obj.get("created_by_ref")
    if ref is not None and (not isinstance(ref, str) or not _is_identifier(ref)):
        raise InvalidObject(f"'created_by_ref' must be an identity identifier, not {_show(ref)}")
    refs = obj.get("object_marking_refs")
    if refs is not None:
        if not isinstance(refs, list):
            raise InvalidObject("'object_marking_refs' must be a list of marking-definition ids")
        for r in refs:
            if not isinstance(r, str):
                raise InvalidObject("'object_marking_refs' must be a list of marking-definition ids")
            if not _is_marking_ref(r):
                raise InvalidObject(_bad_marking_ref("'object_marking_refs' entry", r))
    if "granular_markings" in obj:
        _check_granular(obj["granular_markings"])
    if stype == "indicator":
        _check_indicator(obj)
    if stype == "marking-definition" and "definition_type" not in obj and "extensions" not in obj:
        raise InvalidObject("a marking-definition needs 'definition_type' and 'definition', or 'extensions'")
    spec_version = "2.1"
    if modified_us is not None:
        return sid, stype, spec_version, obj["modified"], modified_us, blob
    if created_us is not None:
        return sid, stype, spec_version, obj["created"], created_us, blob
    return sid, stype, spec_version, None, None, blob


# A feed repeats a handful of author and marking ids on every object: remembering the verdicts
# spares a regular-expression match per id and object. Only strings that could be identifiers (at
# most 288 characters: a 250-character type, "--" and a UUID) are remembered, so memory stays bounded.
def _is_identifier(ref: str) -> bool:
    return len(ref) <= 288 and _identifier_verdict(ref)


def _is_marking_ref(ref: str) -> bool:
    return len(ref) == 56 and _marking_verdict(ref)  # "marking-definition--" and a UUID


@lru_cache(maxsize=4096)
def _identifier_verdict(ref: str) -> bool:
    return IDENTIFIER_RE.match(ref) is not None


@lru_cache(maxsize=4096)
def _marking_verdict(ref: str) -> bool:
    return MARKING_REF_RE.match(ref) is not None


def _check_json(obj: dict[str, Any]) -> bytes:
    """Refuse an object nested deeper than MAX_DEPTH, or holding a NUL character in a key or string.

    One orjson pass does both cheaply for ordinary objects: nesting needs at least as many '{' and '['
    as levels, and a NUL is always written as the escape ``\\u0000``. Only objects that the bytes do not
    clear are walked.
    """
    try:
        blob = orjson.dumps(obj)
    except orjson.JSONEncodeError:
        raise InvalidObject(f"the object is nested deeper than {MAX_DEPTH} levels") from None
    if blob.count(b"{") + blob.count(b"[") > MAX_DEPTH and _depth(obj) > MAX_DEPTH:
        raise InvalidObject(f"the object is nested deeper than {MAX_DEPTH} levels")
    if b"\\u0000" in blob and _holds_nul(obj):
        raise InvalidObject("the object holds a NUL character (\\u0000) in a property name or a string")
    return blob


def _depth(value: Any) -> int:
    """Levels of JSON objects and arrays in a value (iterative: it must not hit Python's recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, level = stack.pop()
        if isinstance(v, dict):
            items: Any = v.values()
        elif isinstance(v, list):
            items = v
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((x, level + 1) for x in items)
    return deepest


def _holds_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return True
        elif isinstance(v, dict):
            if any("\x00" in k for k in v):
                return True
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _check_granular(granular: Any) -> None:
    """STIX 2.1 section 7.2.3: a non-empty list of {marking_ref | lang, selectors: [str, ...]}."""
    if not isinstance(granular, list) or not granular:
        raise InvalidObject("'granular_markings' must be a non-empty list of granular markings")
    for i, entry in enumerate(granular):
        where = f"'granular_markings' entry {i}"
        if not isinstance(entry, dict):
            raise InvalidObject(f"{where} must be an object with 'marking_ref' or 'lang', and 'selectors'")
        ref, lang = entry.get("marking_ref"), entry.get("lang")
        if (ref is None) == (lang is None):
            raise InvalidObject(f"{where} needs exactly one of 'marking_ref' and 'lang'")
        if ref is not None and (not isinstance(ref, str) or not MARKING_REF_RE.match(ref)):
            raise InvalidObject(_bad_marking_ref(f"{where}: 'marking_ref'", ref))
        if lang is not None and not isinstance(lang, str):
            raise InvalidObject(f"{where}: 'lang' must be a language tag, not {_show(lang)}")
        selectors = entry.get("selectors")
        if (
            not isinstance(selectors, list)
            or not selectors
            or not all(isinstance(x, str) and x for x in selectors)
        ):
            raise InvalidObject(f"{where}: 'selectors' must be a non-empty list of property paths")
        for x in selectors:
            if parse_selector(x) is None:
                raise InvalidObject(
                    f"{where}: selector {_show(x)} is not a STIX 2.1 selector (section 7.2.3.1: property "
                    "names and [index] parts joined by dots)"
                )


def _bad_marking_ref(where: str, ref: Any) -> str:
    # a TLP id in another spelling would be read as an unknown marking, and the object as unmarked
    return (
        f"{where} {_show(ref)} is not a canonical marking-definition identifier "
        "(marking-definition--<uuid>, lowercase, no spaces)"
    )


def _check_indicator(obj: dict[str, Any]) -> None:
    pattern, ptype = obj.get("pattern"), obj.get("pattern_type")
    if not isinstance(pattern, str) or not pattern:
        raise InvalidObject("'pattern' must be a non-empty string")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidObject(
            f"'pattern' is {len(pattern)} characters long; this hub accepts patterns of at most "
            f"{MAX_PATTERN_LENGTH}"
        )
    if ptype == "stix" and not SIMPLE_PATTERN.match(pattern):
        terms = len(PATTERN_TERM_RE.findall(pattern)) + 1
        if terms > MAX_PATTERN_TERMS:
            raise InvalidObject(
                f"'pattern' joins {terms} comparisons; this hub accepts patterns of at most "
                f"{MAX_PATTERN_TERMS}"
            )
        problem = stix_pattern_error(pattern)
        if problem:
            raise InvalidObject(f"'pattern' is not a valid STIX pattern: {problem}")
    if "valid_until" in obj and timestamp_us(obj["valid_until"], "valid_until") <= timestamp_us(
        obj["valid_from"], "valid_from"
    ):
        raise InvalidObject("'valid_until' must be later than 'valid_from'")


@lru_cache(maxsize=8192)
def stix_pattern_error(pattern: str) -> str | None:
    """The stix2-patterns parser's complaint about a pattern, or None when it is valid."""
    from stix2patterns.validator import run_validator

    try:
        errors = run_validator(pattern, stix_version="2.1")
    except Exception as exc:  # the ANTLR layer raises assorted errors on hostile input
        return str(exc) or type(exc).__name__
    return "; ".join(errors) if errors else None
