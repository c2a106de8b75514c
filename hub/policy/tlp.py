"""How a marking reference is read: the TLP level of a marking definition, and an object's effective TLP.

The levels, their names and the TLP 1.0 / 2.0 marking definitions are the vocabulary's (`hub.vocab.tlp`),
re-exported here for the policy's callers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from hub.vocab.tlp import (
    OPENCTI_AMBER_STRICT_ID,
    TLP1_IDS,
    TLP2_EXTENSION_ID,
    TLP2_IDS,
    TLP_FAMILY_BY_ID,
    TLP_LEVEL_BY_ID,
    Tlp,
    marking_definition,
    marking_ids,
)

__all__ = [
    "OPENCTI_AMBER_STRICT_ID",
    "TLP1_IDS",
    "TLP2_EXTENSION_ID",
    "TLP2_IDS",
    "TLP_LEVEL_BY_ID",
    "MarkingConflict",
    "MarkingIndex",
    "Tlp",
    "classify_marking",
    "effective_tlp",
    "marking_definition",
    "marking_ids",
    "tlp_of_ref",
]


class MarkingConflict(ValueError):
    """A marking definition that cannot be trusted for TLP: a known id with contradicting content."""

    def __init__(self, marking_id: str, reason: str) -> None:
        super().__init__(reason)
        self.marking_id = marking_id
        self.reason = reason


def _parse_claim(marking_id: str, where: str, value: object) -> Tlp:
    if isinstance(value, str):
        try:
            return Tlp.parse(value)
        except ValueError:
            pass
    raise MarkingConflict(
        marking_id, f"{marking_id} is a TLP marking but its {where} {value!r} is no TLP level"
    )


def _content_claims(marking_id: str, md: Mapping[str, Any]) -> list[tuple[str, Tlp]]:
    """Every TLP level the body of `md` asserts, with where it says so.

    Recognised: TLP 2.0 (`extensions[TLP2_EXTENSION_ID].tlp_2_0`); TLP 1.0 (`definition_type` "tlp" in any
    case, level under `definition.tlp` / `definition.TLP`, so OpenCTI's "TLP:CLEAR" and "TLP:AMBER+STRICT"
    bodies read too); OpenCTI's statement form (`x_opencti_definition_type: "TLP"` with
    `x_opencti_definition: "TLP:..."`); `definition_type: "TLP:AMBER"` as some TLP 2.0 producers write it.
    The `name` is free text for people and never decides a level: a statement named "TLP:GREEN" with an
    unknown id is not a TLP marking, since anyone can write that name on any statement.
    """
    claims: list[tuple[str, Tlp]] = []
    extensions = md.get("extensions")
    if isinstance(extensions, Mapping):
        tlp2 = extensions.get(TLP2_EXTENSION_ID)
        if isinstance(tlp2, Mapping) and "tlp_2_0" in tlp2:
            claims.append(("tlp_2_0", _parse_claim(marking_id, "tlp_2_0", tlp2["tlp_2_0"])))
    definition_type = md.get("definition_type")
    if isinstance(definition_type, str):
        dtype = definition_type.strip().lower()
        if dtype == "tlp":
            definition = md.get("definition")
            values = (
                [v for k, v in definition.items() if isinstance(k, str) and k.lower() == "tlp"]
                if isinstance(definition, Mapping)
                else []
            )
            if not values:
                raise MarkingConflict(
                    marking_id, f"{marking_id} has definition_type tlp but no definition.tlp"
                )
            claims.extend(("definition.tlp", _parse_claim(marking_id, "definition.tlp", v)) for v in values)
        elif dtype.startswith("tlp:"):
            claims.append(("definition_type", _parse_claim(marking_id, "definition_type", definition_type)))
    opencti_type = md.get("x_opencti_definition_type")
    if isinstance(opencti_type, str) and opencti_type.strip().lower() == "tlp":
        value = md.get("x_opencti_definition")
        claims.append(("x_opencti_definition", _parse_claim(marking_id, "x_opencti_definition", value)))
    return claims


def _classify(marking_id: str, md: Mapping[str, Any]) -> Tlp | None:
    claims = _content_claims(marking_id, md)
    known = TLP_LEVEL_BY_ID.get(marking_id)
    if known is not None:
        for where, level in claims:
            if level is not known:
                raise MarkingConflict(
                    marking_id,
                    f"{marking_id} is the {TLP_FAMILY_BY_ID[marking_id]} {known.label} marking "
                    f"but its {where} says {level.label}",
                )
        return known
    if not claims:
        return None
    first_where, first = claims[0]
    for where, level in claims[1:]:
        if level is not first:
            raise MarkingConflict(
                marking_id, f"{marking_id} says {first.label} in {first_where} but {level.label} in {where}"
            )
    return first


def classify_marking(md: Mapping[str, Any]) -> Tlp | None:
    """The TLP level of a marking-definition object, or None when it is not a TLP marking.

    A known TLP 1.0 / 2.0 / OpenCTI id decides the level; its body may repeat the same level (OpenCTI's
    WHITE id with a TLP:CLEAR body is CLEAR) or say nothing about TLP, but a body claiming another level
    raises MarkingConflict. An unknown id is read by content alone.
    """
    marking_id = md.get("id")
    return _classify(marking_id if isinstance(marking_id, str) else "marking-definition (no id)", md)


_MISSING: Final = object()


class MarkingIndex(Mapping[str, Mapping[str, Any]]):
    """Marking definitions by id, each classified once: build one per envelope (plus stored markings).

    effective_tlp and the granular functions accept any Mapping of definitions; given a MarkingIndex they
    skip re-reading definition bodies, which keeps per-object work to a dict lookup per marking ref.
    A conflicting definition does not stop the index being built: it is refused for the objects that
    reference it (and the rest of the envelope goes through).
    """

    __slots__ = ("_conflicts", "_definitions", "_levels")

    def __init__(
        self, definitions: Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]] = ()
    ) -> None:
        items: Iterable[tuple[Any, Mapping[str, Any]]]
        if isinstance(definitions, Mapping):
            items = definitions.items()
        else:
            items = ((md.get("id"), md) for md in definitions)
        self._definitions: dict[str, Mapping[str, Any]] = {}
        self._levels: dict[str, Tlp | None] = dict(TLP_LEVEL_BY_ID)
        self._conflicts: dict[str, MarkingConflict] = {}
        for marking_id, md in items:
            if not isinstance(marking_id, str):
                continue
            self._definitions[marking_id] = md
            try:
                self._levels[marking_id] = _classify(marking_id, md)
                self._conflicts.pop(marking_id, None)
            except MarkingConflict as exc:
                self._levels.pop(marking_id, None)
                self._conflicts[marking_id] = exc

    def __getitem__(self, key: str) -> Mapping[str, Any]:
        return self._definitions[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._definitions)

    def __len__(self) -> int:
        return len(self._definitions)

    @property
    def conflicts(self) -> Mapping[str, MarkingConflict]:
        """The definitions refused, by id."""
        return self._conflicts

    def level(self, ref: str) -> Tlp | None:
        """The TLP level of a marking ref; None for non-TLP or unknown refs; MarkingConflict if refused."""
        level = self._levels.get(ref, _MISSING)
        if level is _MISSING:
            conflict = self._conflicts.get(ref)
            if conflict is not None:
                raise MarkingConflict(conflict.marking_id, conflict.reason)
            return None
        return level  # type: ignore[return-value]


def tlp_of_ref(ref: str, known: Mapping[str, Mapping[str, Any]]) -> Tlp | None:
    """The TLP level of marking ref `ref`: the built-in table first, then the definitions in `known`.

    A built-in id whose definition is also in `known` is checked against it (MarkingConflict on a
    contradiction). A ref that is neither built in nor in `known` is not treated as TLP: None.
    """
    if type(known) is MarkingIndex:
        return known.level(ref)
    md = known.get(ref) if known else None
    if md is None:
        return TLP_LEVEL_BY_ID.get(ref)
    return _classify(ref, md)


def effective_tlp(obj: Mapping[str, Any], *, markings: Mapping[str, Mapping[str, Any]], default: Tlp) -> Tlp:
    """DESIGN TLP rule 1: the highest TLP among `object_marking_refs`; `default` when none is TLP.

    Non-TLP markings (statements, PAP, copyright) do not count towards the level and stay on the object.
    Raises MarkingConflict when a ref points at a known TLP id whose definition contradicts it.
    """
    refs = obj.get("object_marking_refs")
    if not refs:
        return default
    best: Tlp | None = None
    if type(markings) is MarkingIndex:
        level_of = markings.level
        for ref in refs:
            level = level_of(ref)
            if level is not None and (best is None or level > best):
                best = level
    elif not markings:
        get = TLP_LEVEL_BY_ID.get
        for ref in refs:
            level = get(ref)
            if level is not None and (best is None or level > best):
                best = level
    else:
        for ref in refs:
            level = tlp_of_ref(ref, markings)
            if level is not None and (best is None or level > best):
                best = level
    return default if best is None else best
