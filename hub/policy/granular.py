"""STIX 2.1 granular markings: the TLP of required and optional properties, and redaction."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from hub.policy.tlp import MarkingIndex, Tlp, effective_tlp, tlp_of_ref

__all__ = [
    "REQUIRED_PROPERTIES",
    "GranularLevels",
    "analyse",
    "redact",
    "required_properties",
    "storage_levels",
]

# Present on every object, or structural: removing them would change what the object is or how it is
# marked (dropping `object_marking_refs` would lower its TLP), so a selector above clearance on any of
# them withholds the object.
_STRUCTURAL: Final = frozenset(
    {"type", "id", "spec_version", "created", "modified", "object_marking_refs", "granular_markings"}
)

# STIX 2.1 required properties per type, beyond the structural ones (spec sections 4, 5, 6).
# Conditionally required properties (location's region/country/latitude, file's name/hashes) count as
# optional: removing one leaves an object a consumer can still read, which is the point of redaction.
REQUIRED_BY_TYPE: Final[Mapping[str, tuple[str, ...]]] = {
    # SDOs
    "attack-pattern": ("name",),
    "campaign": ("name",),
    "course-of-action": ("name",),
    "grouping": ("context", "object_refs"),
    "identity": ("name",),
    "incident": ("name",),
    "indicator": ("pattern", "pattern_type", "valid_from"),
    "infrastructure": ("name",),
    "intrusion-set": ("name",),
    "location": (),
    "malware": ("is_family",),
    "malware-analysis": ("product",),
    "note": ("content", "object_refs"),
    "observed-data": ("first_observed", "last_observed", "number_observed"),
    "opinion": ("opinion", "object_refs"),
    "report": ("name", "published", "object_refs"),
    "threat-actor": ("name",),
    "tool": ("name",),
    "vulnerability": ("name",),
    # SROs
    "relationship": ("relationship_type", "source_ref", "target_ref"),
    "sighting": ("sighting_of_ref",),
    # meta objects
    "language-content": ("object_ref", "object_modified", "contents"),
    "marking-definition": ("definition_type", "definition", "extensions", "name"),
    "extension-definition": ("name", "schema", "version", "extension_types"),
    # SCOs
    "artifact": (),
    "autonomous-system": ("number",),
    "directory": ("path",),
    "domain-name": ("value",),
    "email-addr": ("value",),
    "email-message": ("is_multipart",),
    "file": (),
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "network-traffic": ("protocols",),
    "process": (),
    "software": ("name",),
    "url": ("value",),
    "user-account": (),
    "windows-registry-key": (),
    "x509-certificate": (),
}

REQUIRED_PROPERTIES: Final[Mapping[str, frozenset[str]]] = {
    t: _STRUCTURAL | frozenset(props) for t, props in REQUIRED_BY_TYPE.items()
}


def required_properties(stix_type: str) -> frozenset[str]:
    """Top-level properties of `stix_type` whose loss withholds the object (unknown types: structural)."""
    return REQUIRED_PROPERTIES.get(stix_type, _STRUCTURAL)


class GranularLevels(NamedTuple):
    """Highest TLP of granular markings on required and on optional properties (None: none is TLP)."""

    required: Tlp | None
    optional: Tlp | None


_NONE: Final = GranularLevels(None, None)

# Built-in TLP ids need no definitions, so callers without an envelope at hand may omit `markings`.
_NO_MARKINGS: Final[Mapping[str, Mapping[str, Any]]] = MappingProxyType({})


def _max(a: Tlp | None, b: Tlp) -> Tlp:
    return b if a is None or b > a else a


def _top(selector: str) -> str:
    return selector.split(".", 1)[0]


def analyse(
    obj: Mapping[str, Any], markings: Mapping[str, Mapping[str, Any]] = _NO_MARKINGS
) -> GranularLevels:
    """The highest TLP on selectors hitting required and optional properties of `obj`.

    A selector counts by its top-level property: `object_refs.[3]` is required on a report,
    `kill_chain_phases.[0].phase_name` optional on an indicator. `lang` entries and non-TLP markings do
    not count. Raises MarkingConflict for a ref to a contradicted known TLP id.
    """
    granular = obj.get("granular_markings")
    if not granular:
        return _NONE
    required_props = required_properties(obj.get("type", ""))
    required: Tlp | None = None
    optional: Tlp | None = None
    for entry in granular:
        ref = entry.get("marking_ref")
        if not ref:
            continue
        level = tlp_of_ref(ref, markings)
        if level is None:
            continue
        for selector in entry.get("selectors", ()):
            if _top(selector) in required_props:
                required = _max(required, level)
            else:
                optional = _max(optional, level)
    return GranularLevels(required, optional)


def storage_levels(
    obj: Mapping[str, Any], *, markings: Mapping[str, Mapping[str, Any]], default: Tlp
) -> tuple[Tlp, Tlp | None]:
    """The (tlp, redact_tlp) columns of a stored object version.

    `tlp` is what a reader's clearance must reach to see the object at all: its effective TLP raised by
    granular markings on required properties. `redact_tlp` is the highest granular TLP on optional
    properties when it is above `tlp` (else None): readers below it get `redact(...)`'s copy.
    Raises MarkingConflict.
    """
    tlp = effective_tlp(obj, markings=markings, default=default)
    levels = analyse(obj, markings)
    if levels.required is not None and levels.required > tlp:
        tlp = levels.required
    redact_tlp = levels.optional if levels.optional is not None and levels.optional > tlp else None
    return tlp, redact_tlp


# A parsed selector: dict keys (str) and list indices (int).
_Path = tuple[str | int, ...]


def parse_selector(selector: str) -> _Path | None:
    """A STIX 2.1 selector as a path of keys and indices; None when it is not one."""
    parts: list[str | int] = []
    for segment in selector.split("."):
        if segment.startswith("[") and segment.endswith("]"):
            try:
                parts.append(int(segment[1:-1]))
            except ValueError:
                return None
        elif segment:
            parts.append(segment)
        else:
            return None
    return tuple(parts) if parts and isinstance(parts[0], str) else None


def _cut(path: _Path) -> _Path:
    """What to remove for a selector: the path itself, or the whole list item it reaches into.

    STIX sub-objects in lists (external-reference, kill-chain-phase) have their own required keys, so a
    half item would be invalid; the item goes as a whole.
    """
    for i, part in enumerate(path):
        if isinstance(part, int) and i + 1 < len(path):
            return path[: i + 1]
    return path


def _exists(obj: Any, path: _Path) -> bool:
    node = obj
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or not 0 <= part < len(node):
                return False
        elif not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _is_under(path: _Path, removed: set[_Path]) -> bool:
    return any(path[:n] in removed for n in range(1, len(path) + 1))


def _remove(obj: dict[str, Any], removed: set[_Path]) -> set[_Path]:
    """Delete `removed` paths from `obj` (a private copy); returns paths emptied and so deleted too."""
    emptied: set[_Path] = set()
    # Deepest and highest index first, so earlier deletions never shift a later target.
    for path in sorted(
        removed, key=lambda p: (len(p), p[-1] if isinstance(p[-1], int) else -1), reverse=True
    ):
        parents: list[Any] = [obj]
        node: Any = obj
        for part in path[:-1]:
            node = node[part]
            parents.append(node)
        del node[path[-1]]
        # STIX forbids empty lists and dicts: drop containers the removal emptied.
        depth = len(path) - 1
        while depth > 0 and not parents[depth]:
            container_path = path[:depth]
            del parents[depth - 1][path[depth - 1]]
            emptied.add(container_path)
            depth -= 1
    return emptied


def _reindex(path: _Path, removed_items: Mapping[_Path, list[int]]) -> _Path:
    """`path` after removing list items: each index drops by the removed siblings before it."""
    out: list[str | int] = []
    for i, part in enumerate(path):
        if isinstance(part, int):
            gone = removed_items.get(path[:i])
            if gone:
                part -= sum(1 for g in gone if g < part)
        out.append(part)
    return tuple(out)


def _format(path: _Path) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path)


def redact(
    obj: Mapping[str, Any], clearance: Tlp, markings: Mapping[str, Mapping[str, Any]] = _NO_MARKINGS
) -> dict[str, Any] | None:
    """DESIGN TLP rule 5: `obj` as a reader or destination cleared to `clearance` may receive it.

    Optional content granularly marked above `clearance` is removed (a property, a nested key, or the
    list item a selector reaches into); granular_markings entries for removed content go too, and list
    indices in the remaining selectors are renumbered. None (withhold) when a required property is marked
    above `clearance`. Only granular markings are looked at: the object-level rule is may_read /
    visible_clause. The input is never modified; it is returned as is when nothing needs removing.
    Raises MarkingConflict.
    """
    granular = obj.get("granular_markings")
    if not granular:
        return obj if isinstance(obj, dict) else dict(obj)
    if type(markings) is not MarkingIndex and markings:
        markings = MarkingIndex(markings)
    required_props = required_properties(obj.get("type", ""))
    removed: set[_Path] = set()
    for entry in granular:
        ref = entry.get("marking_ref")
        if not ref:
            continue
        level = tlp_of_ref(ref, markings)
        if level is None or level <= clearance:
            continue
        for selector in entry.get("selectors", ()):
            if _top(selector) in required_props:
                return None
            path = parse_selector(selector)
            # A selector that hits nothing marks nothing; one we cannot parse we cannot honour: withhold.
            if path is None:
                return None
            if _exists(obj, path):
                removed.add(_cut(path))
    if not removed:
        return obj if isinstance(obj, dict) else dict(obj)
    # Drop paths under another removed path: removing the parent covers them.
    removed = {p for p in removed if not _is_under(p[:-1], removed)}
    out: dict[str, Any] = dict(obj)
    for top in {str(p[0]) for p in removed}:  # a selector's first step is always a property name
        out[top] = copy.deepcopy(out[top])
    emptied = _remove(out, removed)
    gone = removed | emptied
    removed_items: dict[_Path, list[int]] = {}
    for p in removed:
        if isinstance(p[-1], int):
            removed_items.setdefault(p[:-1], []).append(p[-1])
    kept_entries = []
    for entry in granular:
        selectors = []
        for selector in entry.get("selectors", ()):
            path = parse_selector(selector)
            if path is None:
                selectors.append(selector)
            elif not _is_under(path, gone):
                selectors.append(_format(_reindex(path, removed_items)))
        if selectors:
            kept_entries.append({**entry, "selectors": selectors})
    if kept_entries:
        out["granular_markings"] = kept_entries
    else:
        del out["granular_markings"]
    return out
